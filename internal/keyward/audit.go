package keyward

import (
	"context"
	"sync"
	"time"
)

// The actions the audit log records: every change the service makes, named as the canonical
// API's operations are ("create-api-key"), whichever route or command asked for it.
const (
	ActionCreateAccount     = "create-account"
	ActionUpdateAccount     = "update-account"
	ActionCreateProject     = "create-project"
	ActionCreateEnvironment = "create-environment"
	ActionCreateKey         = "create-api-key"
	ActionUpdateKey         = "update-api-key"
	ActionRevokeKey         = "revoke-api-key"
	ActionRotateKey         = "rotate-api-key"
	ActionRequestTier       = "request-rate-limit-tier"
	ActionApproveTier       = "approve-tier-request"
	ActionRejectTier        = "reject-tier-request"
	ActionCreateTier        = "create-rate-limit-tier"
	ActionUpdateTier        = "update-rate-limit-tier"
	ActionAddMember         = "add-member"
	ActionUpdateMember      = "update-member"
	ActionRemoveMember      = "remove-member"
	ActionCreateUser        = "create-user"
	ActionUpdateUser        = "update-user"
	ActionDisableUser       = "disable-user"
	ActionCreateRole        = "create-role"
	ActionUpdateRole        = "update-role"
	ActionDeleteRole        = "delete-role"
	// ActionProvisionUser is a user created by their first sign-in.
	ActionProvisionUser = "sign-in-create-user"
	// Operators' commands on the store (keyward admin …).
	ActionBootstrap      = "bootstrap"
	ActionCreateAdminKey = "create-admin-key"
	ActionRevokeAdminKey = "revoke-admin-key"
	ActionSeedKeys       = "seed-keys"
	// Keyward's own acts (KindSystem) and reports from outside.
	ActionRotationDue   = "notify-rotation-due"
	ActionReportLeak    = "report-leaked-api-key"
	ActionImportKeys    = "import-api-keys"
	ActionUpdateProject = "update-project"
)

// Actions lists every audit action, in a fixed order (documentation and tests use it).
var Actions = []string{
	ActionCreateAccount, ActionUpdateAccount, ActionCreateProject, ActionCreateEnvironment,
	ActionCreateKey, ActionUpdateKey, ActionRevokeKey, ActionRotateKey,
	ActionRequestTier, ActionApproveTier, ActionRejectTier, ActionCreateTier, ActionUpdateTier,
	ActionAddMember, ActionUpdateMember, ActionRemoveMember,
	ActionCreateUser, ActionUpdateUser, ActionDisableUser,
	ActionCreateRole, ActionUpdateRole, ActionDeleteRole, ActionProvisionUser,
	ActionBootstrap, ActionCreateAdminKey, ActionRevokeAdminKey, ActionSeedKeys,
	ActionCreateWebhook, ActionUpdateWebhook, ActionDeleteWebhook, ActionRotateWebhookSecret,
	ActionResendWebhook, ActionTestWebhook, ActionRotationDue, ActionReportLeak, ActionImportKeys,
	ActionUpdateProject, ActionSignIn, ActionSignOut,
}

// Audit target types.
const (
	TargetAccount     = "account"
	TargetProject     = "project"
	TargetEnvironment = "environment"
	TargetKey         = "api_key"
	TargetAdminKey    = "admin_key"
	TargetTier        = "rate_limit_tier"
	TargetTierRequest = "tier_request"
	TargetMember      = "member"
	TargetUser        = "user"
	TargetRole        = "role"
)

// RequestInfo is what a transport tells the domain about the request an operation serves,
// for the audit log.
type RequestInfo struct {
	// RemoteAddr is the caller's address.
	RemoteAddr string
	// Action is the audit action the request asks for: it names a refusal recorded before
	// any operation runs (a key over its rate limit). "" for a request that changes nothing.
	Action string
}

type requestInfoKey struct{}

// WithRequestInfo returns ctx carrying info.
func WithRequestInfo(ctx context.Context, info RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// RequestInfoFrom returns the request information in ctx, or the zero value.
func RequestInfoFrom(ctx context.Context) RequestInfo {
	info, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return info
}

// auditEvent starts the record of an operation by p. A target that is neither an id nor a
// tier's name (the caller sent garbage) is left out rather than stored.
func (s *Service) auditEvent(ctx context.Context, p Principal, action, targetType, targetID string) *AuditEvent {
	if !ValidID(targetID) && !(targetType == TargetTier && slugPattern.MatchString(targetID)) {
		targetID = ""
	}
	return &AuditEvent{
		AccountID: p.AccountID, ActorKind: p.Kind, ActorID: p.ID, Action: action,
		TargetType: targetType, TargetID: targetID, RemoteAddr: RequestInfoFrom(ctx).RemoteAddr,
	}
}

// record writes e with the outcome err (nil for a success) through the service's store.
func (s *Service) record(ctx context.Context, e *AuditEvent, err error) error {
	e.ID, e.At, e.Outcome, e.ErrorCode = NewID(), s.Now(), OutcomeSuccess, ""
	if err != nil {
		e.Outcome, e.ErrorCode = OutcomeFailure, string(ErrorCode(err))
	}
	if e.AccountID == "" {
		return nil // nothing to file it under: an operator's command that failed early
	}
	if e.TargetID == "" {
		e.TargetType = "" // an object not made, or not named: no target at all
	}
	// The caller's request may have been cancelled as the answer went out; the record must
	// still be written.
	return s.store.RecordAudit(context.WithoutCancel(ctx), e)
}

// recordFailure records that an operation failed with err. It cannot fail the operation,
// which has failed already: a record the store is unavailable to take waits in the backlog
// for it to come back (see auditbacklog.go), and one it refuses otherwise is logged.
func (s *Service) recordFailure(ctx context.Context, e *AuditEvent, err error) {
	rerr := s.record(ctx, e, err)
	switch {
	case rerr == nil:
	case IsOutage(rerr):
		if kept, firstLost := s.backlog.keep(e); !kept && firstLost {
			s.log.Error("audit: the store is unavailable and the audit backlog is full; records are being lost until it is back",
				"backlog_size", s.backlog.size)
		}
	default:
		s.log.Error("audit: could not record a failed operation", "action", e.Action, "code", ErrorCode(err), "err", rerr)
	}
}

// AuditRefusal records that a known principal's request was refused before any operation
// ran (its key over its rate limit, out of credits, or its user disabled), under the action
// the transport named in the request information. Requests that change nothing are not
// recorded, and of a burst of refusals of one principal's action, one a second is: a client
// hammering its limit must not turn each refused request into a write.
func (s *Service) AuditRefusal(ctx context.Context, p Principal, err error) {
	info := RequestInfoFrom(ctx)
	if info.Action == "" || p.AccountID == "" || !s.refusals.allow(p.ID+" "+info.Action, s.now()) {
		return
	}
	s.recordFailure(ctx, s.auditEvent(ctx, p, info.Action, "", ""), err)
}

// refusalThrottle lets one refusal record a second through per name, in bounded memory.
type refusalThrottle struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// refusalNames bounds the names a throttle remembers; beyond it, it starts afresh.
const refusalNames = 10_000

func (t *refusalThrottle) allow(name string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil || len(t.last) >= refusalNames {
		t.last = map[string]time.Time{}
	}
	if last, ok := t.last[name]; ok && now.Sub(last) < time.Second {
		return false
	}
	t.last[name] = now
	return true
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
