package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyward/keyward/internal/keyward"
)

const keyColumns = `id, account_id, project_id, environment_id, user_id, role_id,
	rate_limit_tier, name, key_prefix, last4, hash, hash_scheme, scopes, metadata, expires_at,
	last_used_at, created_at, revoked_at, replaced_by_key_id, grace_expires_at,
	rotation_interval_days, next_rotation_at, rotation_webhook_url, created_by`

// CreateKey inserts k and its project accesses, in one transaction. Errors: EConflict if its
// hash is taken or an access names a project twice; ENotFound if its project, environment,
// user or an access's project is absent or another account's.
func (s *Store) CreateKey(ctx context.Context, k *keyward.Key) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error { return insertKey(ctx, tx, k) })
}

// CreateKeys implements keyward.KeyStore.
func (s *Store) CreateKeys(ctx context.Context, keys []*keyward.Key) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			if err := insertKey(ctx, tx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// insertKey inserts k and its project accesses, as memberships that share its creation time.
func insertKey(ctx context.Context, tx *sql.Tx, k *keyward.Key) error {
	scopes, err := encodeScopes(k.Scopes)
	if err != nil {
		return fmt.Errorf("sqlite: key %s scopes: %w", k.ID, err)
	}
	metadata, err := encodeMetadata(k.Metadata)
	if err != nil {
		return fmt.Errorf("sqlite: key %s metadata: %w", k.ID, err)
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO api_keys (`+keyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, nullString(k.ProjectID), nullString(k.EnvironmentID),
		nullString(k.UserID), nullString(k.RoleID), k.RateLimitTier, k.Name, k.Prefix, k.Last4,
		k.Hash, k.HashScheme, scopes, metadata, nullMicros(k.ExpiresAt), nullMicros(k.LastUsedAt),
		micros(k.CreatedAt), nullMicros(k.RevokedAt), nullString(k.ReplacedByKeyID),
		nullMicros(k.GraceExpiresAt), k.RotationIntervalDays, nullMicros(k.NextRotationAt),
		nullString(k.RotationWebhookURL), k.CreatedBy)
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
		refs := []reference{accountRef(k.AccountID)}
		if k.ProjectID != "" {
			refs = append(refs, projectRef(k.AccountID, k.ProjectID))
		}
		if k.EnvironmentID != "" {
			refs = append(refs, reference{"environment", k.EnvironmentID,
				`SELECT 1 FROM environments WHERE account_id = ? AND project_id = ? AND id = ?`,
				[]any{k.AccountID, k.ProjectID, k.EnvironmentID}})
		}
		if k.UserID != "" {
			refs = append(refs, userRef(k.AccountID, k.UserID))
		}
		if err := missingReference(ctx, tx, refs...); err != nil {
			return err
		}
	}
	if err != nil {
		return insertError(err, "key", k.ID, "api_keys.hash", "a key with this hash already exists")
	}

	seen := make(map[string]bool, len(k.ProjectAccesses))
	for _, pa := range k.ProjectAccesses {
		if seen[pa.ProjectID] {
			return keyward.Errorf(keyward.EConflict, "the key's project accesses name project %s twice", pa.ProjectID)
		}
		seen[pa.ProjectID] = true
		m := &keyward.Membership{
			ID:        keyward.NewID(),
			AccountID: k.AccountID,
			ProjectID: pa.ProjectID,
			KeyID:     k.ID,
			RoleID:    pa.RoleID,
			CreatedAt: k.CreatedAt,
		}
		if err := insertMembership(ctx, tx, m); err != nil {
			return err
		}
	}
	return nil
}

// loadAccesses fills in the keys' project accesses, with one query however many keys there
// are. A key without any keeps a nil ProjectAccesses.
func loadAccesses(ctx context.Context, q querier, keys ...*keyward.Key) error {
	if len(keys) == 0 {
		return nil
	}
	byID := make(map[string]*keyward.Key, len(keys))
	ids := make([]string, 0, len(keys))
	for _, k := range keys {
		byID[k.ID] = k
		ids = append(ids, k.ID)
	}
	// One JSON array rather than a placeholder per id: a page may hold more keys than SQLite
	// allows variables.
	idList, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("sqlite: project accesses: %w", err)
	}
	rows, err := q.QueryContext(ctx,
		`SELECT key_id, project_id, role_id FROM memberships
		WHERE key_id IN (SELECT value FROM json_each(?))
		ORDER BY key_id, project_id`, string(idList))
	if err != nil {
		return fmt.Errorf("sqlite: project accesses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			keyID string
			pa    keyward.ProjectAccess
		)
		if err := rows.Scan(&keyID, &pa.ProjectID, &pa.RoleID); err != nil {
			return fmt.Errorf("sqlite: project accesses: %w", err)
		}
		k := byID[keyID]
		k.ProjectAccesses = append(k.ProjectAccesses, pa)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite: project accesses: %w", err)
	}
	return nil
}

// Key returns the account's key with its project accesses. Errors: ENotFound, also for
// another account's.
func (s *Store) Key(ctx context.Context, accountID, id string) (*keyward.Key, error) {
	return s.keyWhere(ctx, func() error { return notFound("key", id) }, "key "+id,
		`account_id = ? AND id = ?`, accountID, id)
}

// KeyByHash returns the key with the hash, in any account, with its project accesses.
// Errors: ENotFound.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (*keyward.Key, error) {
	return s.keyWhere(ctx, func() error { return keyward.Errorf(keyward.ENotFound, "key not found") },
		"key by hash", `hash = ?`, hash)
}

// keyWhere reads the one key that the condition selects, and its project accesses, from one
// snapshot; missing makes the error if there is none.
func (s *Store) keyWhere(ctx context.Context, missing func() error, what, where string, args ...any) (*keyward.Key, error) {
	var k *keyward.Key
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE `+where, args...))
		if errors.Is(err, sql.ErrNoRows) {
			return missing()
		}
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", what, err)
		}
		return loadAccesses(ctx, tx, k)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// ListKeys returns up to f.Limit keys matching f with id > f.After, ordered by id. Errors:
// EInvalid for an unknown f.Status.
func (s *Store) ListKeys(ctx context.Context, f keyward.KeyFilter) ([]*keyward.Key, error) {
	if f.Limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + keyColumns + ` FROM api_keys WHERE account_id = ? AND id > ?`)
	args := []any{f.AccountID, f.After}
	if f.ProjectID != "" {
		q.WriteString(` AND project_id = ?`)
		args = append(args, f.ProjectID)
	}
	if f.EnvironmentID != "" {
		q.WriteString(` AND environment_id = ?`)
		args = append(args, f.EnvironmentID)
	}
	if f.UserID != "" {
		q.WriteString(` AND user_id = ?`)
		args = append(args, f.UserID)
	}
	if f.AccountOnly {
		q.WriteString(` AND project_id IS NULL`)
	}
	// These mirror keyward.Key.Status: a revocation dated after now has not happened yet,
	// and revoked wins over expired.
	now := micros(f.Now)
	switch f.Status {
	case "":
	case keyward.StatusActive:
		q.WriteString(` AND (revoked_at IS NULL OR revoked_at > ?)
			AND (expires_at IS NULL OR expires_at > ?)
			AND (grace_expires_at IS NULL OR grace_expires_at > ?)`)
		args = append(args, now, now, now)
	case keyward.StatusRevoked:
		q.WriteString(` AND revoked_at <= ?`)
		args = append(args, now)
	case keyward.StatusExpired:
		q.WriteString(` AND (revoked_at IS NULL OR revoked_at > ?)
			AND (expires_at <= ? OR grace_expires_at <= ?)`)
		args = append(args, now, now, now)
	default:
		return nil, keyward.Errorf(keyward.EInvalid, "unknown key status %q", f.Status)
	}
	q.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, f.Limit)

	var out []*keyward.Key
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		if out, err = queryKeys(ctx, tx, q.String(), args...); err != nil {
			return err
		}
		return loadAccesses(ctx, tx, out...)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func queryKeys(ctx context.Context, q querier, query string, args ...any) ([]*keyward.Key, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	defer rows.Close()
	var out []*keyward.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list keys: %w", err)
	}
	return out, nil
}

// UpdateKey writes k's mutable fields and nothing else, so that it cannot undo a revocation
// or rotation that happened after k was read. Errors: ENotFound, also for another account's.
func (s *Store) UpdateKey(ctx context.Context, k *keyward.Key) error {
	scopes, err := encodeScopes(k.Scopes)
	if err != nil {
		return fmt.Errorf("sqlite: key %s scopes: %w", k.ID, err)
	}
	metadata, err := encodeMetadata(k.Metadata)
	if err != nil {
		return fmt.Errorf("sqlite: key %s metadata: %w", k.ID, err)
	}
	res, err := s.write.ExecContext(ctx,
		`UPDATE api_keys SET name = ?, scopes = ?, metadata = ?, expires_at = ?,
			rotation_interval_days = ?, next_rotation_at = ?, rotation_webhook_url = ?,
			role_id = ?, rate_limit_tier = ?
		WHERE account_id = ? AND id = ?`,
		k.Name, scopes, metadata, nullMicros(k.ExpiresAt),
		k.RotationIntervalDays, nullMicros(k.NextRotationAt), nullString(k.RotationWebhookURL),
		nullString(k.RoleID), k.RateLimitTier,
		k.AccountID, k.ID)
	return affected(res, err, "update", "key", k.ID)
}

// RevokeKey sets the key's revoked_at to at unless it is already set, and returns the key as
// it now is. Errors: ENotFound, also for another account's.
func (s *Store) RevokeKey(ctx context.Context, accountID, id string, at time.Time) (*keyward.Key, error) {
	var k *keyward.Key
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		row := tx.QueryRowContext(ctx,
			`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?)
			WHERE account_id = ? AND id = ? RETURNING `+keyColumns,
			micros(at), accountID, id)
		var err error
		k, err = scanKey(row)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("key", id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: revoke key %s: %w", id, err)
		}
		return loadAccesses(ctx, tx, k)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// RotateKey marks the old key replaced by next and inserts next with its project accesses, in
// one transaction, and returns the old key as it now is. The old key keeps verifying until
// graceUntil; with no grace it is revoked at next.CreatedAt. Errors: ENotFound, also for
// another account's key, and as CreateKey for next; EConflict if the old key is revoked or
// already replaced, or as CreateKey for next.
func (s *Store) RotateKey(ctx context.Context, accountID, oldID string, next *keyward.Key, graceUntil *time.Time) (*keyward.Key, error) {
	var revokedAt *time.Time
	if graceUntil == nil {
		revokedAt = &next.CreatedAt
	}
	var old *keyward.Key
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		// The conditions make the update its own check: of two rotations of one key, the
		// second to take the write lock finds the key already replaced and changes nothing.
		row := tx.QueryRowContext(ctx,
			`UPDATE api_keys SET replaced_by_key_id = ?, grace_expires_at = ?, revoked_at = ?
			WHERE account_id = ? AND id = ? AND revoked_at IS NULL AND replaced_by_key_id IS NULL
			RETURNING `+keyColumns,
			next.ID, nullMicros(graceUntil), nullMicros(revokedAt), accountID, oldID)
		var err error
		old, err = scanKey(row)
		if errors.Is(err, sql.ErrNoRows) {
			return rotationRefused(ctx, tx, accountID, oldID)
		}
		if err != nil {
			return fmt.Errorf("sqlite: rotate key %s: %w", oldID, err)
		}
		if err := insertKey(ctx, tx, next); err != nil {
			return err
		}
		return loadAccesses(ctx, tx, old)
	})
	if err != nil {
		return nil, err
	}
	return old, nil
}

// rotationRefused says why a key's rotation changed no row: it is missing, or it is revoked
// or replaced already.
func rotationRefused(ctx context.Context, tx *sql.Tx, accountID, id string) error {
	var replaced bool
	err := tx.QueryRowContext(ctx,
		`SELECT replaced_by_key_id IS NOT NULL FROM api_keys WHERE account_id = ? AND id = ?`,
		accountID, id).Scan(&replaced)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return notFound("key", id)
	case err != nil:
		return fmt.Errorf("sqlite: rotate key %s: %w", id, err)
	case replaced:
		return keyward.Errorf(keyward.EConflict, "key %s has already been rotated", id)
	}
	return keyward.Errorf(keyward.EConflict, "key %s is revoked", id)
}

// TouchKeys raises each key's last_used_at to its use time, never lowering it, and skips
// keys that do not exist. It writes the whole batch in one transaction: one sync instead of
// one per key.
func (s *Store) TouchKeys(ctx context.Context, uses []keyward.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: touch keys: %w", err)
	}
	defer tx.Rollback() // after Commit, a no-op
	stmt, err := tx.PrepareContext(ctx,
		`UPDATE api_keys SET last_used_at = ?
		WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`)
	if err != nil {
		return fmt.Errorf("sqlite: touch keys: %w", err)
	}
	defer stmt.Close()
	for _, u := range uses {
		at := micros(u.At)
		if _, err := stmt.ExecContext(ctx, at, u.KeyID, at); err != nil {
			return fmt.Errorf("sqlite: touch key %s: %w", u.KeyID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: touch keys: %w", err)
	}
	return nil
}

func scanKey(row scanner) (*keyward.Key, error) {
	var (
		k                                                        keyward.Key
		projectID, environmentID, userID, roleID                 sql.NullString
		replacedBy, webhookURL, metadata                         sql.NullString
		scopes                                                   string
		createdAt                                                int64
		expiresAt, lastUsedAt, revokedAt, graceEnd, nextRotation sql.NullInt64
	)
	err := row.Scan(&k.ID, &k.AccountID, &projectID, &environmentID, &userID, &roleID,
		&k.RateLimitTier, &k.Name, &k.Prefix, &k.Last4, &k.Hash, &k.HashScheme, &scopes, &metadata,
		&expiresAt, &lastUsedAt, &createdAt, &revokedAt, &replacedBy, &graceEnd,
		&k.RotationIntervalDays, &nextRotation, &webhookURL, &k.CreatedBy)
	if err != nil {
		return nil, err
	}
	if k.Scopes, err = decodeScopes(scopes); err != nil {
		return nil, fmt.Errorf("key %s scopes: %w", k.ID, err)
	}
	if k.Metadata, err = decodeMetadata(metadata); err != nil {
		return nil, fmt.Errorf("key %s metadata: %w", k.ID, err)
	}
	k.ProjectID = projectID.String
	k.EnvironmentID = environmentID.String
	k.UserID = userID.String
	k.RoleID = roleID.String
	k.ReplacedByKeyID = replacedBy.String
	k.RotationWebhookURL = webhookURL.String
	k.CreatedAt = fromMicros(createdAt)
	k.ExpiresAt = fromNullMicros(expiresAt)
	k.LastUsedAt = fromNullMicros(lastUsedAt)
	k.RevokedAt = fromNullMicros(revokedAt)
	k.GraceExpiresAt = fromNullMicros(graceEnd)
	k.NextRotationAt = fromNullMicros(nextRotation)
	return &k, nil
}
