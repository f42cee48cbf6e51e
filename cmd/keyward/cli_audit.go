package main

import (
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

func newAuditCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log",
		Long: `Read the account's audit log through a running Keyward server's HTTP API. Every management
change is recorded, successful or refused: who (the actor: an admin key, an API key or a
user), what (the action, as create-api-key), which object (the target), when, from which
address, and the outcome. Reading it needs the audit.read permission.` + identityHelpTail,
		Example: `  keyward audit list
  keyward audit list --action create-api-key --since 24h
  keyward audit list --outcome failure --json`,
	}
	conn.registerFlags(cmd)
	cmd.AddCommand(newAuditListCmd(conn))
	return cmd
}

// parseTimeFlag reads a time flag, which must be RFC 3339.
func parseTimeFlag(flag, value string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(value))
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid --%s %q: want an RFC 3339 time such as 2026-01-31T00:00:00Z", flag, value)
	}
	return t, nil
}

func newAuditListCmd(conn *apiConn) *cobra.Command {
	var (
		filter   client.ListAuditEventsParams
		outcome  string
		from, to string
		since    time.Duration
		page     pageFlags
	)
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "List audit events, newest first",
		Long: `List the account's audit events, newest first, optionally only those of one actor, one
action, one target object or one outcome, and only those in a time window: --from (or
--since, a duration back from now) and --to.

One page is printed; when there are more, a hint with the next cursor goes to stderr. --all
follows the cursors and prints every event. With --json the output is a JSON array.`,
		Example: `  keyward audit list
  keyward audit list --actor $KEY_ID --outcome failure
  keyward audit list --target $USER_ID --since 168h
  keyward audit list --action disable-user --from 2026-01-01T00:00:00Z --to 2026-02-01T00:00:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch client.AuditOutcome(outcome) {
			case "", client.OutcomeSuccess, client.OutcomeFailure:
				filter.Outcome = client.AuditOutcome(outcome)
			default:
				return fmt.Errorf("invalid --outcome %q: want success or failure", outcome)
			}
			var err error
			changed := cmd.Flags().Changed
			switch {
			case changed("from"):
				if filter.From, err = parseTimeFlag("from", from); err != nil {
					return err
				}
			case changed("since"):
				if since <= 0 {
					return fmt.Errorf("invalid --since %v: want a positive duration such as 24h", since)
				}
				filter.From = time.Now().Add(-since)
			}
			if changed("to") {
				if filter.To, err = parseTimeFlag("to", to); err != nil {
					return err
				}
			}
			if !filter.From.IsZero() && !filter.To.IsZero() && !filter.From.Before(filter.To) {
				return fmt.Errorf("invalid time window: --from (or --since) must be before --to")
			}
			filter.Limit, filter.Cursor = page.limit, page.cursor // checked by runList
			return runList(cmd, conn, &page,
				func(kw *client.Client) iter.Seq2[*client.AuditEvent, error] {
					return kw.AllAuditEvents(cmd.Context(), filter)
				},
				func(kw *client.Client) (*client.Page[*client.AuditEvent], error) {
					return kw.ListAuditEvents(cmd.Context(), filter)
				},
				"events", "No audit events.", writeAuditTable)
		},
	}
	f := cmd.Flags()
	f.StringVar(&filter.ActorID, "actor", "", "only events by this admin key, API key or user ID")
	f.StringVar(&filter.Action, "action", "", "only this action, e.g. create-api-key")
	f.StringVar(&filter.TargetID, "target", "", "only events on this object ID")
	f.StringVar(&outcome, "outcome", "", "only this outcome: success or failure")
	f.StringVar(&from, "from", "", "only events at or after this RFC 3339 time")
	f.DurationVar(&since, "since", 0, "only events this long ago or later, as a Go duration, e.g. 24h")
	f.StringVar(&to, "to", "", "only events before this RFC 3339 time")
	cmd.MarkFlagsMutuallyExclusive("from", "since")
	page.register(cmd, "events")
	_ = cmd.RegisterFlagCompletionFunc("outcome", cobra.FixedCompletions(
		[]cobra.Completion{string(client.OutcomeSuccess), string(client.OutcomeFailure)}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// formatRef is "kind id", or "-" without an id.
func formatRef(kind, id string) string {
	switch {
	case id == "":
		return "-"
	case kind == "":
		return id
	}
	return kind + " " + id
}

func formatOutcome(e *client.AuditEvent) string {
	if e.ErrorCode != "" {
		return fmt.Sprintf("%s (%s)", e.Outcome, e.ErrorCode)
	}
	return string(e.Outcome)
}

func writeAuditTable(w io.Writer, events []*client.AuditEvent) error {
	tw := newTable(w)
	tableRow(tw, "AT", "ACTION", "OUTCOME", "ACTOR", "TARGET", "FROM")
	for _, e := range events {
		tableRow(tw, formatAPITime(&e.At, "-"), e.Action, formatOutcome(e), formatRef(string(e.ActorKind), e.ActorID),
			formatRef(e.TargetType, e.TargetID), orDash(e.RemoteAddr))
	}
	return tw.Flush()
}
