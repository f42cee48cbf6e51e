package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keyward"
)

const sessionColumns = `id, token_hash, account_id, kind, principal_id, created_at, last_seen_at, expires_at, revoked_at`

// CreateSession inserts s.
func (s *Store) CreateSession(ctx context.Context, sess *keyward.Session) error {
	_, err := s.db().Exec(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		sess.ID, sess.TokenHash, sess.AccountID, sess.Kind, sess.PrincipalID, ts(sess.CreatedAt),
		ts(sess.LastSeenAt), ts(sess.ExpiresAt), nullTS(sess.RevokedAt))
	return writeError(err, "session "+sess.ID, violations{
		"sessions_token_hash_key": conflict("a session with this token exists"),
		"sessions_account_fkey":   notFound("account", sess.AccountID),
	})
}

// SessionByTokenHash returns the session with the hash. Errors: ENotFound.
func (s *Store) SessionByTokenHash(ctx context.Context, hash []byte) (*keyward.Session, error) {
	var (
		sess                  keyward.Session
		created, seen, expire time.Time
		revoked               *time.Time
	)
	err := s.db().QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = $1`, hash).Scan(
		&sess.ID, &sess.TokenHash, &sess.AccountID, &sess.Kind, &sess.PrincipalID, &created, &seen, &expire, &revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, keyward.Errorf(keyward.ENotFound, "session not found")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: session: %w", err)
	}
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = created.UTC(), seen.UTC(), expire.UTC()
	sess.RevokedAt = utc(revoked)
	return &sess, nil
}

// TouchSession sets the session's last use. Errors: ENotFound.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "session", id, nil, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2`, ts(at), id)
}

// RevokeSession ends the session unless it has ended. Errors: ENotFound.
func (s *Store) RevokeSession(ctx context.Context, id string, at time.Time) error {
	return s.execOne(ctx, "session", id, nil, `UPDATE sessions SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2`, ts(at), id)
}

// PruneSessions deletes sessions that expired or were revoked before before.
func (s *Store) PruneSessions(ctx context.Context, before time.Time) (int64, error) {
	tag, err := s.db().Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1`, ts(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: prune sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}
