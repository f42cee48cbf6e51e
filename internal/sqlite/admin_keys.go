package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/keyward/keyward/internal/keyward"
)

const adminKeyColumns = `id, account_id, name, key_prefix, last4, hash, hash_scheme, created_at, revoked_at`

// CreateAdminKey inserts k. Errors: EConflict if its hash is taken.
func (s *Store) CreateAdminKey(ctx context.Context, k *keyward.AdminKey) error {
	_, err := s.write.ExecContext(ctx,
		`INSERT INTO admin_keys (`+adminKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.AccountID, k.Name, k.Prefix, k.Last4, k.Hash, k.HashScheme,
		micros(k.CreatedAt), nullMicros(k.RevokedAt))
	if err != nil {
		return insertError(err, "admin key", k.ID, "admin_keys.hash", "an admin key with this hash already exists")
	}
	return nil
}

// AdminKeyByHash returns the admin key with the hash. Errors: ENotFound.
func (s *Store) AdminKeyByHash(ctx context.Context, hash []byte) (*keyward.AdminKey, error) {
	var (
		k         keyward.AdminKey
		createdAt int64
		revokedAt sql.NullInt64
	)
	err := s.read.QueryRowContext(ctx,
		`SELECT `+adminKeyColumns+` FROM admin_keys WHERE hash = ?`, hash).
		Scan(&k.ID, &k.AccountID, &k.Name, &k.Prefix, &k.Last4, &k.Hash, &k.HashScheme, &createdAt, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keyward.Errorf(keyward.ENotFound, "admin key not found")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: admin key by hash: %w", err)
	}
	k.CreatedAt = fromMicros(createdAt)
	k.RevokedAt = fromNullMicros(revokedAt)
	return &k, nil
}

// CountAdminKeys counts admin keys, revoked or not, in all accounts.
func (s *Store) CountAdminKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM admin_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count admin keys: %w", err)
	}
	return n, nil
}
