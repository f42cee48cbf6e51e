package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

func newKeysCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:     "keys",
		Aliases: []string{"key"},
		Short:   "Create, list, show, update, rotate and revoke API keys, and chart their use",
		Long: `Manage the API keys of a running Keyward server through its HTTP API.

Every command needs an admin key: set KEYWARD_TOKEN (or pass --token), or store one with
'keyward login'. The server is KEYWARD_URL (or --url, or the profile's),
http://127.0.0.1:8080 by default. A key's secret is printed only by
'keys create' and 'keys rotate', once; the server keeps only a hash of it. Everything else
shows a key by its public prefix and last four characters.

Add -o json (or --json) to any command for the API's own JSON instead of tables, or -o yaml
for the same as YAML.`,
		Example: `  export KEYWARD_URL=https://keyward.example.com KEYWARD_TOKEN=kwadmin_...
  keyward keys create --project $PROJECT_ID --name "billing worker" --scope invoices:read
  keyward keys list --project $PROJECT_ID --status active
  keyward keys rotate $KEY_ID --grace 1h
  keyward keys usage $KEY_ID --since 6h
  keyward keys revoke --yes $KEY_ID`,
	}
	conn.registerFlags(cmd)
	cmd.AddCommand(
		newKeysCreateCmd(conn),
		newKeysListCmd(conn),
		newKeysGetCmd(conn),
		newKeysUpdateCmd(conn),
		newKeysRevokeCmd(conn),
		newKeysRotateCmd(conn),
		newKeysUsageCmd(conn),
		newKeysImportCmd(conn),
		newKeysReportLeakCmd(conn),
	)
	return cmd
}

// expiryFlags are --expires-at and --expires-in, two ways to say when a key expires.
type expiryFlags struct {
	at string
	in time.Duration
}

func (e *expiryFlags) register(cmd *cobra.Command, what string) {
	f := cmd.Flags()
	f.StringVar(&e.at, "expires-at", "", what+" expires at this RFC 3339 time, e.g. 2026-12-31T23:59:59Z")
	f.DurationVar(&e.in, "expires-in", 0, what+" expires this long from now, as a Go duration, e.g. 720h for 30 days")
	cmd.MarkFlagsMutuallyExclusive("expires-at", "expires-in")
}

// value is the expiry the flags ask for, nil when neither was given.
func (e *expiryFlags) value(cmd *cobra.Command, now time.Time) (*time.Time, error) {
	switch {
	case cmd.Flags().Changed("expires-at"):
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(e.at))
		if err != nil {
			return nil, fmt.Errorf("invalid --expires-at %q: want an RFC 3339 time such as 2026-12-31T23:59:59Z", e.at)
		}
		if !t.After(now) {
			return nil, fmt.Errorf("invalid --expires-at %s: it is in the past", e.at)
		}
		t = t.UTC()
		return &t, nil
	case cmd.Flags().Changed("expires-in"):
		if e.in <= 0 {
			return nil, fmt.Errorf("invalid --expires-in %v: want a positive duration such as 720h", e.in)
		}
		t := now.Add(e.in).UTC().Truncate(time.Second)
		return &t, nil
	}
	return nil, nil
}

// parseMetadata reads --metadata, which must be one JSON object. Numbers keep their exact
// digits.
func parseMetadata(s string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	err := dec.Decode(&m)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err != nil || m == nil {
		return nil, fmt.Errorf(`invalid --metadata: want one JSON object such as '{"team":"billing"}'`)
	}
	return m, nil
}

// parseRotationGrace reads --rotation-grace: whole seconds from 0 to client.MaxGracePeriod.
func parseRotationGrace(d time.Duration) (*int, error) {
	if d < 0 || d > client.MaxGracePeriod || d%time.Second != 0 {
		return nil, fmt.Errorf("invalid --rotation-grace %v: want whole seconds from 0s to %v (30 days)", d, client.MaxGracePeriod)
	}
	secs := int(d / time.Second)
	return &secs, nil
}

func validateRotationDays(days int) error {
	if days < 0 {
		return fmt.Errorf("invalid --rotation-days %d: want 0 (no schedule) or more", days)
	}
	return nil
}

// oneKeyID accepts exactly one argument, a key ID.
func oneKeyID(_ *cobra.Command, args []string) error {
	if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
		return fmt.Errorf("want exactly one key ID, got %d arguments", len(args))
	}
	return nil
}

// parseTier reads --tier: any tier name, built-in or the account's own; the server knows
// which exist.
func parseTier(s string) (client.RateLimitTier, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return "", errors.New("invalid --tier: it may not be blank; 'keyward tiers list' shows the tiers")
	}
	return client.RateLimitTier(t), nil
}

// parseProjectAccesses reads the --project-access values, each PROJECT:ROLE.
func parseProjectAccesses(values []string) ([]client.ProjectAccess, error) {
	var out []client.ProjectAccess
	for _, v := range values {
		project, role, ok := strings.Cut(v, ":")
		project, role = strings.TrimSpace(project), strings.TrimSpace(role)
		if !ok || project == "" || role == "" {
			return nil, fmt.Errorf("invalid --project-access %q: want PROJECT_ID:ROLE, e.g. $PROJECT_ID:viewer", v)
		}
		out = append(out, client.ProjectAccess{ProjectID: project, RoleID: role})
	}
	return out, nil
}

func newKeysCreateCmd(conn *apiConn) *cobra.Command {
	var (
		params   client.CreateKeyParams
		expiry   expiryFlags
		metadata string
		tier     string
		accesses []string
		limit    rateLimitFlags
		credits  creditFlags
		grace    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "create --name NAME [--project ID] [flags]",
		Short: "Create an API key and print its secret once",
		Long: `Create an API key and print it, secret included. With --project the key belongs to that
project and starts with its key prefix; without it the key is an account key, which belongs
to no project and starts with the account's key prefix.

The secret is shown only this once: the server stores a hash, not the key. Store it now, in a
secret manager or your service's configuration. With --json the secret is the "key" field.

A key carries scopes (checked on verification with required scopes), an optional expiry, an
optional environment, a rotation schedule with a webhook to call when it is due, and metadata:
any JSON object, returned with every verification of the key. A scheduled rotation sends the
new secret to --rotation-webhook, signed with a rotation webhook secret that is printed once,
beside the key's; the old key keeps working for --rotation-grace (default 7 days).

A key may also act for a user (--user: it then holds at most what the user holds, and stops
working when the user is disabled), hold an account-level role (--role, a role ID or a
built-in slug: owner, admin, member, viewer), and be a member of projects with a role in each
(--project-access PROJECT_ID:ROLE, repeatable).

A key is held to the rate limit of its tier: standard unless --tier names another ('keyward
tiers list'). A tier that requires approval, such as high, is given at once only by someone
with the api_keys.approve_high_tier permission; anyone else's key starts on standard with a
pending request, shown as TIER REQUEST, for 'keyward tiers approve'. --rate (with --burst,
--period, --quota and --quota-window) gives the key a limit of its own instead, which needs
the rate_limit_tiers.write permission. --credits makes the key fail with USAGE_EXCEEDED after
so many verifications; --refill daily or monthly sets them back to --refill-amount (default:
--credits) at 00:00 UTC, on --refill-day for monthly.`,
		Example: `  keyward keys create --project $PROJECT_ID --name "billing worker"
  keyward keys create --project $PROJECT_ID --env $ENV_ID --name ci \
      --scope deploy:write --scope logs:read --expires-in 720h
  keyward keys create --project $PROJECT_ID --name partner-acme --rotation-days 90 \
      --rotation-webhook https://hooks.example.com/keyward --metadata '{"customer":"acme"}'
  keyward keys create --name ada-laptop --user $USER_ID --role viewer \
      --project-access $PROJECT_ID:member --tier high
  keyward keys create --project $PROJECT_ID --name trial --credits 1000 --refill monthly --refill-day 1
  keyward keys create --project $PROJECT_ID --name scraper --rate 10 --period 1m --burst 5
  KEY=$(keyward keys create --project $PROJECT_ID --name tmp --json | jq -r .key)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(params.Name) == "" {
				return errors.New("invalid --name: it may not be blank")
			}
			var err error
			if cmd.Flags().Changed("tier") {
				if params.RateLimitTier, err = parseTier(tier); err != nil {
					return err
				}
			}
			if params.ProjectAccesses, err = parseProjectAccesses(accesses); err != nil {
				return err
			}
			if params.RateLimit, err = limit.value(cmd, nil); err != nil {
				return err
			}
			if params.Credits, err = credits.value(cmd); err != nil {
				return err
			}
			exp, err := expiry.value(cmd, time.Now())
			if err != nil {
				return err
			}
			params.ExpiresAt = exp
			if cmd.Flags().Changed("metadata") {
				if params.Metadata, err = parseMetadata(metadata); err != nil {
					return err
				}
			}
			if err := validateRotationDays(params.RotationIntervalDays); err != nil {
				return err
			}
			if cmd.Flags().Changed("rotation-grace") {
				if params.RotationGraceSeconds, err = parseRotationGrace(grace); err != nil {
					return err
				}
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.CreatedKey, error) {
				return kw.CreateKey(ctx, params)
			}, writeCreatedKey)
		},
	}
	f := cmd.Flags()
	f.StringVar(&params.ProjectID, "project", "", "project to create the key in (default: none, an account key)")
	f.StringVar(&params.Name, "name", "", "name that says who or what uses the key, 1-128 characters (required)")
	f.StringVar(&params.UserID, "user", "", "user the key acts for")
	f.StringVar(&params.RoleID, "role", "", "account-level role of the key: a role ID or a built-in slug")
	f.StringArrayVar(&accesses, "project-access", nil, "PROJECT_ID:ROLE: make the key a member of a project with a role; repeatable")
	f.StringVar(&tier, "tier", "", "rate limit tier: standard, high or one of the account's own (default standard)")
	f.StringSliceVar(&params.Scopes, "scope", nil, "scope the key grants; repeat the flag or separate with commas")
	f.StringSliceVar(&params.AllowedIPs, "allowed-ip", nil, "a network the key may be used from, as a CIDR range or an address (default: the account's networks); repeat the flag or separate with commas")
	f.StringVar(&params.EnvironmentID, "env", "", "environment the key belongs to")
	f.IntVar(&params.RotationIntervalDays, "rotation-days", 0, "rotate the key every this many days (0: no schedule)")
	f.StringVar(&params.RotationWebhookURL, "rotation-webhook", "", "URL a scheduled rotation sends the new secret to (signed with the rotation_webhook_secret printed once); without it the key is not rotated on schedule and api_key.rotation_due goes to the account's webhooks")
	f.DurationVar(&grace, "rotation-grace", 0, "how long the old key keeps working after a scheduled rotation, as a Go duration such as 24h (at most 720h; default: the server's, 168h)")
	f.StringVar(&metadata, "metadata", "", `JSON object returned with every verification, e.g. '{"team":"billing"}'`)
	limit.register(cmd, "the key")
	credits.register(cmd)
	expiry.register(cmd, "the key")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.RegisterFlagCompletionFunc("tier", tierCompletion)
	return cmd
}

// tierCompletion offers the built-in tiers; --tier takes any of the account's too.
var tierCompletion = cobra.FixedCompletions(
	[]cobra.Completion{string(client.TierStandard), string(client.TierHigh)}, cobra.ShellCompDirectiveNoFileComp)

func writeCreatedKey(w io.Writer, k *client.CreatedKey) error {
	if k.ProjectID == "" {
		fmt.Fprintf(w, "Created account key %s (%q).\n\n", k.ID, k.Name)
	} else {
		fmt.Fprintf(w, "Created key %s (%q) in project %s.\n\n", k.ID, k.Name, k.ProjectID)
	}
	if err := writeKeyDetails(w, &k.Key); err != nil {
		return err
	}
	writeSecret(w, k.Secret)
	writeRotationWebhookSecret(w, k.RotationWebhookSecret)
	return nil
}

// writeRotationWebhookSecret prints a key's rotation webhook secret when the answer carries
// one: the server shows it only in the answer that made it.
func writeRotationWebhookSecret(w io.Writer, secret string) {
	if secret != "" {
		fmt.Fprintf(w, "Rotation webhook signing secret (store it now, it will not be shown again):\n\n    %s\n\n", secret)
	}
}

func newKeysListCmd(conn *apiConn) *cobra.Command {
	var (
		filter client.ListKeysParams
		status string
		page   pageFlags
	)
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "List API keys, without their secrets",
		Long: `List the account's API keys, optionally only those of one project, one
environment, one user or one status. Keys show their public prefix and last four characters, never the
secret.

One page is printed; when there are more, a hint with the next cursor goes to stderr. --all
follows the cursors and prints every key. With --json the output is a JSON array.`,
		Example: `  keyward keys list
  keyward keys list --project $PROJECT_ID --env $ENV_ID --status active
  keyward keys list --project $PROJECT_ID --all --json | jq -r '.[].id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch client.KeyStatus(status) {
			case "", client.StatusActive, client.StatusRevoked, client.StatusExpired:
				filter.Status = client.KeyStatus(status)
			default:
				return fmt.Errorf("invalid --status %q: want active, revoked or expired", status)
			}
			filter.Limit, filter.Cursor = page.limit, page.cursor // checked by runList
			return runList(cmd, conn, &page,
				func(kw *client.Client) iter.Seq2[*client.Key, error] { return kw.AllKeys(cmd.Context(), filter) },
				func(kw *client.Client) (*client.Page[*client.Key], error) { return kw.ListKeys(cmd.Context(), filter) },
				"keys", "No keys.", writeKeysTable)
		},
	}
	f := cmd.Flags()
	f.StringVar(&filter.ProjectID, "project", "", "only keys of this project")
	f.StringVar(&filter.EnvironmentID, "env", "", "only keys of this environment")
	f.StringVar(&filter.UserID, "user", "", "only keys that act for this user")
	f.StringVar(&status, "status", "", "only keys in this state: active, revoked or expired")
	page.register(cmd, "keys")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(
		[]cobra.Completion{"active", "revoked", "expired"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func newKeysGetCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:     "get KEY_ID",
		Aliases: []string{"show"},
		Short:   "Show one API key, without its secret",
		Long: `Show every detail of one API key: status, scopes, metadata, expiry, last use, rotation
schedule and, for a rotated key, its successor and the end of its grace period. The secret is
never shown; the key is identified by its public prefix and last four characters.`,
		Example: `  keyward keys get $KEY_ID
  keyward keys get $KEY_ID --json | jq .metadata`,
		Args: oneKeyID,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Key, error) {
				return kw.GetKey(ctx, args[0])
			}, writeKeyDetails)
		},
	}
}

// updateFlags are the flags of 'keys update' that change something; one is needed.
var updateFlags = []string{
	"name", "scope", "clear-scopes", "allowed-ip", "clear-allowed-ips", "expires-at", "expires-in", "clear-expiry",
	"metadata", "clear-metadata", "rotation-days", "rotation-webhook", "clear-rotation-webhook",
	"rotate-webhook-secret", "rotation-grace", "clear-rotation-grace",
	"role", "clear-role", "tier", "rate", "period", "burst", "quota", "quota-window", "no-rate-limit",
	"credits", "no-credits",
}

func newKeysUpdateCmd(conn *apiConn) *cobra.Command {
	var (
		name, metadata, webhook string
		role, tier              string
		scopes, allowedIPs      []string
		rotationDays            int
		grace                   time.Duration
		rotateWebhookSecret     bool
		expiry                  expiryFlags
		limit                   rateLimitFlags
		credits                 creditFlags
		clearFlags              struct{ scopes, allowedIPs, expiry, metadata, webhook, grace, role, rateLimit, credits bool }
	)
	cmd := &cobra.Command{
		Use:   "update KEY_ID [flags]",
		Short: "Change an API key's name, scopes, expiry, metadata, rotation, role, tier, limit or credits",
		Long: `Change some settings of an API key and leave the others as they are. The secret does not
change; use 'keys rotate' for a new one.

--scope replaces the whole scope set (repeat it for several scopes); --clear-scopes removes
them all. --clear-expiry makes the key never expire, --clear-metadata removes its metadata,
--rotation-days 0 removes its rotation schedule, --clear-rotation-webhook its webhook.
A new --rotation-webhook, or --rotate-webhook-secret, gets a new rotation webhook signing
secret, printed once. --rotation-grace sets how long the old key keeps working after a
scheduled rotation; --clear-rotation-grace goes back to the server's default (7 days).

--role sets the key's account-level role (a role ID or a built-in slug) and --clear-role
removes it. A key's user and project accesses are fixed when it is created: add it to or
remove it from projects with 'keyward members'.

--tier moves the key to another tier; one that requires approval becomes a pending request
(TIER REQUEST) unless you may approve it. --rate, --burst, --period, --quota and
--quota-window change the key's own limit (those not given stay as they are) and
--no-rate-limit puts it back on its tier's. --credits replaces its usage credits, refill
included (--refill, --refill-amount, --refill-day as on create), and --no-credits stops
counting its use. Credits are shared with the keys it was rotated from and into.`,
		Example: `  keyward keys update $KEY_ID --name "billing worker (legacy)"
  keyward keys update $KEY_ID --scope invoices:read --scope invoices:write
  keyward keys update $KEY_ID --expires-in 168h
  keyward keys update $KEY_ID --clear-expiry --metadata '{"owner":"team-billing"}'
  keyward keys update $KEY_ID --rotation-days 0 --clear-rotation-webhook
  keyward keys update $KEY_ID --rotate-webhook-secret --rotation-grace 24h
  keyward keys update $KEY_ID --role viewer --tier standard
  keyward keys update $KEY_ID --rate 100 --burst 200
  keyward keys update $KEY_ID --credits 5000 --refill daily
  keyward keys update $KEY_ID --no-rate-limit --no-credits`,
		Args: oneKeyID,
		RunE: func(cmd *cobra.Command, args []string) error {
			changed := cmd.Flags().Changed
			var params client.UpdateKeyParams
			if changed("name") {
				if strings.TrimSpace(name) == "" {
					return errors.New("invalid --name: it may not be blank")
				}
				params.Name = &name
			}
			switch {
			case changed("scope"):
				params.Scopes = scopes
			case clearFlags.scopes:
				params.Scopes = []string{}
			}
			switch {
			case changed("allowed-ip"):
				params.AllowedIPs = allowedIPs
			case clearFlags.allowedIPs:
				params.AllowedIPs = []string{}
			}
			exp, err := expiry.value(cmd, time.Now())
			if err != nil {
				return err
			}
			params.ExpiresAt, params.ClearExpiresAt = exp, clearFlags.expiry
			if changed("metadata") {
				if params.Metadata, err = parseMetadata(metadata); err != nil {
					return err
				}
			}
			params.ClearMetadata = clearFlags.metadata
			if changed("rotation-days") {
				if err := validateRotationDays(rotationDays); err != nil {
					return err
				}
				params.RotationIntervalDays = &rotationDays
			}
			if changed("rotation-webhook") {
				if webhook == "" {
					return errors.New("invalid --rotation-webhook: it may not be empty; use --clear-rotation-webhook to remove it")
				}
				params.RotationWebhookURL = &webhook
			}
			params.ClearRotationWebhookURL = clearFlags.webhook
			params.RotateWebhookSecret = rotateWebhookSecret
			if changed("rotation-grace") {
				if params.RotationGraceSeconds, err = parseRotationGrace(grace); err != nil {
					return err
				}
			}
			params.ClearRotationGraceSeconds = clearFlags.grace
			if changed("role") {
				if strings.TrimSpace(role) == "" {
					return errors.New("invalid --role: it may not be blank; use --clear-role to remove the role")
				}
				params.RoleID = &role
			}
			params.ClearRoleID = clearFlags.role
			if changed("tier") {
				t, err := parseTier(tier)
				if err != nil {
					return err
				}
				params.RateLimitTier = &t
			}
			if params.Credits, err = credits.value(cmd); err != nil {
				return err
			}
			params.ClearCredits, params.ClearRateLimit = clearFlags.credits, clearFlags.rateLimit
			if !slices.ContainsFunc(updateFlags, changed) {
				return errors.New("nothing to update: pass at least one of --" + strings.Join(updateFlags, ", --"))
			}

			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Key, error) {
				if limit.changed(cmd) {
					// The API replaces a key's whole limit; start from its current one so that
					// the numbers not given stay as they are.
					current, err := kw.GetKey(ctx, args[0])
					if err != nil {
						return nil, err
					}
					if params.RateLimit, err = limit.value(cmd, current.RateLimit); err != nil {
						if current.RateLimit == nil && !changed("rate") {
							return nil, fmt.Errorf("%w (the key is held to its tier's limit and has none of its own)", err)
						}
						return nil, err
					}
				}
				return kw.UpdateKey(ctx, args[0], params)
			}, func(w io.Writer, k *client.Key) error {
				fmt.Fprintf(w, "Updated key %s.\n\n", k.ID)
				if err := writeKeyDetails(w, k); err != nil {
					return err
				}
				if k.RotationWebhookSecret != "" {
					fmt.Fprintln(w)
					writeRotationWebhookSecret(w, k.RotationWebhookSecret)
				}
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new name, 1-128 characters")
	f.StringSliceVar(&scopes, "scope", nil, "replace the scopes with these; repeat the flag or separate with commas")
	f.BoolVar(&clearFlags.scopes, "clear-scopes", false, "remove every scope")
	f.StringSliceVar(&allowedIPs, "allowed-ip", nil, "replace the networks the key may be used from with these (CIDR ranges or addresses); repeat the flag or separate with commas")
	f.BoolVar(&clearFlags.allowedIPs, "clear-allowed-ips", false, "remove the key's networks: it takes its account's again")
	expiry.register(cmd, "the key")
	f.BoolVar(&clearFlags.expiry, "clear-expiry", false, "make the key never expire")
	f.StringVar(&metadata, "metadata", "", `replace the metadata with this JSON object, e.g. '{"team":"billing"}'`)
	f.BoolVar(&clearFlags.metadata, "clear-metadata", false, "remove the metadata")
	f.IntVar(&rotationDays, "rotation-days", 0, "rotate the key every this many days; 0 removes the schedule")
	f.StringVar(&webhook, "rotation-webhook", "", "URL a scheduled rotation sends the new secret to (signed with the rotation_webhook_secret printed once); without it the key is not rotated on schedule and api_key.rotation_due goes to the account's webhooks")
	f.BoolVar(&clearFlags.webhook, "clear-rotation-webhook", false, "remove the rotation webhook")
	f.BoolVar(&rotateWebhookSecret, "rotate-webhook-secret", false, "give the rotation webhook a new signing secret, printed once")
	f.DurationVar(&grace, "rotation-grace", 0, "how long the old key keeps working after a scheduled rotation, as a Go duration such as 24h (at most 720h)")
	f.BoolVar(&clearFlags.grace, "clear-rotation-grace", false, "go back to the server's default rotation grace (168h)")
	f.StringVar(&role, "role", "", "account-level role: a role ID or a built-in slug")
	f.BoolVar(&clearFlags.role, "clear-role", false, "remove the key's account-level role")
	f.StringVar(&tier, "tier", "", "rate limit tier: standard, high or one of the account's own")
	limit.register(cmd, "the key")
	f.BoolVar(&clearFlags.rateLimit, "no-rate-limit", false, "remove the key's own limit: it is held to its tier's")
	credits.register(cmd)
	f.BoolVar(&clearFlags.credits, "no-credits", false, "remove the key's usage credits: its use is no longer counted")
	cmd.MarkFlagsMutuallyExclusive("scope", "clear-scopes")
	cmd.MarkFlagsMutuallyExclusive("allowed-ip", "clear-allowed-ips")
	cmd.MarkFlagsMutuallyExclusive("expires-at", "clear-expiry")
	cmd.MarkFlagsMutuallyExclusive("expires-in", "clear-expiry")
	cmd.MarkFlagsMutuallyExclusive("metadata", "clear-metadata")
	cmd.MarkFlagsMutuallyExclusive("rotation-webhook", "clear-rotation-webhook")
	cmd.MarkFlagsMutuallyExclusive("rotate-webhook-secret", "clear-rotation-webhook")
	cmd.MarkFlagsMutuallyExclusive("rotation-grace", "clear-rotation-grace")
	cmd.MarkFlagsMutuallyExclusive("role", "clear-role")
	for _, name := range rateLimitFlagNames {
		cmd.MarkFlagsMutuallyExclusive(name, "no-rate-limit")
	}
	for _, name := range creditFlagNames {
		cmd.MarkFlagsMutuallyExclusive(name, "no-credits")
	}
	_ = cmd.RegisterFlagCompletionFunc("tier", tierCompletion)
	return cmd
}

func newKeysRevokeCmd(conn *apiConn) *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "revoke KEY_ID... [--yes]",
		Short: "Revoke API keys at once",
		Long: `Revoke one or more API keys. A revoked key fails verification on every Keyward node within a
second, and cannot be restored: create a new key instead. Revoking a revoked key succeeds.

On a terminal the command first asks whether to go ahead; --yes (-y) skips the question.
When stdin is not a terminal (a script, a pipe, CI) no one can be asked, so it refuses to
revoke anything without --yes.

Keys are revoked in the order given; the command stops at the first failure. With -o json
or yaml nothing is printed: the exit status says whether every key was revoked.`,
		Example: `  keyward keys revoke $KEY_ID
  keyward keys revoke --yes $KEY_ID key_789`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("want at least one key ID")
			}
			for _, id := range args {
				if strings.TrimSpace(id) == "" {
					return errors.New("invalid key ID: it may not be blank")
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			// A missing credential is said before the question, not after it.
			if _, err := conn.client(); err != nil {
				return err
			}
			question := fmt.Sprintf("Revoke key %s on %s? It stops working at once and cannot be restored.", args[0], conn.baseURL())
			if len(args) > 1 {
				question = fmt.Sprintf("Revoke %d keys (%s) on %s? They stop working at once and cannot be restored.",
					len(args), strings.Join(args, ", "), conn.baseURL())
			}
			if err := confirm(cmd, yes, question); err != nil {
				return err
			}
			return runEach(cmd, conn, args, "revoking", func(ctx context.Context, kw *client.Client, id string) error {
				return kw.RevokeKey(ctx, id)
			}, func(id string) string { return "Revoked key " + id + "." })
		},
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "revoke without asking")
	return cmd
}

func newKeysRotateCmd(conn *apiConn) *cobra.Command {
	var (
		grace  time.Duration
		expiry expiryFlags
	)
	cmd := &cobra.Command{
		Use:   "rotate KEY_ID [flags]",
		Short: "Replace an API key with a new one and print the new secret once",
		Long: `Rotate an API key: create a new key with the same name, scopes, environment, metadata and
rotation settings, and print its secret once. The old key keeps working for the grace period
(--grace), so that its users can switch; then it stops. Without --grace the server's default
applies; --grace 0s ends the old key at once.

The new secret is shown only this once: store it now. With --json the secret is the "key"
field.`,
		Example: `  keyward keys rotate $KEY_ID
  keyward keys rotate $KEY_ID --grace 24h
  keyward keys rotate $KEY_ID --grace 0s --expires-in 2160h`,
		Args: oneKeyID,
		RunE: func(cmd *cobra.Command, args []string) error {
			var params client.RotateKeyParams
			if cmd.Flags().Changed("grace") {
				if grace < 0 || grace > client.MaxGracePeriod || grace%time.Second != 0 {
					return fmt.Errorf("invalid --grace %v: want whole seconds from 0s to %v (30 days)", grace, client.MaxGracePeriod)
				}
				params.GracePeriod = &grace
			}
			exp, err := expiry.value(cmd, time.Now())
			if err != nil {
				return err
			}
			params.ExpiresAt = exp
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.RotatedKey, error) {
				return kw.RotateKey(ctx, args[0], params)
			}, writeRotatedKey)
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 0, "how long the old key keeps working, as a Go duration such as 60s or 24h (at most 720h)")
	expiry.register(cmd, "the new key")
	return cmd
}

func writeRotatedKey(w io.Writer, r *client.RotatedKey) error {
	fmt.Fprintf(w, "Rotated key %s into %s (%q).\n", r.OldKeyID, r.NewKeyID, r.Name)
	if r.GraceExpiresAt != nil && r.GraceExpiresAt.After(r.CreatedAt) {
		fmt.Fprintf(w, "The old key keeps working until %s, then stops.\n\n", formatAPITime(r.GraceExpiresAt, "-"))
	} else {
		fmt.Fprintf(w, "The old key no longer works.\n\n")
	}
	tw := newTable(w)
	tableRow(tw, "NEW KEY ID", r.NewKeyID)
	tableRow(tw, "PREFIX", r.KeyPrefix)
	tableRow(tw, "PROJECT", formatKeyProject(r.ProjectID))
	tableRow(tw, "SCOPES", formatScopes(r.Scopes))
	tableRow(tw, "EXPIRES", formatAPITime(r.ExpiresAt, "never"))
	tableRow(tw, "CREATED", formatAPITime(&r.CreatedAt, "-"))
	if err := tw.Flush(); err != nil {
		return err
	}
	writeSecret(w, r.Secret)
	return nil
}
