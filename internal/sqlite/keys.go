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
	"github.com/keyward/keyward/internal/storecodec"
)

var keyColumnList = []string{"id", "account_id", "project_id", "environment_id", "user_id", "role_id",
	"rate_limit_tier", "rate_limit_override", "lineage_id", "name", "key_prefix", "last4", "hash",
	"hash_scheme", "scopes", "metadata", "expires_at", "last_used_at", "created_at", "revoked_at",
	"replaced_by_key_id", "grace_expires_at", "rotation_interval_days", "next_rotation_at",
	"rotation_webhook_url", "created_by", "allowed_ips", "rotation_webhook_secret", "rotation_grace_seconds",
	"leaked_at", "leak_source", "leak_url", "expiry_notified_at", "exhausted_at"}

var (
	keyColumns = strings.Join(keyColumnList, ", ")
	// keySelectList names a key's columns, as k, and its lineage's credits in its account, as
	// c: NULLs when it has none.
	keySelectList = `SELECT k.` + strings.Join(keyColumnList, ", k.") + `, ` + creditColumnsOf("c")
	keysFrom      = ` FROM api_keys k LEFT JOIN key_credits c ON c.lineage_id = k.lineage_id AND c.account_id = k.account_id`
	// selectKeys reads keys with their credits. A query adds its WHERE, naming the key's
	// columns k.column; their project accesses take a second query (loadAccesses).
	selectKeys = keySelectList + keysFrom
	// selectKey reads one key with its credits and, as a last column, its project accesses:
	// a JSON array of [project_id, role_id] pairs in project order, "[]" for none. One
	// statement reads one snapshot, so the key needs no transaction around its reads.
	selectKey = keySelectList + `, (SELECT json_group_array(json_array(m.project_id, m.role_id) ORDER BY m.project_id)
		FROM memberships m WHERE m.key_id = k.id)` + keysFrom
	// keyByHash is KeyByHash's statement, prepared once on the read pool: it runs on every
	// verification cache miss.
	keyByHash = selectKey + ` WHERE k.hash = ?`
)

// CreateKey inserts k and its project accesses, and k.Credits as its lineage's credits unless
// the lineage has some already, in one transaction. Errors: EConflict if its hash is taken or
// an access names a project twice; ENotFound if its project, environment, user or an access's
// project is absent or another account's.
func (s *Store) CreateKey(ctx context.Context, k *keyward.Key) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error { return createKey(ctx, tx, k) })
}

// CreateKeys implements keyward.KeyStore.
func (s *Store) CreateKeys(ctx context.Context, keys []*keyward.Key) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			if err := createKey(ctx, tx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// createKey inserts k as CreateKey does.
func createKey(ctx context.Context, tx *sql.Tx, k *keyward.Key) error {
	if err := insertKey(ctx, tx, k); err != nil {
		return err
	}
	if k.Credits == nil {
		return nil
	}
	return writeCredits(ctx, tx, k.AccountID, k.LineageID, k.Credits, true)
}

// insertKey inserts k and its project accesses, as memberships that share its creation time.
// A key without a lineage starts its own: k.LineageID is set to its id.
func insertKey(ctx context.Context, tx *sql.Tx, k *keyward.Key) error {
	cols, err := storecodec.EncodeKey(k)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if k.LineageID == "" {
		k.LineageID = k.ID
	}
	_, err = tx.ExecContext(ctx,
		`INSERT INTO api_keys (`+keyColumns+`) VALUES (`+placeholders(len(keyColumnList))+`)`,
		k.ID, k.AccountID, nullString(k.ProjectID), nullString(k.EnvironmentID),
		nullString(k.UserID), nullString(k.RoleID), k.RateLimitTier, cols.RateLimitOverride, k.LineageID,
		k.Name, k.Prefix, k.Last4,
		k.Hash, k.HashScheme, cols.Scopes, cols.Metadata, nullMicros(k.ExpiresAt), nullMicros(k.LastUsedAt),
		micros(k.CreatedAt), nullMicros(k.RevokedAt), nullString(k.ReplacedByKeyID),
		nullMicros(k.GraceExpiresAt), k.RotationIntervalDays, nullMicros(k.NextRotationAt),
		nullString(k.RotationWebhookURL), k.CreatedBy, cols.AllowedIPs, k.RotationWebhookSecret,
		storecodec.GraceSeconds(k.RotationGrace), nullMicros(k.LeakedAt), k.LeakSource, k.LeakURL,
		nullMicros(k.ExpiryNotifiedAt), nullMicros(k.ExhaustedAt))
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
	return readKey(ctx, s.reader(), func() error { return notFound("key", id) }, "key "+id,
		`k.account_id = ? AND k.id = ?`, accountID, id)
}

// KeyByHash returns the key with the hash, in any account, with its project accesses.
// Errors: ENotFound.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (*keyward.Key, error) {
	var row *sql.Row
	if s.tx != nil {
		row = s.tx.QueryRowContext(ctx, keyByHash, hash)
	} else {
		row = s.byHash.QueryRowContext(ctx, hash)
	}
	return keyFrom(row, func() error { return keyward.Errorf(keyward.ENotFound, "key not found") }, "key by hash")
}

// readKey reads the one key that the condition (on k.*) selects, with its credits and project
// accesses, in one statement; missing makes the error if there is none.
func readKey(ctx context.Context, q querier, missing func() error, what, where string, args ...any) (*keyward.Key, error) {
	return keyFrom(q.QueryRowContext(ctx, selectKey+` WHERE `+where, args...), missing, what)
}

// keyFrom scans the row of a selectKey query; missing makes the error if there is none.
func keyFrom(row *sql.Row, missing func() error, what string) (*keyward.Key, error) {
	var accesses []byte
	k, err := scanKey(row, &accesses)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, missing()
	}
	if err == nil {
		err = decodeAccesses(k, accesses)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return k, nil
}

// decodeAccesses sets k's project accesses from selectKey's JSON array of [project_id,
// role_id] pairs. A key without any keeps a nil ProjectAccesses, as loadAccesses leaves it.
func decodeAccesses(k *keyward.Key, doc []byte) error {
	var pairs [][2]string
	if err := json.Unmarshal(doc, &pairs); err != nil {
		return fmt.Errorf("project accesses: %w", err)
	}
	if len(pairs) == 0 {
		return nil
	}
	k.ProjectAccesses = make([]keyward.ProjectAccess, len(pairs))
	for i, p := range pairs {
		k.ProjectAccesses[i] = keyward.ProjectAccess{ProjectID: p[0], RoleID: p[1]}
	}
	return nil
}

// ListKeys returns up to f.Limit keys matching f with id > f.After, ordered by id. Errors:
// EInvalid for an unknown f.Status.
func (s *Store) ListKeys(ctx context.Context, f keyward.KeyFilter) ([]*keyward.Key, error) {
	if f.Limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	var q strings.Builder
	q.WriteString(selectKeys + ` WHERE k.account_id = ? AND k.id > ?`)
	args := []any{f.AccountID, f.After}
	if f.ProjectID != "" {
		q.WriteString(` AND k.project_id = ?`)
		args = append(args, f.ProjectID)
	}
	if f.EnvironmentID != "" {
		q.WriteString(` AND k.environment_id = ?`)
		args = append(args, f.EnvironmentID)
	}
	if f.UserID != "" {
		q.WriteString(` AND k.user_id = ?`)
		args = append(args, f.UserID)
	}
	if f.AccountOnly {
		q.WriteString(` AND k.project_id IS NULL`)
	}
	// These mirror keyward.Key.Status: a revocation dated after now has not happened yet,
	// and revoked wins over expired.
	now := micros(f.Now)
	switch f.Status {
	case "":
	case keyward.StatusActive:
		q.WriteString(` AND (k.revoked_at IS NULL OR k.revoked_at > ?)
			AND (k.expires_at IS NULL OR k.expires_at > ?)
			AND (k.grace_expires_at IS NULL OR k.grace_expires_at > ?)`)
		args = append(args, now, now, now)
	case keyward.StatusRevoked:
		q.WriteString(` AND k.revoked_at <= ?`)
		args = append(args, now)
	case keyward.StatusExpired:
		q.WriteString(` AND (k.revoked_at IS NULL OR k.revoked_at > ?)
			AND (k.expires_at <= ? OR k.grace_expires_at <= ?)`)
		args = append(args, now, now, now)
	default:
		return nil, keyward.Errorf(keyward.EInvalid, "unknown key status %q", f.Status)
	}
	q.WriteString(` ORDER BY k.id LIMIT ?`)
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
	cols, err := storecodec.EncodeKey(k)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	res, err := s.writer().ExecContext(ctx,
		`UPDATE api_keys SET name = ?, scopes = ?, metadata = ?, expires_at = ?,
			rotation_interval_days = ?, next_rotation_at = ?, rotation_webhook_url = ?,
			role_id = ?, rate_limit_tier = ?, rate_limit_override = ?, allowed_ips = ?,
			rotation_webhook_secret = ?, rotation_grace_seconds = ?, expiry_notified_at = ?, exhausted_at = ?
		WHERE account_id = ? AND id = ?`,
		k.Name, cols.Scopes, cols.Metadata, nullMicros(k.ExpiresAt),
		k.RotationIntervalDays, nullMicros(k.NextRotationAt), nullString(k.RotationWebhookURL),
		nullString(k.RoleID), k.RateLimitTier, cols.RateLimitOverride, cols.AllowedIPs,
		k.RotationWebhookSecret, storecodec.GraceSeconds(k.RotationGrace), nullMicros(k.ExpiryNotifiedAt), nullMicros(k.ExhaustedAt),
		k.AccountID, k.ID)
	return affected(res, err, "update", "key", k.ID)
}

// RevokeKey sets the key's revoked_at to at unless it is already set, and returns the key as
// it now is. Errors: ENotFound, also for another account's.
func (s *Store) RevokeKey(ctx context.Context, accountID, id string, at time.Time) (*keyward.Key, error) {
	var k *keyward.Key
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE account_id = ? AND id = ?`,
			micros(at), accountID, id)
		if err := affected(res, err, "revoke", "key", id); err != nil {
			return err
		}
		k, err = readKey(ctx, tx, func() error { return notFound("key", id) }, "revoke key "+id,
			`k.account_id = ? AND k.id = ?`, accountID, id)
		return err
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
		res, err := tx.ExecContext(ctx,
			`UPDATE api_keys SET replaced_by_key_id = ?, grace_expires_at = ?, revoked_at = ?
			WHERE account_id = ? AND id = ? AND revoked_at IS NULL AND replaced_by_key_id IS NULL`,
			next.ID, nullMicros(graceUntil), nullMicros(revokedAt), accountID, oldID)
		if err != nil {
			return fmt.Errorf("sqlite: rotate key %s: %w", oldID, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("sqlite: rotate key %s: %w", oldID, err)
		}
		if n == 0 {
			return rotationRefused(ctx, tx, accountID, oldID)
		}
		if err := insertKey(ctx, tx, next); err != nil {
			return err
		}
		old, err = readKey(ctx, tx, func() error { return notFound("key", oldID) }, "rotate key "+oldID,
			`k.account_id = ? AND k.id = ?`, accountID, oldID)
		return err
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
	// One row per key, its latest use: an UPDATE … FROM with two rows for one key would
	// apply either.
	latest := make(map[string]int64, len(uses))
	ids := make([]string, 0, len(uses))
	for _, u := range uses {
		at := micros(u.At)
		if prev, ok := latest[u.KeyID]; !ok {
			ids = append(ids, u.KeyID)
			latest[u.KeyID] = at
		} else if at > prev {
			latest[u.KeyID] = at
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		return inChunks(ctx, tx, ids, touchSQL, func(args []any, id string) []any {
			return append(args, id, latest[id])
		})
	})
}

// touchSQL is the statement that sets the last use of n keys, given as (key id, Unix
// microseconds), unless it is later already. Batched as AddUsage's counts are, and for the
// same reason: a busy node touches tens of thousands of keys a minute.
func touchSQL(n int) string {
	var b strings.Builder
	b.WriteString(`UPDATE api_keys SET last_used_at = v.column2 FROM (VALUES `)
	writeValues(&b, n, 2)
	b.WriteString(`) AS v WHERE api_keys.id = v.column1
		AND (api_keys.last_used_at IS NULL OR api_keys.last_used_at < v.column2)`)
	return b.String()
}

// scanKey scans the columns of selectKeys, then into extra those a query adds after them.
func scanKey(row scanner, extra ...any) (*keyward.Key, error) {
	var (
		k                                                        keyward.Key
		projectID, environmentID, userID, roleID                 sql.NullString
		replacedBy, webhookURL                                   sql.NullString
		scopes, allowedIPs, metadata, override                   []byte // NULL reads as nil
		createdAt                                                int64
		expiresAt, lastUsedAt, revokedAt, graceEnd, nextRotation sql.NullInt64
		leakedAt, notifiedAt, exhaustedAt, graceSeconds          sql.NullInt64
		credits                                                  nullCredits
	)
	err := row.Scan(append([]any{&k.ID, &k.AccountID, &projectID, &environmentID, &userID, &roleID,
		&k.RateLimitTier, &override, &k.LineageID, &k.Name, &k.Prefix, &k.Last4, &k.Hash,
		&k.HashScheme, &scopes, &metadata, &expiresAt, &lastUsedAt, &createdAt, &revokedAt,
		&replacedBy, &graceEnd, &k.RotationIntervalDays, &nextRotation, &webhookURL, &k.CreatedBy, &allowedIPs,
		&k.RotationWebhookSecret, &graceSeconds, &leakedAt, &k.LeakSource, &k.LeakURL, &notifiedAt, &exhaustedAt},
		append(credits.dest(), extra...)...)...)
	if err != nil {
		return nil, err
	}
	if err := storecodec.DecodeKey(&k, scopes, allowedIPs, metadata, override); err != nil {
		return nil, err
	}
	k.Credits = credits.credits()
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
	k.RotationGrace = storecodec.GraceFromSeconds(graceSeconds.Int64, graceSeconds.Valid)
	k.LeakedAt = fromNullMicros(leakedAt)
	k.ExpiryNotifiedAt = fromNullMicros(notifiedAt)
	k.ExhaustedAt = fromNullMicros(exhaustedAt)
	return &k, nil
}
