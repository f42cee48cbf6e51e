package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/url"
	"time"
)

// AuditOutcome says whether an audited request succeeded.
type AuditOutcome string

// Audit outcomes.
const (
	OutcomeSuccess AuditOutcome = "success"
	OutcomeFailure AuditOutcome = "failure"
)

// AuditEvent is one entry of the audit log: a management change, successful or refused.
//
// The wire sends null for unset strings; here they are "". AuditEvent marshals back to the
// same wire form, nulls included.
type AuditEvent struct {
	ID        string    `json:"id"`
	AccountID string    `json:"account_id"`
	At        time.Time `json:"at"`
	// ActorKind is what authenticated the request (see Whoami.Kind); ActorID its id.
	ActorKind CredentialKind `json:"actor_kind"`
	ActorID   string         `json:"actor_id"`
	// Action is the operation, as "create-api-key" or "disable-user".
	Action string `json:"action"`
	// TargetType ("api_key", "user", "role", "member", ...) and TargetID name the object the
	// request made or changed; "" when there is none.
	TargetType string `json:"target_type"`
	TargetID   string `json:"target_id"`
	// RemoteAddr is the address the request came from.
	RemoteAddr string       `json:"remote_addr"`
	Outcome    AuditOutcome `json:"outcome"`
	// ErrorCode says why a failure failed; "" on success.
	ErrorCode Code `json:"error_code"`
}

// MarshalJSON writes the event in its wire form, with null for the unset nullable strings.
func (e AuditEvent) MarshalJSON() ([]byte, error) {
	type plain AuditEvent // has no MarshalJSON, so encoding it does not recurse
	return json.Marshal(struct {
		plain
		TargetType *string `json:"target_type"`
		TargetID   *string `json:"target_id"`
		ErrorCode  *string `json:"error_code"`
	}{
		plain: plain(e), TargetType: nullIfEmpty(e.TargetType), TargetID: nullIfEmpty(e.TargetID),
		ErrorCode: nullIfEmpty(string(e.ErrorCode)),
	})
}

// ListAuditEventsParams filters and pages the audit log. Zero values do not filter.
type ListAuditEventsParams struct {
	// ActorID lists only events by this credential or user.
	ActorID string
	// Action lists only this operation, as "create-api-key".
	Action string
	// TargetID lists only events on this object.
	TargetID string
	Outcome  AuditOutcome
	// From lists only events at or after this time; To only those before it.
	From, To time.Time
	// Limit is the page size, 1..MaxPageSize; 0 lets the server choose.
	Limit int
	// Cursor is a previous page's NextCursor; "" starts at the beginning.
	Cursor string
}

func (p ListAuditEventsParams) query() url.Values {
	q := ListParams{Limit: p.Limit, Cursor: p.Cursor}.query()
	for name, v := range map[string]string{
		"actor_id": p.ActorID, "action": p.Action, "target_id": p.TargetID, "outcome": string(p.Outcome),
	} {
		if v != "" {
			q.Set(name, v)
		}
	}
	if !p.From.IsZero() {
		q.Set("from", p.From.UTC().Format(time.RFC3339Nano))
	}
	if !p.To.IsZero() {
		q.Set("to", p.To.UTC().Format(time.RFC3339Nano))
	}
	return q
}

// ListAuditEvents returns one page of the account's audit log, newest first. It needs the
// audit.read permission. Errors: invalid_request (a bad filter), unauthenticated, forbidden.
func (c *Client) ListAuditEvents(ctx context.Context, params ListAuditEventsParams) (*Page[*AuditEvent], error) {
	return listPage[*AuditEvent](ctx, c, "/v1/audit-events", params.query())
}

// AllAuditEvents yields every audit event that matches params from params.Cursor on, newest
// first, fetching pages as it goes. It stops at the first error, which it yields.
func (c *Client) AllAuditEvents(ctx context.Context, params ListAuditEventsParams) iter.Seq2[*AuditEvent, error] {
	return all(ctx, params.Cursor, func(ctx context.Context, cursor string) (*Page[*AuditEvent], error) {
		p := params
		p.Cursor = cursor
		return c.ListAuditEvents(ctx, p)
	})
}
