package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keyward"
)

const auditColumns = `id, account_id, at, actor_kind, actor_id, action, target_type, target_id,
	remote_addr, outcome, error_code`

// RecordAudit inserts e. Errors: EConflict if its id is taken.
func (s *Store) RecordAudit(ctx context.Context, e *keyward.AuditEvent) error {
	_, err := s.db().Exec(ctx,
		`INSERT INTO audit_events (`+auditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.ID, e.AccountID, ts(e.At), nullString(e.ActorKind), nullString(e.ActorID), e.Action,
		nullString(e.TargetType), nullString(e.TargetID), nullString(e.RemoteAddr), e.Outcome,
		nullString(e.ErrorCode))
	return writeError(err, "audit event "+e.ID, nil)
}

// ListAuditEvents returns up to f.Limit of the account's events matching f, newest (highest
// id) first.
func (s *Store) ListAuditEvents(ctx context.Context, f keyward.AuditFilter) ([]*keyward.AuditEvent, error) {
	if f.Limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + auditColumns + ` FROM audit_events WHERE account_id = $1`)
	args := []any{f.AccountID}
	cond := func(c string, v any) {
		args = append(args, v)
		fmt.Fprintf(&q, c, len(args))
	}
	for _, c := range []struct{ cond, value string }{
		{` AND id < $%d`, f.Before},
		{` AND actor_id = $%d`, f.ActorID},
		{` AND action = $%d`, f.Action},
		{` AND target_id = $%d`, f.TargetID},
		{` AND outcome = $%d`, f.Outcome},
	} {
		if c.value != "" {
			cond(c.cond, c.value)
		}
	}
	if !f.From.IsZero() {
		cond(` AND at >= $%d`, ts(f.From))
	}
	if !f.To.IsZero() {
		cond(` AND at < $%d`, ts(f.To))
	}
	cond(` ORDER BY id DESC LIMIT $%d`, f.Limit)
	return query(ctx, s.db(), scanAuditEvent, "list audit events", q.String(), args...)
}

func scanAuditEvent(row pgx.Row) (*keyward.AuditEvent, error) {
	var (
		e                                                       keyward.AuditEvent
		at                                                      time.Time
		actorKind, actorID, targetType, targetID, addr, errCode *string
	)
	err := row.Scan(&e.ID, &e.AccountID, &at, &actorKind, &actorID, &e.Action, &targetType,
		&targetID, &addr, &e.Outcome, &errCode)
	if err != nil {
		return nil, err
	}
	e.At = at.UTC()
	e.ActorKind = str(actorKind)
	e.ActorID = str(actorID)
	e.TargetType = str(targetType)
	e.TargetID = str(targetID)
	e.RemoteAddr = str(addr)
	e.ErrorCode = str(errCode)
	return &e, nil
}

// AuditAccountIDs returns up to limit of the account ids that events name with id > after, by
// id, each once, whether or not the store holds the account.
func (s *Store) AuditAccountIDs(ctx context.Context, after string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	return query(ctx, s.db(), func(row pgx.Row) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, "audit account ids",
		`SELECT DISTINCT account_id FROM audit_events WHERE account_id > $1 ORDER BY account_id LIMIT $2`,
		after, limit)
}
