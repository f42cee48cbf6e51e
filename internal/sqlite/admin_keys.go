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

// BootstrapAdminKey implements keyward.AdminKeyStore. The store's one write connection
// makes the transaction the only writer: no other bootstrap can come between its count and
// its inserts.
func (s *Store) BootstrapAdminKey(ctx context.Context, a *keyward.Account, k *keyward.AdminKey) (bool, error) {
	created := false
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM admin_keys`).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: count admin keys: %w", err)
		}
		if n > 0 {
			return nil
		}
		err := tx.QueryRowContext(ctx, `SELECT id FROM accounts WHERE name = ?`, a.Name).Scan(&k.AccountID)
		if errors.Is(err, sql.ErrNoRows) {
			k.AccountID = a.ID
			_, err = tx.ExecContext(ctx, `INSERT INTO accounts (`+accountColumns+`) VALUES (?, ?, ?, ?)`,
				a.ID, a.Name, a.KeyPrefix, micros(a.CreatedAt))
		}
		if err != nil {
			return fmt.Errorf("sqlite: bootstrap account: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO admin_keys (`+adminKeyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			k.ID, k.AccountID, k.Name, k.Prefix, k.Last4, k.Hash, k.HashScheme, micros(k.CreatedAt), nullMicros(k.RevokedAt)); err != nil {
			return insertError(err, "admin key", k.ID, "admin_keys.hash", "an admin key with this hash already exists")
		}
		created = true
		return nil
	})
	return created && err == nil, err
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
