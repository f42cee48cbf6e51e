package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storecodec"
)

const endpointColumns = `id, account_id, url, description, topics, enabled, disabled_reason, secret,
	previous_secret, previous_secret_until, created_at, updated_at`

// CreateWebhookEndpoint inserts e.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e *keyward.WebhookEndpoint) error {
	topics, err := storecodec.EncodeList(e.Topics)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	_, err = s.db().Exec(ctx,
		`INSERT INTO webhook_endpoints (`+endpointColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.ID, e.AccountID, e.URL, e.Description, topics, e.Enabled, e.DisabledReason, e.Secret,
		e.PreviousSecret, nullTS(e.PreviousSecretUntil), ts(e.CreatedAt), ts(e.UpdatedAt))
	return writeError(err, "webhook endpoint "+e.ID, violations{
		"webhook_endpoints_pkey":         conflict("webhook endpoint %s already exists", e.ID),
		"webhook_endpoints_account_fkey": notFound("account", e.AccountID),
	})
}

// WebhookEndpoint returns the account's endpoint. Errors: ENotFound, also for another
// account's.
func (s *Store) WebhookEndpoint(ctx context.Context, accountID, id string) (*keyward.WebhookEndpoint, error) {
	e, err := scanEndpoint(s.db().QueryRow(ctx,
		`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE account_id = $1 AND id = $2`, accountID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("webhook endpoint", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: webhook endpoint %s: %w", id, err)
	}
	return e, nil
}

// ListWebhookEndpoints returns up to limit of the account's endpoints with id > after.
func (s *Store) ListWebhookEndpoints(ctx context.Context, accountID, after string, limit int) ([]*keyward.WebhookEndpoint, error) {
	if limit <= 0 {
		return nil, nil
	}
	return query(ctx, s.db(), scanEndpoint, "list webhook endpoints",
		`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
		accountID, after, limit)
}

// UpdateWebhookEndpoint writes e's mutable fields. Errors: ENotFound.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, e *keyward.WebhookEndpoint) error {
	topics, err := storecodec.EncodeList(e.Topics)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return s.execOne(ctx, "webhook endpoint", e.ID, nil,
		`UPDATE webhook_endpoints SET url = $1, description = $2, topics = $3, enabled = $4, disabled_reason = $5,
			secret = $6, previous_secret = $7, previous_secret_until = $8, updated_at = $9
		WHERE account_id = $10 AND id = $11`,
		e.URL, e.Description, topics, e.Enabled, e.DisabledReason, e.Secret, e.PreviousSecret,
		nullTS(e.PreviousSecretUntil), ts(e.UpdatedAt), e.AccountID, e.ID)
}

// DeleteWebhookEndpoint deletes the account's endpoint. Errors: ENotFound.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, accountID, id string) error {
	return s.execOne(ctx, "webhook endpoint", id, nil,
		`DELETE FROM webhook_endpoints WHERE account_id = $1 AND id = $2`, accountID, id)
}

func scanEndpoint(row pgx.Row) (*keyward.WebhookEndpoint, error) {
	var (
		e                    keyward.WebhookEndpoint
		topics               []byte
		prevUntil            *time.Time
		createdAt, updatedAt time.Time
	)
	err := row.Scan(&e.ID, &e.AccountID, &e.URL, &e.Description, &topics, &e.Enabled, &e.DisabledReason,
		&e.Secret, &e.PreviousSecret, &prevUntil, &createdAt, &updatedAt)
	if err != nil {
		return nil, err
	}
	if e.Topics, err = storecodec.DecodeList(topics); err != nil {
		return nil, err
	}
	if len(e.Topics) == 0 {
		e.Topics = nil
	}
	e.PreviousSecretUntil = utc(prevUntil)
	e.CreatedAt, e.UpdatedAt = createdAt.UTC(), updatedAt.UTC()
	return &e, nil
}

// DueRotations returns up to limit live keys due for rotation at now, soonest first.
func (s *Store) DueRotations(ctx context.Context, now time.Time, limit int) ([]*keyward.Key, error) {
	if limit <= 0 {
		return nil, nil
	}
	return query(ctx, s.db(), scanKey, "due rotations", selectKeys+`api_keys k`+keyJoins+`
		WHERE k.next_rotation_at IS NOT NULL AND k.next_rotation_at <= $1
			AND k.revoked_at IS NULL AND k.replaced_by_key_id IS NULL
		ORDER BY k.next_rotation_at, k.id LIMIT $2`, ts(now), limit)
}

// ExpiringKeys returns up to limit unrevoked, unnotified keys whose expiry or grace end falls
// in (now, until].
func (s *Store) ExpiringKeys(ctx context.Context, now, until time.Time, limit int) ([]*keyward.Key, error) {
	if limit <= 0 {
		return nil, nil
	}
	return query(ctx, s.db(), scanKey, "expiring keys", selectKeys+`api_keys k`+keyJoins+`
		WHERE k.revoked_at IS NULL AND k.expiry_notified_at IS NULL
			AND ((k.expires_at > $1 AND k.expires_at <= $2) OR (k.grace_expires_at > $1 AND k.grace_expires_at <= $2))
		ORDER BY k.id LIMIT $3`, ts(now), ts(until), limit)
}

// MarkKeyNotice sets the notice's time unless it is set, and reports whether it set it: of
// two units marking at once, the second waits on the first's row lock, then finds it set.
func (s *Store) MarkKeyNotice(ctx context.Context, accountID, id string, notice keyward.KeyNotice, at time.Time) (bool, error) {
	var column string
	switch notice {
	case keyward.NoticeExpiring:
		column = "expiry_notified_at"
	case keyward.NoticeExhausted:
		column = "exhausted_at"
	default:
		return false, keyward.Errorf(keyward.EInvalid, "unknown key notice %q", notice)
	}
	tag, err := s.db().Exec(ctx, `UPDATE api_keys SET `+column+` = $1 WHERE account_id = $2 AND id = $3 AND `+column+` IS NULL`,
		ts(at), accountID, id)
	if err != nil {
		return false, fmt.Errorf("postgres: mark key %s: %w", id, err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	if _, err := s.Key(ctx, accountID, id); err != nil {
		return false, err
	}
	return false, nil
}

// MarkKeyLeaked records a leak on the account's key and returns the key as it now is.
func (s *Store) MarkKeyLeaked(ctx context.Context, accountID, id string, at time.Time, source, url string) (*keyward.Key, error) {
	k, err := scanKey(s.db().QueryRow(ctx,
		`WITH k AS (
			UPDATE api_keys SET leaked_at = $1, leak_source = $2, leak_url = $3
			WHERE account_id = $4 AND id = $5 RETURNING *
		) `+selectKeys+`k`+keyJoins,
		ts(at), source, url, accountID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("key", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: mark key %s leaked: %w", id, err)
	}
	return k, nil
}

// ImportedKeyHashes returns the hashes of the keys imported from other systems, rehashed or
// not.
func (s *Store) ImportedKeyHashes(ctx context.Context) ([][]byte, error) {
	return query(ctx, s.db(), func(row pgx.Row) ([]byte, error) {
		var h []byte
		return h, row.Scan(&h)
	}, "imported keys", `SELECT hash FROM api_keys WHERE hash_scheme LIKE '%import'`)
}

// RehashKey replaces the key's hash oldHash with newHash. Errors: ENotFound, also when the
// key no longer has oldHash.
func (s *Store) RehashKey(ctx context.Context, accountID, id string, oldHash, newHash []byte, scheme string) error {
	return s.execOne(ctx, "key", id, nil,
		`UPDATE api_keys SET hash = $1, hash_scheme = $2 WHERE account_id = $3 AND id = $4 AND hash = $5`,
		newHash, scheme, accountID, id, oldHash)
}
