package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/keyward/keyward/internal/keyward"
)

const auditColumns = `id, account_id, at, actor_kind, actor_id, action, target_type, target_id,
	remote_addr, outcome, error_code`

// RecordAudit inserts e. Errors: EConflict if its id is taken.
func (s *Store) RecordAudit(ctx context.Context, e *keyward.AuditEvent) error {
	_, err := s.writer().ExecContext(ctx,
		`INSERT INTO audit_events (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.AccountID, micros(e.At), nullString(e.ActorKind), nullString(e.ActorID), e.Action,
		nullString(e.TargetType), nullString(e.TargetID), nullString(e.RemoteAddr), e.Outcome,
		nullString(e.ErrorCode))
	if err != nil {
		return insertError(err, "audit event", e.ID, "audit_events.id", fmt.Sprintf("audit event %s already exists", e.ID))
	}
	return nil
}

// ListAuditEvents returns up to f.Limit of the account's events matching f, newest (highest
// id) first.
func (s *Store) ListAuditEvents(ctx context.Context, f keyward.AuditFilter) ([]*keyward.AuditEvent, error) {
	if f.Limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + auditColumns + ` FROM audit_events WHERE account_id = ?`)
	args := []any{f.AccountID}
	for _, c := range []struct{ cond, value string }{
		{` AND id < ?`, f.Before},
		{` AND actor_id = ?`, f.ActorID},
		{` AND action = ?`, f.Action},
		{` AND target_id = ?`, f.TargetID},
		{` AND outcome = ?`, f.Outcome},
	} {
		if c.value != "" {
			q.WriteString(c.cond)
			args = append(args, c.value)
		}
	}
	if !f.From.IsZero() {
		q.WriteString(` AND at >= ?`)
		args = append(args, micros(f.From))
	}
	if !f.To.IsZero() {
		q.WriteString(` AND at < ?`)
		args = append(args, micros(f.To))
	}
	q.WriteString(` ORDER BY id DESC LIMIT ?`)
	args = append(args, f.Limit)

	rows, err := s.reader().QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit events: %w", err)
	}
	defer rows.Close()
	var out []*keyward.AuditEvent
	for rows.Next() {
		e, err := scanAuditEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list audit events: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list audit events: %w", err)
	}
	return out, nil
}

func scanAuditEvent(row scanner) (*keyward.AuditEvent, error) {
	var (
		e                                                       keyward.AuditEvent
		at                                                      int64
		actorKind, actorID, targetType, targetID, addr, errCode sql.NullString
	)
	err := row.Scan(&e.ID, &e.AccountID, &at, &actorKind, &actorID, &e.Action, &targetType,
		&targetID, &addr, &e.Outcome, &errCode)
	if err != nil {
		return nil, err
	}
	e.At = fromMicros(at)
	e.ActorKind = actorKind.String
	e.ActorID = actorID.String
	e.TargetType = targetType.String
	e.TargetID = targetID.String
	e.RemoteAddr = addr.String
	e.ErrorCode = errCode.String
	return &e, nil
}

// AuditAccountIDs returns up to limit of the account ids that events name with id > after, by
// id, each once, whether or not the store holds the account.
func (s *Store) AuditAccountIDs(ctx context.Context, after string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	return query(ctx, s.reader(), func(row scanner) (string, error) {
		var id string
		return id, row.Scan(&id)
	}, "audit account ids",
		`SELECT DISTINCT account_id FROM audit_events WHERE account_id > ? ORDER BY account_id LIMIT ?`,
		after, limit)
}
