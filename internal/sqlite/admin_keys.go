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

const adminKeyColumns = `id, account_id, name, key_prefix, last4, hash, hash_scheme, created_at, revoked_at`

// CreateAdminKey inserts k. Errors: EConflict if its hash is taken.
func (s *Store) CreateAdminKey(ctx context.Context, k *keyward.AdminKey) error {
	return insertAdminKey(ctx, s.writer(), k)
}

// insertAdminKey inserts k through db, the store's write connection or a transaction on it.
func insertAdminKey(ctx context.Context, db interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}, k *keyward.AdminKey) error {
	_, err := db.ExecContext(ctx,
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
			_, err = tx.ExecContext(ctx, `INSERT INTO accounts (`+accountColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
				a.ID, a.Name, a.KeyPrefix, micros(a.CreatedAt), storecodec.EncodeNetworks(a.AllowedIPs), a.LeakPolicy)
		}
		if err != nil {
			return fmt.Errorf("sqlite: bootstrap account: %w", err)
		}
		if err := insertAdminKey(ctx, tx, k); err != nil {
			return err
		}
		created = true
		return nil
	})
	return created && err == nil, err
}

// AdminKeyByHash returns the admin key with the hash. Errors: ENotFound.
func (s *Store) AdminKeyByHash(ctx context.Context, hash []byte) (*keyward.AdminKey, error) {
	k, err := scanAdminKey(s.reader().QueryRowContext(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keyward.Errorf(keyward.ENotFound, "admin key not found")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: admin key by hash: %w", err)
	}
	return k, nil
}

// AdminKeys implements keyward.AdminKeyStore.
func (s *Store) AdminKeys(ctx context.Context) ([]*keyward.AdminKey, error) {
	rows, err := s.reader().QueryContext(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: admin keys: %w", err)
	}
	defer rows.Close()
	var keys []*keyward.AdminKey
	for rows.Next() {
		k, err := scanAdminKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: admin keys: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// RevokeAdminKey implements keyward.AdminKeyStore.
func (s *Store) RevokeAdminKey(ctx context.Context, id string, at time.Time) (*keyward.AdminKey, error) {
	var k *keyward.AdminKey
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		k, err = scanAdminKey(tx.QueryRowContext(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("admin key", id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: admin key %s: %w", id, err)
		}
		if k.RevokedAt != nil {
			return keyward.Errorf(keyward.EConflict, "admin key %s is revoked already", id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE admin_keys SET revoked_at = ? WHERE id = ?`, micros(at), id); err != nil {
			return fmt.Errorf("sqlite: revoke admin key %s: %w", id, err)
		}
		k.RevokedAt = fromNullMicros(sql.NullInt64{Int64: micros(at), Valid: true})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// scanAdminKey reads a row of adminKeyColumns.
func scanAdminKey(row scanner) (*keyward.AdminKey, error) {
	var (
		k         keyward.AdminKey
		createdAt int64
		revokedAt sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.AccountID, &k.Name, &k.Prefix, &k.Last4, &k.Hash, &k.HashScheme, &createdAt, &revokedAt); err != nil {
		return nil, err
	}
	k.CreatedAt = fromMicros(createdAt)
	k.RevokedAt = fromNullMicros(revokedAt)
	return &k, nil
}

// CountAdminKeys counts admin keys, revoked or not, in all accounts.
func (s *Store) CountAdminKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.reader().QueryRowContext(ctx, `SELECT count(*) FROM admin_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count admin keys: %w", err)
	}
	return n, nil
}
