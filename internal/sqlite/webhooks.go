package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storecodec"
)

const endpointColumns = `id, account_id, url, description, topics, enabled, disabled_reason, secret,
	previous_secret, previous_secret_until, created_at, updated_at`

// CreateWebhookEndpoint inserts e.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, e *keyward.WebhookEndpoint) error {
	topics, err := storecodec.EncodeList(e.Topics)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	_, err = s.writer().ExecContext(ctx,
		`INSERT INTO webhook_endpoints (`+endpointColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.AccountID, e.URL, e.Description, topics, e.Enabled, e.DisabledReason, e.Secret,
		e.PreviousSecret, nullMicros(e.PreviousSecretUntil), micros(e.CreatedAt), micros(e.UpdatedAt))
	if err != nil {
		return insertError(err, "webhook endpoint", e.ID, "webhook_endpoints.id", "webhook endpoint "+e.ID+" already exists")
	}
	return nil
}

// WebhookEndpoint returns the account's endpoint. Errors: ENotFound, also for another
// account's.
func (s *Store) WebhookEndpoint(ctx context.Context, accountID, id string) (*keyward.WebhookEndpoint, error) {
	e, err := scanEndpoint(s.reader().QueryRowContext(ctx,
		`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE account_id = ? AND id = ?`, accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("webhook endpoint", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: webhook endpoint %s: %w", id, err)
	}
	return e, nil
}

// ListWebhookEndpoints returns up to limit of the account's endpoints with id > after.
func (s *Store) ListWebhookEndpoints(ctx context.Context, accountID, after string, limit int) ([]*keyward.WebhookEndpoint, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.reader().QueryContext(ctx,
		`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`,
		accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list webhook endpoints: %w", err)
	}
	defer rows.Close()
	var out []*keyward.WebhookEndpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list webhook endpoints: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list webhook endpoints: %w", err)
	}
	return out, nil
}

// UpdateWebhookEndpoint writes e's mutable fields. Errors: ENotFound.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, e *keyward.WebhookEndpoint) error {
	topics, err := storecodec.EncodeList(e.Topics)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	res, err := s.writer().ExecContext(ctx,
		`UPDATE webhook_endpoints SET url = ?, description = ?, topics = ?, enabled = ?, disabled_reason = ?,
			secret = ?, previous_secret = ?, previous_secret_until = ?, updated_at = ?
		WHERE account_id = ? AND id = ?`,
		e.URL, e.Description, topics, e.Enabled, e.DisabledReason, e.Secret, e.PreviousSecret,
		nullMicros(e.PreviousSecretUntil), micros(e.UpdatedAt), e.AccountID, e.ID)
	return affected(res, err, "update", "webhook endpoint", e.ID)
}

// DeleteWebhookEndpoint deletes the account's endpoint. Errors: ENotFound.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, accountID, id string) error {
	res, err := s.writer().ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE account_id = ? AND id = ?`, accountID, id)
	return affected(res, err, "delete", "webhook endpoint", id)
}

func scanEndpoint(row scanner) (*keyward.WebhookEndpoint, error) {
	var (
		e                    keyward.WebhookEndpoint
		topics               []byte
		prevUntil            sql.NullInt64
		createdAt, updatedAt int64
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
	e.PreviousSecretUntil = fromNullMicros(prevUntil)
	e.CreatedAt, e.UpdatedAt = fromMicros(createdAt), fromMicros(updatedAt)
	return &e, nil
}

// DueRotations returns up to limit live keys due for rotation at now, soonest first.
func (s *Store) DueRotations(ctx context.Context, now time.Time, limit int) ([]*keyward.Key, error) {
	return s.scheduledKeys(ctx, `k.next_rotation_at IS NOT NULL AND k.next_rotation_at <= ?
		AND k.revoked_at IS NULL AND k.replaced_by_key_id IS NULL ORDER BY k.next_rotation_at, k.id LIMIT ?`,
		micros(now), limit)
}

// ExpiringKeys returns up to limit unrevoked, unnotified keys whose expiry or grace end falls
// in (now, until].
func (s *Store) ExpiringKeys(ctx context.Context, now, until time.Time, limit int) ([]*keyward.Key, error) {
	n, u := micros(now), micros(until)
	return s.scheduledKeys(ctx, `k.revoked_at IS NULL AND k.expiry_notified_at IS NULL
		AND ((k.expires_at > ? AND k.expires_at <= ?) OR (k.grace_expires_at > ? AND k.grace_expires_at <= ?))
		ORDER BY k.id LIMIT ?`, n, u, n, u, limit)
}

func (s *Store) scheduledKeys(ctx context.Context, where string, args ...any) ([]*keyward.Key, error) {
	if args[len(args)-1].(int) <= 0 {
		return nil, nil
	}
	var out []*keyward.Key
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		if out, err = queryKeys(ctx, tx, selectKeys+` WHERE `+where, args...); err != nil {
			return err
		}
		return loadAccesses(ctx, tx, out...)
	})
	return out, err
}

// MarkKeyNotice sets the notice's time unless it is set, and reports whether it set it.
func (s *Store) MarkKeyNotice(ctx context.Context, accountID, id string, notice keyward.KeyNotice, at time.Time) (bool, error) {
	column, err := noticeColumn(notice)
	if err != nil {
		return false, err
	}
	res, err := s.writer().ExecContext(ctx,
		`UPDATE api_keys SET `+column+` = ? WHERE account_id = ? AND id = ? AND `+column+` IS NULL`, micros(at), accountID, id)
	if err != nil {
		return false, fmt.Errorf("sqlite: mark key %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return n == 1, err
	}
	if _, err := s.Key(ctx, accountID, id); err != nil {
		return false, err
	}
	return false, nil
}

// noticeColumn is the column that keeps a notice.
func noticeColumn(n keyward.KeyNotice) (string, error) {
	switch n {
	case keyward.NoticeExpiring:
		return "expiry_notified_at", nil
	case keyward.NoticeExhausted:
		return "exhausted_at", nil
	}
	return "", keyward.Errorf(keyward.EInvalid, "unknown key notice %q", n)
}

// MarkKeyLeaked records a leak on the account's key and returns the key as it now is.
func (s *Store) MarkKeyLeaked(ctx context.Context, accountID, id string, at time.Time, source, url string) (*keyward.Key, error) {
	var k *keyward.Key
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET leaked_at = ?, leak_source = ?, leak_url = ? WHERE account_id = ? AND id = ?`,
			micros(at), source, url, accountID, id)
		if err := affected(res, err, "mark leaked", "key", id); err != nil {
			return err
		}
		k, err = readKey(ctx, tx, func() error { return notFound("key", id) }, "leaked key "+id, `k.account_id = ? AND k.id = ?`, accountID, id)
		return err
	})
	return k, err
}

// ImportedKeyHashes returns the hashes of the keys imported from other systems, rehashed or
// not.
func (s *Store) ImportedKeyHashes(ctx context.Context) ([][]byte, error) {
	rows, err := s.reader().QueryContext(ctx, `SELECT hash FROM api_keys WHERE hash_scheme LIKE '%import'`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: imported keys: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("sqlite: imported keys: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// RehashKey replaces the key's hash oldHash with newHash. Errors: ENotFound, also when the
// key no longer has oldHash.
func (s *Store) RehashKey(ctx context.Context, accountID, id string, oldHash, newHash []byte, scheme string) error {
	res, err := s.writer().ExecContext(ctx, `UPDATE api_keys SET hash = ?, hash_scheme = ? WHERE account_id = ? AND id = ? AND hash = ?`,
		newHash, scheme, accountID, id, oldHash)
	return affected(res, err, "rehash", "key", id)
}
