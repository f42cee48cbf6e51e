package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

const sessionColumns = `id, token_hash, account_id, kind, principal_id, created_at, last_seen_at, expires_at, revoked_at`

// CreateSession inserts s.
func (s *Store) CreateSession(ctx context.Context, sess *keyward.Session) error {
	_, err := s.writer().ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sess.ID, sess.TokenHash, sess.AccountID, sess.Kind, sess.PrincipalID, micros(sess.CreatedAt),
		micros(sess.LastSeenAt), micros(sess.ExpiresAt), nullMicros(sess.RevokedAt))
	if err != nil {
		return insertError(err, "session", sess.ID, "sessions.token_hash", "a session with this token exists")
	}
	return nil
}

// SessionByTokenHash returns the session with the hash. Errors: ENotFound.
func (s *Store) SessionByTokenHash(ctx context.Context, hash []byte) (*keyward.Session, error) {
	var (
		sess                  keyward.Session
		created, seen, expire int64
		revoked               sql.NullInt64
	)
	err := s.reader().QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = ?`, hash).Scan(
		&sess.ID, &sess.TokenHash, &sess.AccountID, &sess.Kind, &sess.PrincipalID, &created, &seen, &expire, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keyward.Errorf(keyward.ENotFound, "session not found")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: session: %w", err)
	}
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expire)
	sess.RevokedAt = fromNullMicros(revoked)
	return &sess, nil
}

// TouchSession sets the session's last use. Errors: ENotFound.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, micros(at), id)
	return affected(res, err, "touch", "session", id)
}

// RevokeSession ends the session unless it has ended. Errors: ENotFound.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, micros(at), id)
	return affected(res, err, "revoke", "session", id)
}

// PruneSessions deletes sessions that expired or were revoked before before.
func (s *Store) PruneSessions(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.writer().ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?`, micros(before), micros(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune sessions: %w", err)
	}
	return res.RowsAffected()
}
