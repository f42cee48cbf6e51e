package keyward

import (
	"context"
	"time"
)

// RecordAudit writes e to the audit log, filling in its id and time.
func (s *Service) RecordAudit(ctx context.Context, e *AuditEvent) error {
	e.ID = NewID()
	e.At = s.Now()
	return s.store.RecordAudit(ctx, e)
}

// AuditQuery filters the audit log. Empty fields do not filter.
type AuditQuery struct {
	ActorID  string
	Action   string
	TargetID string
	Outcome  string
	From, To time.Time
	Page     Page // After is the id of the last event of the previous page
}

// ListAuditEvents returns a page of p's account's audit log, newest first. Errors:
// EForbidden, EInvalid.
func (s *Service) ListAuditEvents(ctx context.Context, p Principal, q AuditQuery) ([]*AuditEvent, string, error) {
	if err := authorize(p, PermAuditRead, ""); err != nil {
		return nil, "", err
	}
	if q.Page.After != "" && !ValidID(q.Page.After) {
		return nil, "", Errorf(EInvalid, "%q is not a valid id", q.Page.After)
	}
	switch q.Outcome {
	case "", OutcomeSuccess, OutcomeFailure:
	default:
		return nil, "", Errorf(EInvalid, "outcome must be %s or %s", OutcomeSuccess, OutcomeFailure)
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return nil, "", Errorf(EInvalid, "from must be before to")
	}
	limit := q.Page.limit()
	items, err := s.store.ListAuditEvents(ctx, AuditFilter{
		AccountID: p.AccountID, ActorID: q.ActorID, Action: q.Action, TargetID: q.TargetID, Outcome: q.Outcome,
		From: q.From.UTC(), To: q.To.UTC(), Before: q.Page.After, Limit: limit + 1,
	})
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, limit, func(x *AuditEvent) string { return x.ID })
	return items, next, nil
}

// Audit records that p attempted action on a target, and how it ended: err nil is a
// success, anything else a failure with its code. remoteAddr is the caller's address.
func (s *Service) Audit(ctx context.Context, p Principal, action, targetType, targetID, remoteAddr string, err error) error {
	e := &AuditEvent{
		AccountID: p.AccountID, ActorKind: p.Kind, ActorID: p.ID,
		Action: action, TargetType: targetType, TargetID: targetID, RemoteAddr: remoteAddr,
		Outcome: OutcomeSuccess,
	}
	if err != nil {
		e.Outcome, e.ErrorCode = OutcomeFailure, string(ErrorCode(err))
	}
	// The caller's request may have been cancelled as the response went out; the record
	// must still be written.
	return s.RecordAudit(context.WithoutCancel(ctx), e)
}
