package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
	// selectKeys reads keys from a relation named k, joined with keyJoins: each key comes
	// with its project accesses and its lineage's credits, read by the same statement and so
	// from the same snapshot as the key, in one round trip.
	selectKeys = `SELECT k.` + strings.Join(keyColumnList, ", k.") + `, a.project_ids, a.role_ids, ` +
		creditColumnsOf("c") + ` FROM `
)

// keyJoins gathers each key's memberships into two arrays in project order, the order reads
// return them in, and joins its lineage's credits. A key without accesses gets NULLs, read as
// none; one without credits NULLs, read as nil.
const keyJoins = ` LEFT JOIN LATERAL (
	SELECT array_agg(m.project_id ORDER BY m.project_id) AS project_ids,
		array_agg(m.role_id ORDER BY m.project_id) AS role_ids
	FROM memberships m WHERE m.key_id = k.id) a ON true
	LEFT JOIN key_credits c ON c.lineage_id = k.lineage_id AND c.account_id = k.account_id`

// CreateKey inserts k and its project accesses, and k.Credits as its lineage's credits unless
// the lineage has some already, in one transaction. Errors: EConflict if its hash is taken or
// an access names a project twice; ENotFound if its account, project, environment, user or an
// access's project is absent or another account's.
func (s *Store) CreateKey(ctx context.Context, k *keyward.Key) error {
	steps, err := createKey(k)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error { return runSteps(ctx, tx, steps...) })
	return keyError(err, k)
}

// CreateKeys implements keyward.KeyStore: every key's statements go in one round trip, in
// one transaction.
func (s *Store) CreateKeys(ctx context.Context, keys []*keyward.Key) error {
	var steps []step
	for _, k := range keys {
		st, err := createKey(k)
		if err != nil {
			return err
		}
		steps = append(steps, st...)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error { return runSteps(ctx, tx, steps...) })
}

// createKey returns the steps that insert k as CreateKey does.
func createKey(k *keyward.Key) ([]step, error) {
	steps, err := insertKey(k)
	if err != nil || k.Credits == nil {
		return steps, err
	}
	return append(steps, insertCredits(k)), nil
}

// insertKey returns the steps that insert k and its project accesses, as memberships that
// share its creation time, after locking the custom roles they hold. A key without a lineage
// starts its own: k.LineageID is set to its id.
func insertKey(k *keyward.Key) ([]step, error) {
	cols, err := storecodec.EncodeKey(k)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if k.LineageID == "" {
		k.LineageID = k.ID
	}
	roles := []string{k.RoleID}
	seen := make(map[string]bool, len(k.ProjectAccesses))
	for _, pa := range k.ProjectAccesses {
		// Caught here rather than by the unique constraint, to say which project.
		if seen[pa.ProjectID] {
			return nil, keyward.Errorf(keyward.EConflict, "the key's project accesses name project %s twice", pa.ProjectID)
		}
		seen[pa.ProjectID] = true
		roles = append(roles, pa.RoleID)
	}
	slices.Sort(roles) // so that Compact drops the repeats
	steps := append(lockRoles(slices.Compact(roles)...), step{
		sql: `INSERT INTO api_keys (` + keyColumns + `) VALUES (` + placeholders(1, len(keyColumnList)) + `)`,
		args: []any{k.ID, k.AccountID, nullString(k.ProjectID), nullString(k.EnvironmentID),
			nullString(k.UserID), nullString(k.RoleID), k.RateLimitTier, cols.RateLimitOverride, k.LineageID,
			k.Name, k.Prefix, k.Last4,
			k.Hash, k.HashScheme, cols.Scopes, cols.Metadata, nullTS(k.ExpiresAt), nullTS(k.LastUsedAt),
			ts(k.CreatedAt), nullTS(k.RevokedAt), nullString(k.ReplacedByKeyID),
			nullTS(k.GraceExpiresAt), k.RotationIntervalDays, nullTS(k.NextRotationAt),
			nullString(k.RotationWebhookURL), k.CreatedBy, cols.AllowedIPs, k.RotationWebhookSecret,
			storecodec.GraceSeconds(k.RotationGrace), nullTS(k.LeakedAt), k.LeakSource, k.LeakURL,
			nullTS(k.ExpiryNotifiedAt), nullTS(k.ExhaustedAt)},
		explain: func(err error) error { return keyError(err, k) },
	})
	for _, pa := range k.ProjectAccesses {
		steps = append(steps, insertMembership(&keyward.Membership{
			ID:        keyward.NewID(),
			AccountID: k.AccountID,
			ProjectID: pa.ProjectID,
			KeyID:     k.ID,
			RoleID:    pa.RoleID,
			CreatedAt: k.CreatedAt,
		}))
	}
	return steps, nil
}

// keyError explains the failure of a write of k.
func keyError(err error, k *keyward.Key) error {
	return writeError(err, "key "+k.ID, violations{
		"api_keys_hash_key":         conflict("a key with this hash already exists"),
		"api_keys_account_fkey":     notFound("account", k.AccountID),
		"api_keys_project_fkey":     notFound("project", k.ProjectID),
		"api_keys_environment_fkey": notFound("environment", k.EnvironmentID),
		"api_keys_user_fkey":        notFound("user", k.UserID),
		"api_keys_replaced_by_fkey": notFound("key", k.ReplacedByKeyID),
	})
}

// Key returns the account's key with its project accesses. Errors: ENotFound, also for
// another account's.
func (s *Store) Key(ctx context.Context, accountID, id string) (*keyward.Key, error) {
	k, err := scanKey(s.db().QueryRow(ctx,
		selectKeys+`api_keys k`+keyJoins+` WHERE k.account_id = $1 AND k.id = $2`, accountID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("key", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: key %s: %w", id, err)
	}
	return k, nil
}

// KeyByHash returns the key with the hash, in any account, with its project accesses.
// Errors: ENotFound.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (*keyward.Key, error) {
	k, err := scanKey(s.db().QueryRow(ctx, selectKeys+`api_keys k`+keyJoins+` WHERE k.hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, keyward.Errorf(keyward.ENotFound, "key not found")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: key by hash: %w", err)
	}
	return k, nil
}

// ListKeys returns up to f.Limit keys matching f with id > f.After, ordered by id. Errors:
// EInvalid for an unknown f.Status.
func (s *Store) ListKeys(ctx context.Context, f keyward.KeyFilter) ([]*keyward.Key, error) {
	if f.Limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	var q strings.Builder
	q.WriteString(selectKeys + `api_keys k` + keyJoins + ` WHERE k.account_id = $1 AND k.id > $2`)
	args := []any{f.AccountID, f.After}
	for _, c := range []struct{ column, value string }{
		{"project_id", f.ProjectID},
		{"environment_id", f.EnvironmentID},
		{"user_id", f.UserID},
	} {
		if c.value != "" {
			args = append(args, c.value)
			fmt.Fprintf(&q, ` AND k.%s = $%d`, c.column, len(args))
		}
	}
	if f.AccountOnly {
		q.WriteString(` AND k.project_id IS NULL`)
	}
	// These mirror keyward.Key.Status: a revocation dated after now has not happened yet,
	// and revoked wins over expired.
	switch f.Status {
	case "":
	case keyward.StatusActive:
		args = append(args, ts(f.Now))
		fmt.Fprintf(&q, ` AND (k.revoked_at IS NULL OR k.revoked_at > $%[1]d)
			AND (k.expires_at IS NULL OR k.expires_at > $%[1]d)
			AND (k.grace_expires_at IS NULL OR k.grace_expires_at > $%[1]d)`, len(args))
	case keyward.StatusRevoked:
		args = append(args, ts(f.Now))
		fmt.Fprintf(&q, ` AND k.revoked_at <= $%d`, len(args))
	case keyward.StatusExpired:
		args = append(args, ts(f.Now))
		fmt.Fprintf(&q, ` AND (k.revoked_at IS NULL OR k.revoked_at > $%[1]d)
			AND (k.expires_at <= $%[1]d OR k.grace_expires_at <= $%[1]d)`, len(args))
	default:
		return nil, keyward.Errorf(keyward.EInvalid, "unknown key status %q", f.Status)
	}
	args = append(args, f.Limit)
	fmt.Fprintf(&q, ` ORDER BY k.id LIMIT $%d`, len(args))
	return query(ctx, s.db(), scanKey, "list keys", q.String(), args...)
}

// UpdateKey writes k's mutable fields and nothing else, so that it cannot undo a revocation
// or rotation that happened after k was read. Errors: ENotFound, also for another account's.
func (s *Store) UpdateKey(ctx context.Context, k *keyward.Key) error {
	cols, err := storecodec.EncodeKey(k)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		return runSteps(ctx, tx, append(lockRoles(k.RoleID), step{
			sql: `UPDATE api_keys SET name = $1, scopes = $2, metadata = $3, expires_at = $4,
					rotation_interval_days = $5, next_rotation_at = $6, rotation_webhook_url = $7,
					role_id = $8, rate_limit_tier = $9, rate_limit_override = $10, allowed_ips = $11,
					rotation_webhook_secret = $12, rotation_grace_seconds = $13, expiry_notified_at = $14, exhausted_at = $15
				WHERE account_id = $16 AND id = $17`,
			args: []any{k.Name, cols.Scopes, cols.Metadata, nullTS(k.ExpiresAt),
				k.RotationIntervalDays, nullTS(k.NextRotationAt), nullString(k.RotationWebhookURL),
				nullString(k.RoleID), k.RateLimitTier, cols.RateLimitOverride, cols.AllowedIPs,
				k.RotationWebhookSecret, storecodec.GraceSeconds(k.RotationGrace), nullTS(k.ExpiryNotifiedAt), nullTS(k.ExhaustedAt),
				k.AccountID, k.ID},
			explain:  func(err error) error { return keyError(err, k) },
			affected: affectedOne("key", k.ID),
		})...)
	})
	return keyError(err, k)
}

// RevokeKey sets the key's revoked_at to at unless it is already set, and returns the key as
// it now is. Errors: ENotFound, also for another account's.
func (s *Store) RevokeKey(ctx context.Context, accountID, id string, at time.Time) (*keyward.Key, error) {
	k, err := scanKey(s.db().QueryRow(ctx,
		`WITH k AS (
			UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1)
			WHERE account_id = $2 AND id = $3 RETURNING *
		) `+selectKeys+`k`+keyJoins,
		ts(at), accountID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("key", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: revoke key %s: %w", id, err)
	}
	return k, nil
}

// RotateKey marks the old key replaced by next and inserts next with its project accesses, in
// one transaction, and returns the old key as it now is. The old key keeps verifying until
// graceUntil; with no grace it is revoked at next.CreatedAt. Errors: ENotFound, also for
// another account's key, and as CreateKey for next; EConflict if the old key is revoked or
// already replaced, or as CreateKey for next.
//
// The old key's row is locked before it is looked at, so of two rotations of one key the
// second waits until the first commits or rolls back and then sees what it left: a replaced
// key (EConflict), or the key as it was (and it wins). FOR NO KEY UPDATE is enough for that,
// as two such locks conflict, and unlike FOR UPDATE it lets a membership that names the key
// be created meanwhile.
func (s *Store) RotateKey(ctx context.Context, accountID, oldID string, next *keyward.Key, graceUntil *time.Time) (*keyward.Key, error) {
	if next.AccountID != accountID {
		// Seen from next's account, the old key is another account's.
		return nil, notFound("key", oldID)
	}
	steps, err := insertKey(next)
	if err != nil {
		return nil, err
	}
	var revokedAt any
	if graceUntil == nil {
		revokedAt = ts(next.CreatedAt)
	}
	var old *keyward.Key
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		var replaced, revoked bool
		err := tx.QueryRow(ctx,
			`SELECT replaced_by_key_id IS NOT NULL, revoked_at IS NOT NULL FROM api_keys
			WHERE account_id = $1 AND id = $2 FOR NO KEY UPDATE`,
			accountID, oldID).Scan(&replaced, &revoked)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return notFound("key", oldID)
		case err != nil:
			return fmt.Errorf("postgres: rotate key %s: %w", oldID, err)
		case replaced:
			return keyward.Errorf(keyward.EConflict, "key %s has already been rotated", oldID)
		case revoked:
			return keyward.Errorf(keyward.EConflict, "key %s is revoked", oldID)
		}
		old, err = scanKey(tx.QueryRow(ctx,
			`WITH k AS (
				UPDATE api_keys SET replaced_by_key_id = $1, grace_expires_at = $2, revoked_at = $3
				WHERE account_id = $4 AND id = $5 RETURNING *
			) `+selectKeys+`k`+keyJoins,
			next.ID, nullTS(graceUntil), revokedAt, accountID, oldID))
		if err != nil {
			return fmt.Errorf("postgres: rotate key %s: %w", oldID, err)
		}
		return runSteps(ctx, tx, steps...)
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == serializationFailure || pe.Code == deadlockDetected) {
		// Not expected at READ COMMITTED with the lock above, but should the server ever
		// refuse a rotation for a concurrent one, the caller loses the race, as the contract
		// says, rather than meeting an internal error.
		return nil, &keyward.Error{Code: keyward.EConflict, Message: fmt.Sprintf("key %s is being rotated concurrently", oldID), Cause: err}
	}
	if err != nil {
		return nil, keyError(err, next)
	}
	return old, nil
}

// TouchKeys raises each key's last_used_at to its use time, never lowering it, and skips
// keys that do not exist. The whole batch is one statement: the latest use of each key is
// found first, and the rows to raise are locked in id order, so that two nodes flushing
// overlapping batches wait for each other instead of deadlocking.
func (s *Store) TouchKeys(ctx context.Context, uses []keyward.KeyUse) error {
	if len(uses) == 0 {
		return nil
	}
	ids := make([]string, len(uses))
	ats := make([]time.Time, len(uses))
	for i, u := range uses {
		ids[i], ats[i] = u.KeyID, ts(u.At)
	}
	_, err := s.db().Exec(ctx, `
		WITH uses AS (
			SELECT id, max(at) AS at FROM unnest($1::text[], $2::timestamptz[]) AS u (id, at)
			GROUP BY id
		), due AS (
			SELECT k.id, uses.at FROM api_keys k JOIN uses ON uses.id = k.id
			WHERE k.last_used_at IS NULL OR k.last_used_at < uses.at
			ORDER BY k.id
			FOR NO KEY UPDATE OF k
		)
		UPDATE api_keys k SET last_used_at = due.at FROM due
		WHERE k.id = due.id AND (k.last_used_at IS NULL OR k.last_used_at < due.at)`,
		ids, ats)
	if err != nil {
		return fmt.Errorf("postgres: touch keys: %w", err)
	}
	return nil
}

func scanKey(row pgx.Row) (*keyward.Key, error) {
	var (
		k                                                        keyward.Key
		projectID, environmentID, userID, roleID                 *string
		replacedBy, webhookURL                                   *string
		scopes, allowedIPs, metadata, override                   []byte
		createdAt                                                time.Time
		expiresAt, lastUsedAt, revokedAt, graceEnd, nextRotation *time.Time
		leakedAt, notifiedAt, exhaustedAt                        *time.Time
		graceSeconds                                             *int64
		accessProjects, accessRoles                              []string
		credits                                                  nullCredits
	)
	err := row.Scan(append([]any{&k.ID, &k.AccountID, &projectID, &environmentID, &userID, &roleID,
		&k.RateLimitTier, &override, &k.LineageID, &k.Name, &k.Prefix, &k.Last4, &k.Hash,
		&k.HashScheme, &scopes, &metadata, &expiresAt, &lastUsedAt, &createdAt, &revokedAt,
		&replacedBy, &graceEnd, &k.RotationIntervalDays, &nextRotation, &webhookURL, &k.CreatedBy,
		&allowedIPs, &k.RotationWebhookSecret, &graceSeconds, &leakedAt, &k.LeakSource, &k.LeakURL,
		&notifiedAt, &exhaustedAt, &accessProjects, &accessRoles}, credits.dest()...)...)
	if err != nil {
		return nil, err
	}
	if err := storecodec.DecodeKey(&k, scopes, allowedIPs, metadata, override); err != nil {
		return nil, err
	}
	k.Credits = credits.credits()
	for i, p := range accessProjects {
		k.ProjectAccesses = append(k.ProjectAccesses, keyward.ProjectAccess{ProjectID: p, RoleID: accessRoles[i]})
	}
	k.ProjectID = str(projectID)
	k.EnvironmentID = str(environmentID)
	k.UserID = str(userID)
	k.RoleID = str(roleID)
	k.ReplacedByKeyID = str(replacedBy)
	k.RotationWebhookURL = str(webhookURL)
	k.CreatedAt = createdAt.UTC()
	k.ExpiresAt = utc(expiresAt)
	k.LastUsedAt = utc(lastUsedAt)
	k.RevokedAt = utc(revokedAt)
	k.GraceExpiresAt = utc(graceEnd)
	k.NextRotationAt = utc(nextRotation)
	if graceSeconds != nil {
		k.RotationGrace = storecodec.GraceFromSeconds(*graceSeconds, true)
	}
	k.LeakedAt = utc(leakedAt)
	k.ExpiryNotifiedAt = utc(notifiedAt)
	k.ExhaustedAt = utc(exhaustedAt)
	return &k, nil
}
