package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// AuditEventJSON is one audit log entry on the wire.
type AuditEventJSON struct {
	ID         string    `json:"id"`
	AccountID  string    `json:"account_id"`
	At         time.Time `json:"at"`
	ActorKind  string    `json:"actor_kind" doc:"admin_key, api_key or user; operator for keyward admin's commands on the store, system for Keyward's own (the bootstrap)."`
	ActorID    string    `json:"actor_id"`
	Action     string    `json:"action" doc:"What was done, named as the canonical route's operation (create-api-key), whichever route or command did it."`
	TargetType *string   `json:"target_type"`
	TargetID   *string   `json:"target_id"`
	RemoteAddr string    `json:"remote_addr" doc:"The address the request came from (the TCP peer; X-Forwarded-For is not trusted)."`
	Outcome    string    `json:"outcome" enum:"success,failure"`
	ErrorCode  *string   `json:"error_code" doc:"Why a failure failed: the domain's error code, as the problem's code (forbidden, rate_limited, usage_exceeded, …)."`
}

func auditEventJSON(e *keyward.AuditEvent) AuditEventJSON {
	return AuditEventJSON{ID: e.ID, AccountID: e.AccountID, At: e.At, ActorKind: e.ActorKind, ActorID: e.ActorID,
		Action: e.Action, TargetType: optional(e.TargetType), TargetID: optional(e.TargetID), RemoteAddr: e.RemoteAddr,
		Outcome: e.Outcome, ErrorCode: optional(e.ErrorCode)}
}

type listAuditInput struct {
	Actor   string    `query:"actor_id" doc:"Only events by this credential or user."`
	Action  string    `query:"action" maxLength:"128" doc:"Only this operation, as create-api-key."`
	Target  string    `query:"target_id" doc:"Only events on this object."`
	Outcome string    `query:"outcome" enum:"success,failure"`
	From    time.Time `query:"from" doc:"Only events at or after this time (RFC 3339)."`
	To      time.Time `query:"to" doc:"Only events before this time (RFC 3339)."`
	PageParams
}

type listAuditOutput struct {
	PageHeaders
	Body []AuditEventJSON
}

func (s *Server) auditRoutes() []route {
	return []route{
		operation(huma.Operation{
			OperationID: "list-audit-events", Method: http.MethodGet, Path: "/v1/audit-events",
			Summary: "List audit events", Tags: []string{"Audit"},
			Description: "Every management change, successful or refused, newest first: who (actor), what (action), which object (target), when, from which address, and the outcome. Needs audit.read.",
		}, s.listAuditEvents),
	}
}

func (s *Server) listAuditEvents(ctx context.Context, in *listAuditInput) (*listAuditOutput, error) {
	pg, err := in.page()
	if err != nil {
		return nil, err
	}
	items, next, err := s.svc.ListAuditEvents(ctx, principal(ctx), keyward.AuditQuery{
		ActorID: in.Actor, Action: in.Action, TargetID: in.Target, Outcome: in.Outcome, From: in.From, To: in.To, Page: pg,
	})
	if err != nil {
		return nil, err
	}
	out := &listAuditOutput{Body: mapSlice(items, auditEventJSON)}
	q := url.Values{"actor_id": {in.Actor}, "action": {in.Action}, "target_id": {in.Target}, "outcome": {in.Outcome}}
	if !in.From.IsZero() {
		q.Set("from", in.From.Format(time.RFC3339Nano))
	}
	if !in.To.IsZero() {
		q.Set("to", in.To.Format(time.RFC3339Nano))
	}
	out.PageHeaders = nextPage("/v1/audit-events", q, in.Limit, next)
	return out, nil
}
