package main

// This file holds the rate-limit commands, 'keyward tiers' (tiers and tier requests), and how
// tiers and tier requests are printed. The rate-limit flags they share with 'keys create' and
// 'keys update' are in cli_limits.go.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

func newTiersCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:     "tiers",
		Aliases: []string{"tier"},
		Short:   "List, create and change rate-limit tiers, and ask for and approve them",
		Long: `Manage the account's rate-limit tiers through a running Keyward server's HTTP API.

A tier is a named rate limit: so many verifications per period with a burst, and optionally
a quota per window (a 24h window is a UTC day). Every key is on a tier, standard unless
chosen; a key verified faster than its tier allows gets RATE_LIMITED. Every account has the
built-in tiers standard (30/s) and high (100/s, requires approval), may change them, and may
add its own. Changing a tier holds every key on it to the new limit within a second.

A tier that requires approval is given at once only by someone with the
api_keys.approve_high_tier permission; anyone else's ask (keys create --tier, keys update
--tier, tiers request) becomes a pending request, which 'tiers approve' or 'tiers reject'
decides.` + identityHelpTail,
		Example: `  keyward tiers list
  keyward tiers create partner --rate 50 --burst 100 --quota 100000 --quota-window 24h --requires-approval
  keyward tiers update standard --rate 60
  keyward tiers request $KEY_ID high
  keyward tiers requests --status pending
  keyward tiers approve $REQUEST_ID --reason "launch week"`,
	}
	conn.registerFlags(cmd)
	cmd.AddCommand(
		newTiersListCmd(conn), newTiersGetCmd(conn), newTiersCreateCmd(conn), newTiersUpdateCmd(conn),
		newTiersRequestCmd(conn), newTiersRequestsCmd(conn),
		newTiersDecideCmd(conn, true), newTiersDecideCmd(conn, false),
	)
	return cmd
}

// exactlyOneName accepts exactly one argument, a non-blank name of what.
func exactlyOneName(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
			return fmt.Errorf("want exactly one %s name, got %d arguments", what, len(args))
		}
		return nil
	}
}

func newTiersListCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the account's rate-limit tiers",
		Long: `List the account's rate-limit tiers by name, the built-in ones (standard, high) included,
with their limits. With --json the output is a JSON array.`,
		Example: `  keyward tiers list
  keyward tiers list --json | jq -r '.[].name'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) ([]*client.Tier, error) {
				return kw.ListTiers(ctx)
			}, listWriter("No tiers.", writeTiersTable))
		},
	}
}

func newTiersGetCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:     "get NAME",
		Aliases: []string{"show"},
		Short:   "Show one rate-limit tier",
		Long:    `Show one rate-limit tier: its limit, quota, whether it requires approval, and its fail mode.`,
		Example: `  keyward tiers get high`,
		Args:    exactlyOneName("tier"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Tier, error) {
				return kw.GetTier(ctx, args[0])
			}, writeTierDetails)
		},
	}
}

// tierFlags are the settings of a tier besides its limit, shared by 'tiers create' and
// 'tiers update'.
type tierFlags struct {
	description      string
	requiresApproval bool
	failMode         string
}

func (t *tierFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&t.description, "description", "", "what the tier is for")
	f.BoolVar(&t.requiresApproval, "requires-approval", false,
		"only holders of api_keys.approve_high_tier give the tier at once; others' asks wait for approval (--requires-approval=false to lift)")
	f.StringVar(&t.failMode, "fail-mode", "", "what verifications do while the rate-limit state cannot be reached: fail_open (let through) or fail_closed (RATE_LIMITED); default fail_open")
	_ = cmd.RegisterFlagCompletionFunc("fail-mode", cobra.FixedCompletions(
		[]cobra.Completion{string(client.FailOpen), string(client.FailClosed)}, cobra.ShellCompDirectiveNoFileComp))
}

// parseFailMode reads --fail-mode.
func parseFailMode(s string) (client.FailMode, error) {
	switch m := client.FailMode(strings.TrimSpace(s)); m {
	case client.FailOpen, client.FailClosed:
		return m, nil
	}
	return "", fmt.Errorf("invalid --fail-mode %q: want fail_open or fail_closed", s)
}

func newTiersCreateCmd(conn *apiConn) *cobra.Command {
	var (
		limit rateLimitFlags
		tier  tierFlags
	)
	cmd := &cobra.Command{
		Use:   "create NAME --rate N [flags]",
		Short: "Create a rate-limit tier",
		Long: `Create a rate-limit tier and print it. NAME is lower-case letters, digits and '-', starting
with a letter. The tier allows --rate verifications per --period (1s unless given) with up to
--burst at once (--rate unless given), and with --quota at most so many per --quota-window.
Creating a tier needs the rate_limit_tiers.write permission.`,
		Example: `  keyward tiers create partner --rate 50
  keyward tiers create batch --rate 600 --period 1m --burst 50 --quota 100000 --quota-window 24h \
      --requires-approval --fail-mode fail_closed --description "nightly batch jobs"`,
		Args: exactlyOneName("tier"),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := limit.value(cmd, nil)
			if err != nil {
				return err
			}
			if l == nil {
				return errors.New("a tier needs a limit: pass --rate")
			}
			params := client.CreateTierParams{Name: strings.TrimSpace(args[0]), Description: tier.description,
				RateLimit: *l, RequiresApproval: tier.requiresApproval}
			if cmd.Flags().Changed("fail-mode") {
				if params.FailMode, err = parseFailMode(tier.failMode); err != nil {
					return err
				}
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Tier, error) {
				return kw.CreateTier(ctx, params)
			}, tierChanged("Created"))
		},
	}
	limit.register(cmd, "the tier")
	tier.register(cmd)
	_ = cmd.MarkFlagRequired("rate")
	return cmd
}

func newTiersUpdateCmd(conn *apiConn) *cobra.Command {
	var (
		limit rateLimitFlags
		tier  tierFlags
	)
	cmd := &cobra.Command{
		Use:   "update NAME [flags]",
		Short: "Change a rate-limit tier, a built-in one included",
		Long: `Change a rate-limit tier and leave what is not given as it is: --burst alone keeps the
tier's rate and period, --quota 0 removes its quota. Every key on the tier is held to the new
limit within a second, on every node. Built-in tiers (standard, high) may be changed too.
Changing a tier needs the rate_limit_tiers.write permission.`,
		Example: `  keyward tiers update standard --rate 60 --burst 120
  keyward tiers update partner --quota 0
  keyward tiers update high --requires-approval=false --fail-mode fail_closed`,
		Args: exactlyOneName("tier"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needOneOf(cmd, slices.Concat(rateLimitFlagNames, []string{"description", "requires-approval", "fail-mode"})...); err != nil {
				return err
			}
			changed := cmd.Flags().Changed
			var params client.UpdateTierParams
			if changed("description") {
				params.Description = &tier.description
			}
			if changed("requires-approval") {
				params.RequiresApproval = &tier.requiresApproval
			}
			if changed("fail-mode") {
				m, err := parseFailMode(tier.failMode)
				if err != nil {
					return err
				}
				params.FailMode = &m
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Tier, error) {
				if limit.changed(cmd) {
					// The API replaces a tier's whole limit; start from the current one so that
					// the numbers not given stay as they are.
					current, err := kw.GetTier(ctx, args[0])
					if err != nil {
						return nil, err
					}
					if params.RateLimit, err = limit.value(cmd, &current.RateLimit); err != nil {
						return nil, err
					}
				}
				return kw.UpdateTier(ctx, args[0], params)
			}, tierChanged("Updated"))
		},
	}
	limit.register(cmd, "the tier")
	tier.register(cmd)
	return cmd
}

func newTiersRequestCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:   "request KEY_ID TIER",
		Short: "Ask for a key's tier",
		Long: `Ask that a key get a tier. A tier that needs no approval, or asked for by someone with the
api_keys.approve_high_tier permission, is given at once; otherwise the request waits as
pending until 'tiers approve' or 'tiers reject' decides it, and the key keeps its tier.`,
		Example: `  keyward tiers request $KEY_ID high`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 2 || strings.TrimSpace(args[0]) == "" || strings.TrimSpace(args[1]) == "" {
				return fmt.Errorf("want a key ID and a tier name, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.TierRequest, error) {
				return kw.RequestTier(ctx, args[0], client.RateLimitTier(strings.TrimSpace(args[1])))
			}, writeTierAsked)
		},
	}
}

// writeTierAsked prints the answer to a tier request: the key's new tier when it was given
// at once, else the pending request and how to approve it.
func writeTierAsked(w io.Writer, r *client.TierRequest) error {
	if r.Status == client.TierRequestApproved {
		fmt.Fprintf(w, "Key %s is now on tier %s.\n\n", r.KeyID, r.Tier)
	} else {
		fmt.Fprintf(w, "Asked for tier %s for key %s: request %s awaits approval ('keyward tiers approve %s').\n\n",
			r.Tier, r.KeyID, r.ID, r.ID)
	}
	return writeTierRequestDetails(w, r)
}

func newTiersRequestsCmd(conn *apiConn) *cobra.Command {
	var (
		filter client.ListTierRequestsParams
		status string
		page   pageFlags
	)
	cmd := &cobra.Command{
		Use:   "requests [flags]",
		Short: "List tier requests, oldest first",
		Long: `List the account's tier requests, oldest first, optionally only those of one key or in one
state: pending, approved or rejected.

One page is printed; when there are more, a hint with the next cursor goes to stderr. --all
follows the cursors and prints every request. With --json the output is a JSON array.`,
		Example: `  keyward tiers requests --status pending
  keyward tiers requests --key $KEY_ID --all --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch s := client.TierRequestStatus(status); s {
			case "", client.TierRequestPending, client.TierRequestApproved, client.TierRequestRejected:
				filter.Status = s
			default:
				return fmt.Errorf("invalid --status %q: want pending, approved or rejected", status)
			}
			filter.Limit, filter.Cursor = page.limit, page.cursor // checked by runList
			return runList(cmd, conn, &page,
				func(kw *client.Client) iter.Seq2[*client.TierRequest, error] {
					return kw.AllTierRequests(cmd.Context(), filter)
				},
				func(kw *client.Client) (*client.Page[*client.TierRequest], error) {
					return kw.ListTierRequests(cmd.Context(), filter)
				},
				"requests", "No tier requests.", writeTierRequestsTable)
		},
	}
	f := cmd.Flags()
	f.StringVar(&filter.KeyID, "key", "", "only requests for this key")
	f.StringVar(&status, "status", "", "only requests in this state: pending, approved or rejected")
	page.register(cmd, "requests")
	_ = cmd.RegisterFlagCompletionFunc("status", cobra.FixedCompletions(
		[]cobra.Completion{"pending", "approved", "rejected"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// newTiersDecideCmd is 'tiers approve' or, with approve false, 'tiers reject'.
func newTiersDecideCmd(conn *apiConn, approve bool) *cobra.Command {
	verb, done, effect := "reject", "Rejected", "the key keeps its tier"
	if approve {
		verb, done, effect = "approve", "Approved", "the key gets the tier at once, on every node within a second"
	}
	var reason string
	cmd := &cobra.Command{
		Use:   verb + " REQUEST_ID [--reason TEXT]",
		Short: strings.ToUpper(verb[:1]) + verb[1:] + " a pending tier request",
		Long: strings.ToUpper(verb[:1]) + verb[1:] + ` a pending tier request: ` + effect + `. It needs the
api_keys.approve_high_tier permission. A request is decided once; --reason is kept with it.`,
		Example: "  keyward tiers " + verb + ` $REQUEST_ID --reason "checked with the team"`,
		Args:    exactlyOneID("tier request"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.TierRequest, error) {
				if approve {
					return kw.ApproveTierRequest(ctx, args[0], reason)
				}
				return kw.RejectTierRequest(ctx, args[0], reason)
			}, func(w io.Writer, r *client.TierRequest) error {
				fmt.Fprintf(w, "%s tier request %s: tier %s for key %s.\n\n", done, r.ID, r.Tier, r.KeyID)
				return writeTierRequestDetails(w, r)
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, kept with the request")
	return cmd
}

// formatTierRequest is a key's tier request for people, as "high: pending (request ID)".
func formatTierRequest(r *client.TierRequest) string {
	return fmt.Sprintf("%s: %s (request %s)", r.Tier, r.Status, r.ID)
}

func formatApproval(required bool) string {
	if required {
		return "required"
	}
	return "-"
}

func formatTierType(t *client.Tier) string {
	if t.BuiltIn {
		return "built-in"
	}
	return "custom"
}

func writeTiersTable(w io.Writer, tiers []*client.Tier) error {
	tw := newTable(w)
	tableRow(tw, "NAME", "RATE LIMIT", "APPROVAL", "FAIL MODE", "TYPE", "DESCRIPTION")
	for _, t := range tiers {
		tableRow(tw, t.Name, formatRateLimit(t.RateLimit), formatApproval(t.RequiresApproval), string(t.FailMode),
			formatTierType(t), orDash(t.Description))
	}
	return tw.Flush()
}

// tierChanged prints a tier just created or changed: a line that says so with verb, then its
// details.
func tierChanged(verb string) func(io.Writer, *client.Tier) error {
	return func(w io.Writer, t *client.Tier) error {
		fmt.Fprintf(w, "%s tier %s.\n\n", verb, t.Name)
		return writeTierDetails(w, t)
	}
}

func writeTierDetails(w io.Writer, t *client.Tier) error {
	tw := newTable(w)
	tableRow(tw, "NAME", t.Name)
	tableRow(tw, "TYPE", formatTierType(t))
	tableRow(tw, "DESCRIPTION", orDash(t.Description))
	tableRow(tw, "RATE LIMIT", formatRateLimit(t.RateLimit))
	tableRow(tw, "APPROVAL", formatApproval(t.RequiresApproval))
	tableRow(tw, "FAIL MODE", string(t.FailMode))
	tableRow(tw, "UPDATED", formatAPITime(t.UpdatedAt, "never"))
	return tw.Flush()
}

func writeTierRequestsTable(w io.Writer, rs []*client.TierRequest) error {
	tw := newTable(w)
	tableRow(tw, "ID", "KEY", "TIER", "STATUS", "REQUESTED BY", "CREATED", "DECIDED BY", "REASON")
	for _, r := range rs {
		tableRow(tw, r.ID, r.KeyID, string(r.Tier), string(r.Status), r.RequestedBy, formatAPITime(&r.CreatedAt, "-"),
			orDash(r.DecidedBy), orDash(r.Reason))
	}
	return tw.Flush()
}

func writeTierRequestDetails(w io.Writer, r *client.TierRequest) error {
	tw := newTable(w)
	tableRow(tw, "ID", r.ID)
	tableRow(tw, "KEY", r.KeyID)
	tableRow(tw, "TIER", string(r.Tier))
	tableRow(tw, "STATUS", string(r.Status))
	tableRow(tw, "REQUESTED BY", r.RequestedBy)
	tableRow(tw, "CREATED", formatAPITime(&r.CreatedAt, "-"))
	if r.DecidedAt != nil {
		tableRow(tw, "DECIDED BY", orDash(r.DecidedBy))
		tableRow(tw, "DECIDED", formatAPITime(r.DecidedAt, "-"))
		tableRow(tw, "REASON", orDash(r.Reason))
	}
	return tw.Flush()
}
