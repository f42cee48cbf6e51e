package main

// This file holds what the client commands (keys, projects, environments, the identity
// commands whoami, accounts, users, roles, members and audit, and tiers, usage and oauth)
// share: the connection flags, the translation of client errors into one-line messages, the
// one sequence every command runs (runOne, runEach and runList: get a client, make the call,
// explain a failure, print JSON or text), and JSON and table output. The commands talk to
// the server only through the public client package.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

// addClientCommands adds the commands that manage a running server through its HTTP API:
// keys, projects, environments, webhooks, and the identity commands (whoami, accounts, users,
// roles, members and audit).
func addClientCommands(root *cobra.Command) {
	root.AddCommand(newKeysCmd(), newProjectsCmd(), newEnvironmentsCmd(), newWebhooksCmd(),
		newWhoamiCmd(), newAccountsCmd(), newUsersCmd(), newRolesCmd(), newMembersCmd(), newAuditCmd())
}

const (
	envKeywardURL     = "KEYWARD_URL"
	envKeywardToken   = "KEYWARD_TOKEN"
	defaultKeywardURL = "http://127.0.0.1:8080"
)

// apiConn is the connection and output settings of one client command tree, bound to the
// persistent flags of its top-level command.
type apiConn struct {
	url     string
	token   string
	profile string
	out     outputFlag

	// what target resolved, once per command
	resolved                   bool
	resolvedURL, resolvedToken string
	resolveErr                 error
}

// registerFlags adds --url, --token, --profile, -o and --json to cmd and all its subcommands. The
// environment is read when a command runs, not here, so that --help never shows the token.
func (c *apiConn) registerFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&c.url, "url", "", "Keyward server URL (default $"+envKeywardURL+", else the profile's, else "+defaultKeywardURL+")")
	f.StringVar(&c.token, "token", "", "admin key, or API key or OIDC access token (default $"+envKeywardToken+", else the profile's; prefer the variable or 'keyward login': flags show in the process list and shell history)")
	c.registerProfileFlag(f)
	c.out.register(f, "the API's JSON: an object, or an array for lists")
	registerOutputCompletion(cmd)
}

// baseURL is the server the command talks to, as target resolves it.
func (c *apiConn) baseURL() string {
	u, _, _ := c.target()
	return u
}

// client returns a client for the server, or an error naming KEYWARD_TOKEN when no credential
// was given, so that no request goes out without one.
func (c *apiConn) client() (*client.Client, error) {
	if err := c.out.check(); err != nil {
		return nil, err
	}
	u, token, err := c.target()
	if err != nil {
		return nil, err
	}
	if token == "" {
		return nil, fmt.Errorf("no credential: set %s (or pass --token) to an admin key, such as the one 'keyward serve' printed on its first start, or to an API key or OIDC access token; or store one with 'keyward login'", envKeywardToken)
	}
	return client.New(u, token, client.WithUserAgent("keyward-cli/"+version)), nil
}

// anonymousClient is a client that sends no credential, for the calls that authenticate
// otherwise (a key exchanged for a token) or need none (a leak report). The server is the
// one target resolves; a profile's credential stays home.
func (c *apiConn) anonymousClient() (*client.Client, error) {
	if err := c.out.check(); err != nil {
		return nil, err
	}
	return client.New(c.baseURL(), "", client.WithUserAgent("keyward-cli/"+version)), nil
}

// cliError is an error rewritten for a person; it still unwraps to the client's error, so
// callers can branch on client.ErrorCode.
type cliError struct {
	msg string
	err error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

// explain turns an error from the client into one line that says what went wrong and, where
// it helps, what to do about it. An error already explained, as the OAuth commands explain
// theirs, is returned as it is.
func (c *apiConn) explain(err error) error {
	if err == nil {
		return nil
	}
	if _, done := err.(*cliError); done {
		return err
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		var b strings.Builder
		// "detail (code, HTTP status): field: problem; ...", already one line.
		b.WriteString(strings.TrimPrefix(apiErr.Error(), "keyward: "))
		switch apiErr.Code {
		case client.CodeUnauthenticated:
			b.WriteString("; check --token or " + envKeywardToken)
		case client.CodeRateLimited:
			if apiErr.RetryAfter > 0 {
				fmt.Fprintf(&b, "; retry in %v", apiErr.RetryAfter)
			}
		}
		return &cliError{msg: b.String(), err: err}
	}

	var urlErr *url.Error
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return &cliError{msg: "interrupted", err: err}
	case errors.As(err, &urlErr), errors.As(err, &netErr):
		cause := err
		if urlErr != nil {
			cause = urlErr.Err
		}
		return &cliError{
			msg: fmt.Sprintf("cannot reach Keyward at %s: %v (set --url or %s)", c.baseURL(), cause, envKeywardURL),
			err: err,
		}
	}
	// The client prefixes its own errors; main prefixes every error again.
	return &cliError{msg: strings.TrimPrefix(err.Error(), "keyward: "), err: err}
}

// writeAPIJSON writes v as indented JSON, the machine output of every --json command.
func writeAPIJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // URLs and scopes with & or < stay readable
	return enc.Encode(v)
}

// newTable returns a tabwriter for aligned columns; Flush it when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// tableRow writes one tab-separated table row.
func tableRow(w io.Writer, cells ...string) {
	fmt.Fprintln(w, strings.Join(cells, "\t"))
}

// formatAPITime renders a time for people in RFC 3339 UTC, the form the flags accept, or unset
// when there is none.
func formatAPITime(t *time.Time, unset string) string {
	if t == nil || t.IsZero() {
		return unset
	}
	return t.UTC().Format(time.RFC3339)
}

// orDash is s, or "-" when s is empty, so that table columns never collapse.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func formatScopes(scopes []string) string {
	if len(scopes) == 0 {
		return "-"
	}
	return strings.Join(scopes, ",")
}

// formatKeyHandle is how people recognise a key: its public prefix and its last four
// characters, never more of the secret.
func formatKeyHandle(prefix, last4 string) string {
	switch {
	case prefix == "":
		return "-"
	case last4 == "":
		return prefix
	}
	return prefix + "..." + last4
}

// formatKeyProject is a key's project, or says that it is an account key.
func formatKeyProject(projectID string) string {
	if projectID == "" {
		return "none (account key)"
	}
	return projectID
}

// formatProjectAccesses lists a key's project memberships as PROJECT:ROLE, the form
// --project-access takes.
func formatProjectAccesses(as []client.ProjectAccess) string {
	if len(as) == 0 {
		return "-"
	}
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = a.ProjectID + ":" + a.RoleID
	}
	return strings.Join(parts, ",")
}

func formatRotation(days int) string {
	switch days {
	case 0:
		return "none"
	case 1:
		return "every day"
	}
	return fmt.Sprintf("every %d days", days)
}

func formatMetadata(m map[string]any) string {
	if m == nil {
		return "-"
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "(unprintable)"
	}
	return string(b)
}

// writeKeysTable lists keys, one per line. The TIER, RATE LIMIT and CREDITS columns are
// added when a key has a tier other than standard, a limit of its own or credits, so that an
// account that uses none of them sees the table it always did.
func writeKeysTable(w io.Writer, keys []*client.Key) error {
	limits := slices.ContainsFunc(keys, func(k *client.Key) bool {
		return (k.RateLimitTier != "" && k.RateLimitTier != client.TierStandard) || k.RateLimit != nil || k.Credits != nil
	})
	tw := newTable(w)
	header := []string{"ID", "NAME", "PREFIX", "STATUS", "SCOPES", "EXPIRES", "LAST USED"}
	if limits {
		header = append(header, "TIER", "RATE LIMIT", "CREDITS")
	}
	tableRow(tw, header...)
	for _, k := range keys {
		row := []string{k.ID, k.Name, formatKeyHandle(k.KeyPrefix, k.Last4), string(k.Status),
			formatScopes(k.Scopes), formatAPITime(k.ExpiresAt, "never"), formatAPITime(k.LastUsedAt, "never")}
		if limits {
			row = append(row, orDash(string(k.RateLimitTier)), formatKeyRateLimit(k.RateLimit), formatCreditsLeft(k.Credits))
		}
		tableRow(tw, row...)
	}
	return tw.Flush()
}

// formatKeyRateLimit is a key's own limit, or "tier" when it is held to its tier's.
func formatKeyRateLimit(l *client.RateLimit) string {
	if l == nil {
		return "tier"
	}
	return formatRateLimit(*l)
}

// formatCreditsLeft is the credits a key has left, or "-" when its use is not counted.
func formatCreditsLeft(c *client.Credits) string {
	if c == nil {
		return "-"
	}
	return strconv.FormatInt(c.Remaining, 10)
}

// writeKeyDetails shows every field of one key, one per line.
func writeKeyDetails(w io.Writer, k *client.Key) error {
	tw := newTable(w)
	tableRow(tw, "ID", k.ID)
	tableRow(tw, "NAME", k.Name)
	tableRow(tw, "STATUS", string(k.Status))
	tableRow(tw, "PREFIX", formatKeyHandle(k.KeyPrefix, k.Last4))
	tableRow(tw, "PROJECT", formatKeyProject(k.ProjectID))
	tableRow(tw, "ENVIRONMENT", orDash(k.EnvironmentID))
	tableRow(tw, "USER", orDash(k.UserID))
	tableRow(tw, "ROLE", orDash(k.RoleID))
	tableRow(tw, "PROJECT ACCESS", formatProjectAccesses(k.ProjectAccesses))
	tableRow(tw, "TIER", orDash(string(k.RateLimitTier)))
	if k.TierRequest != nil {
		tableRow(tw, "TIER REQUEST", formatTierRequest(k.TierRequest))
	}
	if k.RateLimit != nil {
		tableRow(tw, "RATE LIMIT", formatRateLimit(*k.RateLimit)+" (the key's own)")
	}
	if k.Credits != nil {
		tableRow(tw, "CREDITS", formatCredits(k.Credits))
	}
	tableRow(tw, "SCOPES", formatScopes(k.Scopes))
	tableRow(tw, "ALLOWED IPS", orDash(strings.Join(k.AllowedIPs, ", ")))
	tableRow(tw, "METADATA", formatMetadata(k.Metadata))
	tableRow(tw, "EXPIRES", formatAPITime(k.ExpiresAt, "never"))
	tableRow(tw, "LAST USED", formatAPITime(k.LastUsedAt, "never"))
	tableRow(tw, "CREATED", formatAPITime(&k.CreatedAt, "-"))
	tableRow(tw, "CREATED BY", orDash(k.CreatedBy))
	tableRow(tw, "ROTATION", formatRotation(k.RotationIntervalDays))
	if k.RotationIntervalDays > 0 {
		tableRow(tw, "NEXT ROTATION", formatAPITime(k.NextRotationAt, "-"))
	}
	tableRow(tw, "ROTATION WEBHOOK", orDash(k.RotationWebhookURL))
	if k.RotationIntervalDays > 0 || k.RotationWebhookURL != "" {
		tableRow(tw, "ROTATION GRACE", (time.Duration(k.RotationGraceSeconds) * time.Second).String())
	}
	if k.Imported {
		tableRow(tw, "IMPORTED", "yes (from another system)")
	}
	if k.LeakedAt != nil {
		tableRow(tw, "LEAKED", formatLeak(k))
	}
	if k.RevokedAt != nil {
		tableRow(tw, "REVOKED", formatAPITime(k.RevokedAt, "-"))
	}
	if k.ReplacedByKeyID != "" {
		tableRow(tw, "REPLACED BY", k.ReplacedByKeyID)
		tableRow(tw, "GRACE ENDS", formatAPITime(k.GraceExpiresAt, "-"))
	}
	return tw.Flush()
}

// formatLeak says when a key was reported leaked, by whom and where.
func formatLeak(k *client.Key) string {
	s := formatAPITime(k.LeakedAt, "-")
	if k.LeakSource != "" {
		s += " by " + k.LeakSource
	}
	if k.LeakURL != "" {
		s += " at " + k.LeakURL
	}
	return s
}

// writeSecret prints a key's secret, which the server shows only once. It goes to stdout, the
// stream the person asked for; never to stderr, where logs are collected.
func writeSecret(w io.Writer, secret string) {
	fmt.Fprintf(w, "\nAPI key (store it now, it will not be shown again):\n\n    %s\n\n", secret)
}

func writeProjectsTable(w io.Writer, projects []*client.Project) error {
	tw := newTable(w)
	tableRow(tw, "ID", "NAME", "KEY PREFIX", "CREATED")
	for _, p := range projects {
		tableRow(tw, p.ID, p.Name, p.KeyPrefix, formatAPITime(&p.CreatedAt, "-"))
	}
	return tw.Flush()
}

func writeEnvironmentsTable(w io.Writer, envs []*client.Environment) error {
	tw := newTable(w)
	tableRow(tw, "ID", "NAME", "PROJECT", "CREATED")
	for _, e := range envs {
		tableRow(tw, e.ID, e.Name, e.ProjectID, formatAPITime(&e.CreatedAt, "-"))
	}
	return tw.Flush()
}

// pageFlags are the paging flags of every list command.
type pageFlags struct {
	limit  int
	cursor string
	all    bool
}

func (p *pageFlags) register(cmd *cobra.Command, noun string) {
	f := cmd.Flags()
	f.IntVar(&p.limit, "limit", 0, fmt.Sprintf("%s per page, 1..%d (default: the server's)", noun, client.MaxPageSize))
	f.StringVar(&p.cursor, "cursor", "", "start at this cursor, as printed after a partial list")
	f.BoolVar(&p.all, "all", false, "follow cursors and list every page")
	cmd.MarkFlagsMutuallyExclusive("cursor", "all")
}

func (p *pageFlags) validate() error {
	if p.limit < 0 || p.limit > client.MaxPageSize {
		return fmt.Errorf("invalid --limit %d: want 1..%d", p.limit, client.MaxPageSize)
	}
	return nil
}

func (p *pageFlags) params() client.ListParams {
	return client.ListParams{Limit: p.limit, Cursor: p.cursor}
}

// fetchList gets what a list command prints: every item, following the cursors, when
// all is set; otherwise one page and the cursor of the next ("" at the end).
func fetchList[T any](all bool, every func() iter.Seq2[T, error], one func() (*client.Page[T], error)) ([]T, string, error) {
	if !all {
		p, err := one()
		if err != nil {
			return nil, "", err
		}
		return p.Items, p.NextCursor, nil
	}
	items := []T{}
	for item, err := range every() {
		if err != nil {
			return nil, "", err
		}
		items = append(items, item)
	}
	return items, "", nil
}

// runOne does what most client commands do once their own flags are checked: it makes the
// command's call to the server, turns a failure into one line, and prints the answer as
// printOne does. A missing credential is reported before anything is sent. call may make
// more than one request, such as a read before an update; its errors, the flags' included,
// go through explain, which leaves an error that is not the client's as it reads.
func runOne[T any](cmd *cobra.Command, conn *apiConn,
	call func(context.Context, *client.Client) (T, error), human func(io.Writer, T) error) error {
	kw, err := conn.client()
	if err != nil {
		return err
	}
	v, err := call(cmd.Context(), kw)
	if err != nil {
		return conn.explain(err)
	}
	return printOne(cmd, conn, v, human)
}

// printOne prints a command's answer: the API's JSON with -o json (or --json), the same as
// YAML with -o yaml, else as human writes it.
func printOne[T any](cmd *cobra.Command, conn *apiConn, v T, human func(io.Writer, T) error) error {
	if err := conn.out.check(); err != nil {
		return err
	}
	return writeOutput(cmd.OutOrStdout(), conn.out.format(), v, human)
}

// runEach does a call that answers with nothing, such as a revocation, for each ID in the
// order given, and stops at the first failure, which it names as doing and the ID
// ("revoking key_1: ..."). After each success it prints done(id) on a line; with -o json or
// yaml it prints nothing, and the exit status says whether every call succeeded.
func runEach(cmd *cobra.Command, conn *apiConn, ids []string, doing string,
	call func(ctx context.Context, kw *client.Client, id string) error, done func(id string) string) error {
	if err := conn.out.check(); err != nil {
		return err
	}
	kw, err := conn.client()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := call(cmd.Context(), kw, id); err != nil {
			return fmt.Errorf("%s %s: %w", doing, id, conn.explain(err))
		}
		if !conn.out.machine() {
			fmt.Fprintln(cmd.OutOrStdout(), done(id))
		}
	}
	return nil
}

// runList does a list command's work once its own flags are checked: it fetches one page,
// or every page with --all, prints them as runOne does (a JSON array with --json, else a
// table, or empty, a sentence saying there is nothing), then the next-page hint.
func runList[T any](cmd *cobra.Command, conn *apiConn, page *pageFlags,
	every func(*client.Client) iter.Seq2[T, error], one func(*client.Client) (*client.Page[T], error),
	noun, empty string, table func(io.Writer, []T) error) error {
	if err := page.validate(); err != nil {
		return err
	}
	var next string // the next page's cursor, kept for the hint; "" after a failure
	err := runOne(cmd, conn, func(_ context.Context, kw *client.Client) ([]T, error) {
		items, cursor, err := fetchList(page.all, func() iter.Seq2[T, error] { return every(kw) }, func() (*client.Page[T], error) { return one(kw) })
		next = cursor
		return items, err
	}, listWriter(empty, table))
	writeMoreHint(cmd, noun, next)
	return err
}

// listWriter writes a list as table does, or empty, a sentence saying there is nothing,
// when there is nothing in it.
func listWriter[T any](empty string, table func(io.Writer, []T) error) func(io.Writer, []T) error {
	return func(w io.Writer, items []T) error {
		if len(items) == 0 {
			_, err := fmt.Fprintln(w, empty)
			return err
		}
		return table(w, items)
	}
}

// writeMoreHint tells a person how to get the next page. It goes to stderr so that stdout
// stays a clean table or JSON array.
func writeMoreHint(cmd *cobra.Command, noun, next string) {
	if next != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "more %s: run again with --cursor %s, or with --all\n", noun, next)
	}
}
