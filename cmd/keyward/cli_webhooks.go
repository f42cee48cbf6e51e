package main

import (
	"context"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

func newWebhooksCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:     "webhooks",
		Aliases: []string{"webhook"},
		Short:   "Manage webhook endpoints and follow their deliveries",
		Long: `Manage the webhook endpoints of a running Keyward server through its HTTP API, and follow
the deliveries to them.

An endpoint receives the account's events (api_key.created, api_key.rotated, api_key.leaked,
api_key.expiring, ...; --events limits them), signed per Standard Webhooks with the
endpoint's secret. The secret is printed only by 'webhooks create' and 'webhooks
rotate-secret', once: store it where the receiver can check signatures with it. Failed
deliveries are retried; 'webhooks deliveries' shows every attempt and 'webhooks resend' sends
one again.

Every command needs an admin key (or a credential with account.write to change endpoints):
set KEYWARD_TOKEN (or pass --token). The server is KEYWARD_URL (or --url),
http://127.0.0.1:8080 by default. Add --json to any command for the API's own JSON.`,
		Example: `  keyward webhooks create --url https://hooks.example.com/keyward --events api_key.leaked,api_key.rotated
  keyward webhooks list
  keyward webhooks test $ENDPOINT_ID
  keyward webhooks deliveries $ENDPOINT_ID
  keyward webhooks rotate-secret $ENDPOINT_ID --overlap 1h`,
	}
	conn.registerFlags(cmd)
	cmd.AddCommand(
		newWebhooksCreateCmd(conn),
		newWebhooksListCmd(conn),
		newWebhooksGetCmd(conn),
		newWebhooksUpdateCmd(conn),
		newWebhooksDeleteCmd(conn),
		newWebhooksRotateSecretCmd(conn),
		newWebhooksTestCmd(conn),
		newWebhooksDeliveriesCmd(conn),
		newWebhooksResendCmd(conn),
	)
	return cmd
}

// parseEvents reads --events: event types, blank ones dropped.
func parseEvents(values []string) []string {
	events := []string{}
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			events = append(events, v)
		}
	}
	return events
}

func newWebhooksCreateCmd(conn *apiConn) *cobra.Command {
	var (
		params client.CreateWebhookEndpointParams
		events []string
	)
	cmd := &cobra.Command{
		Use:   "create --url URL [--events a,b] [--description TEXT]",
		Short: "Add a webhook endpoint and print its signing secret once",
		Long: `Add a webhook endpoint to the account and print it with its signing secret (whsec_...). The
secret is shown only this once: store it now. With --json it is the "secret" field.

The URL must be https (http only to a loopback host) and reach the public internet, unless the
server runs with --webhook-allow-private. Without --events the endpoint receives every event.

Here --url is the endpoint's URL, not the Keyward server's: set KEYWARD_URL for the server.`,
		Example: `  keyward webhooks create --url https://hooks.example.com/keyward
  keyward webhooks create --url https://hooks.example.com/keyward --events api_key.leaked,api_key.rotated --description "security team"
  SECRET=$(keyward webhooks create --url https://hooks.example.com/keyward --json | jq -r .secret)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := nonBlank("url", params.URL); err != nil {
				return err
			}
			params.Events = parseEvents(events)
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.CreatedWebhookEndpoint, error) {
				return kw.CreateWebhookEndpoint(ctx, params)
			}, func(w io.Writer, e *client.CreatedWebhookEndpoint) error {
				fmt.Fprintf(w, "Created webhook endpoint %s.\n\n", e.ID)
				if err := writeWebhookDetails(w, &e.WebhookEndpoint); err != nil {
					return err
				}
				writeWebhookSecret(w, e.Secret)
				return nil
			})
		},
	}
	// --url names the endpoint here; the server is KEYWARD_URL (or the parent's --url).
	cmd.Flags().StringVar(&params.URL, "url", "", "the endpoint's URL (required; the Keyward server is then $KEYWARD_URL)")
	cmd.Flags().StringSliceVar(&events, "events", nil, "event types to receive, separated with commas or repeated (default: all)")
	cmd.Flags().StringVar(&params.Description, "description", "", "what the endpoint is for")
	_ = cmd.MarkFlagRequired("url")
	return cmd
}

// writeWebhookSecret prints an endpoint's signing secret, which the server shows only once,
// to stdout like a key's secret.
func writeWebhookSecret(w io.Writer, secret string) {
	fmt.Fprintf(w, "\nSigning secret (store it now, it will not be shown again):\n\n    %s\n\n", secret)
}

func newWebhooksListCmd(conn *apiConn) *cobra.Command {
	var page pageFlags
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "List webhook endpoints",
		Long: `List the account's webhook endpoints, without their secrets. One page is printed; when there
are more, a hint with the next cursor goes to stderr. --all follows the cursors. With --json
the output is a JSON array.`,
		Example: `  keyward webhooks list
  keyward webhooks list --all --json | jq -r '.[] | select(.enabled | not) | .id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd, conn, &page,
				func(kw *client.Client) iter.Seq2[*client.WebhookEndpoint, error] {
					return kw.AllWebhookEndpoints(cmd.Context(), page.params())
				},
				func(kw *client.Client) (*client.Page[*client.WebhookEndpoint], error) {
					return kw.ListWebhookEndpoints(cmd.Context(), page.params())
				},
				"webhook endpoints", "No webhook endpoints. Add one with 'keyward webhooks create --url URL'.", writeWebhooksTable)
		},
	}
	page.register(cmd, "endpoints")
	return cmd
}

func newWebhooksGetCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:     "get ENDPOINT_ID",
		Aliases: []string{"show"},
		Short:   "Show a webhook endpoint",
		Long:    `Show one webhook endpoint: URL, events, whether it is enabled (and if not, why), and any secret overlap.`,
		Example: `  keyward webhooks get $ENDPOINT_ID`,
		Args:    exactlyOneID("webhook endpoint"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.WebhookEndpoint, error) {
				return kw.GetWebhookEndpoint(ctx, args[0])
			}, writeWebhookDetails)
		},
	}
}

func newWebhooksUpdateCmd(conn *apiConn) *cobra.Command {
	var (
		url, description string
		events           []string
		enable, disable  bool
	)
	cmd := &cobra.Command{
		Use:   "update ENDPOINT_ID [--url URL] [--events a,b] [--description TEXT] [--enable|--disable]",
		Short: "Change a webhook endpoint's URL, events or description, or enable or disable it",
		Long: `Change some settings of a webhook endpoint and leave the others as they are. --events replaces
the event types (--events "" subscribes to all of them). --disable stops deliveries; --enable
resumes them, also for an endpoint the server disabled because it answered 410 Gone. The
secret does not change: use 'webhooks rotate-secret'. Here --url is the endpoint's new URL,
not the Keyward server's: set KEYWARD_URL for the server.`,
		Example: `  keyward webhooks update $ENDPOINT_ID --url https://hooks.example.com/v2
  keyward webhooks update $ENDPOINT_ID --events api_key.leaked
  keyward webhooks update $ENDPOINT_ID --disable`,
		Args: exactlyOneID("webhook endpoint"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needOneOf(cmd, "url", "events", "description", "enable", "disable"); err != nil {
				return err
			}
			changed := cmd.Flags().Changed
			var params client.UpdateWebhookEndpointParams
			if changed("url") {
				if err := nonBlank("url", url); err != nil {
					return err
				}
				params.URL = &url
			}
			if changed("events") {
				params.Events = parseEvents(events)
			}
			if changed("description") {
				params.Description = &description
			}
			switch {
			case enable:
				params.Enabled = new(true)
			case disable:
				params.Enabled = new(false)
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.WebhookEndpoint, error) {
				return kw.UpdateWebhookEndpoint(ctx, args[0], params)
			}, func(w io.Writer, e *client.WebhookEndpoint) error {
				fmt.Fprintf(w, "Updated webhook endpoint %s.\n\n", e.ID)
				return writeWebhookDetails(w, e)
			})
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "the endpoint's new URL (the Keyward server is then $KEYWARD_URL)")
	cmd.Flags().StringSliceVar(&events, "events", nil, `event types to receive, replacing the current ones; "" for all`)
	cmd.Flags().StringVar(&description, "description", "", "what the endpoint is for")
	cmd.Flags().BoolVar(&enable, "enable", false, "resume deliveries")
	cmd.Flags().BoolVar(&disable, "disable", false, "stop deliveries")
	cmd.MarkFlagsMutuallyExclusive("enable", "disable")
	return cmd
}

func newWebhooksDeleteCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ENDPOINT_ID...",
		Short: "Delete webhook endpoints",
		Long: `Delete one or more webhook endpoints. Messages still waiting for them are given up. With
--json nothing is printed: the exit status says whether every endpoint was deleted.`,
		Example: `  keyward webhooks delete $ENDPOINT_ID`,
		Args:    atLeastOneID("webhook endpoint"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEach(cmd, conn, args, "deleting", func(ctx context.Context, kw *client.Client, id string) error {
				return kw.DeleteWebhookEndpoint(ctx, id)
			}, func(id string) string { return "Deleted webhook endpoint " + id + "." })
		},
	}
}

func newWebhooksRotateSecretCmd(conn *apiConn) *cobra.Command {
	var overlap time.Duration
	cmd := &cobra.Command{
		Use:   "rotate-secret ENDPOINT_ID [--overlap 24h]",
		Short: "Give a webhook endpoint a new signing secret and print it once",
		Long: `Give a webhook endpoint a new signing secret and print it once. For --overlap (default: the
server's, 24h) every message carries two signatures, the new secret's and the old's, so that
the receiver can switch without losing a message; --overlap 0s ends the old secret at once.`,
		Example: `  keyward webhooks rotate-secret $ENDPOINT_ID
  keyward webhooks rotate-secret $ENDPOINT_ID --overlap 1h
  keyward webhooks rotate-secret $ENDPOINT_ID --overlap 0s --json | jq -r .secret`,
		Args: exactlyOneID("webhook endpoint"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var params client.RotateWebhookSecretParams
			if cmd.Flags().Changed("overlap") {
				if overlap < 0 || overlap > client.MaxSecretOverlap || overlap%time.Second != 0 {
					return fmt.Errorf("invalid --overlap %v: want whole seconds from 0s to %v (7 days)", overlap, client.MaxSecretOverlap)
				}
				params.Overlap = &overlap
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.CreatedWebhookEndpoint, error) {
				return kw.RotateWebhookSecret(ctx, args[0], params)
			}, func(w io.Writer, e *client.CreatedWebhookEndpoint) error {
				fmt.Fprintf(w, "Rotated the signing secret of webhook endpoint %s.\n", e.ID)
				if e.PreviousSecretExpiresAt != nil {
					fmt.Fprintf(w, "The old secret keeps signing beside the new one until %s.\n", formatAPITime(e.PreviousSecretExpiresAt, "-"))
				} else {
					fmt.Fprintln(w, "The old secret no longer signs.")
				}
				writeWebhookSecret(w, e.Secret)
				return nil
			})
		},
	}
	cmd.Flags().DurationVar(&overlap, "overlap", 0, "how long the old secret keeps signing beside the new one, as a Go duration such as 1h (at most 168h; default: the server's, 24h)")
	return cmd
}

func newWebhooksTestCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:   "test ENDPOINT_ID",
		Short: "Send a webhook.test event to an endpoint",
		Long: `Queue a webhook.test event for an endpoint and print its delivery. It is sent like any event;
follow it with 'keyward webhooks deliveries ENDPOINT_ID'.`,
		Example: `  keyward webhooks test $ENDPOINT_ID`,
		Args:    exactlyOneID("webhook endpoint"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.WebhookDelivery, error) {
				return kw.TestWebhookEndpoint(ctx, args[0])
			}, func(w io.Writer, d *client.WebhookDelivery) error {
				fmt.Fprintf(w, "Queued %s to %s as %s.\n", d.Event, args[0], d.ID)
				fmt.Fprintf(w, "Follow it with: keyward webhooks deliveries %s\n", args[0])
				return nil
			})
		},
	}
}

func newWebhooksDeliveriesCmd(conn *apiConn) *cobra.Command {
	var page pageFlags
	cmd := &cobra.Command{
		Use:   "deliveries ENDPOINT_ID [flags]",
		Short: "List a webhook endpoint's deliveries, newest first",
		Long: `List the messages sent, or to be sent, to a webhook endpoint, newest first: each one's event,
status (pending, delivered or failed), number of attempts, the last attempt's HTTP status
and, while pending, when the next attempt is due. With --json the output is the API's array,
every attempt and the payload included.`,
		Example: `  keyward webhooks deliveries $ENDPOINT_ID
  keyward webhooks deliveries $ENDPOINT_ID --json | jq '.[0].attempts'`,
		Args: exactlyOneID("webhook endpoint"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd, conn, &page,
				func(kw *client.Client) iter.Seq2[*client.WebhookDelivery, error] {
					return kw.AllWebhookDeliveries(cmd.Context(), args[0], page.params())
				},
				func(kw *client.Client) (*client.Page[*client.WebhookDelivery], error) {
					return kw.ListWebhookDeliveries(cmd.Context(), args[0], page.params())
				},
				"deliveries", "No deliveries to "+args[0]+" yet.", writeDeliveriesTable)
		},
	}
	page.register(cmd, "deliveries")
	return cmd
}

func newWebhooksResendCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:   "resend MSG_ID",
		Short: "Send a delivery again, now",
		Long: `Make a message due now, whether it was delivered or given up, with the same webhook-id, so
that a receiver that already has it can tell. A scheduled rotation's message to a key's own
rotation webhook cannot be resent: its secret is erased once it is done.`,
		Example: `  keyward webhooks resend msg_...`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return fmt.Errorf("want exactly one message ID (msg_...), got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.WebhookDelivery, error) {
				return kw.ResendWebhookDelivery(ctx, args[0])
			}, func(w io.Writer, d *client.WebhookDelivery) error {
				fmt.Fprintf(w, "Queued %s (%s) again.\n\n", d.ID, d.Event)
				return writeDeliveriesTable(w, []*client.WebhookDelivery{d})
			})
		},
	}
}

func formatEvents(events []string) string {
	if len(events) == 0 {
		return "all"
	}
	return strings.Join(events, ",")
}

func formatEnabled(e *client.WebhookEndpoint) string {
	switch {
	case e.Enabled:
		return "enabled"
	case e.DisabledReason != "":
		return "disabled (" + e.DisabledReason + ")"
	}
	return "disabled"
}

func writeWebhooksTable(w io.Writer, endpoints []*client.WebhookEndpoint) error {
	tw := newTable(w)
	tableRow(tw, "ID", "URL", "EVENTS", "STATUS", "CREATED")
	for _, e := range endpoints {
		tableRow(tw, e.ID, e.URL, formatEvents(e.Events), formatEnabled(e), formatAPITime(&e.CreatedAt, "-"))
	}
	return tw.Flush()
}

// writeWebhookDetails shows every field of one endpoint, one per line.
func writeWebhookDetails(w io.Writer, e *client.WebhookEndpoint) error {
	tw := newTable(w)
	tableRow(tw, "ID", e.ID)
	tableRow(tw, "URL", e.URL)
	tableRow(tw, "DESCRIPTION", orDash(e.Description))
	tableRow(tw, "EVENTS", formatEvents(e.Events))
	tableRow(tw, "STATUS", formatEnabled(e))
	if e.PreviousSecretExpiresAt != nil {
		tableRow(tw, "OLD SECRET UNTIL", formatAPITime(e.PreviousSecretExpiresAt, "-"))
	}
	tableRow(tw, "CREATED", formatAPITime(&e.CreatedAt, "-"))
	tableRow(tw, "UPDATED", formatAPITime(&e.UpdatedAt, "-"))
	return tw.Flush()
}

// writeDeliveriesTable lists deliveries: id, event, status, attempts, the last attempt's
// status code and, while pending, the next attempt.
func writeDeliveriesTable(w io.Writer, ds []*client.WebhookDelivery) error {
	tw := newTable(w)
	tableRow(tw, "ID", "EVENT", "STATUS", "ATTEMPTS", "LAST STATUS", "NEXT ATTEMPT")
	for _, d := range ds {
		last := "-"
		if n := len(d.Attempts); n > 0 {
			a := d.Attempts[n-1]
			last = strconv.Itoa(a.StatusCode)
			if a.StatusCode == 0 {
				last = "no answer"
			}
		}
		next := "-"
		if d.Status == client.DeliveryPending {
			next = formatAPITime(d.NextAttemptAt, "-")
		}
		tableRow(tw, d.ID, d.Event, string(d.Status), strconv.Itoa(len(d.Attempts)), last, next)
	}
	return tw.Flush()
}
