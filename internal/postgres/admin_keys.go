package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storecodec"
)

const adminKeyColumns = `id, account_id, name, key_prefix, last4, hash, hash_scheme, created_at, revoked_at`

// CreateAdminKey inserts k. Errors: EConflict if its hash is taken; ENotFound if its account
// does not exist.
func (s *Store) CreateAdminKey(ctx context.Context, k *keyward.AdminKey) error {
	return insertAdminKey(ctx, s.db(), k)
}

// insertAdminKey inserts k through db, the pool or a transaction.
func insertAdminKey(ctx context.Context, db interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}, k *keyward.AdminKey) error {
	_, err := db.Exec(ctx,
		`INSERT INTO admin_keys (`+adminKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.AccountID, k.Name, k.Prefix, k.Last4, k.Hash, k.HashScheme,
		ts(k.CreatedAt), nullTS(k.RevokedAt))
	return writeError(err, "admin key "+k.ID, violations{
		"admin_keys_hash_key":     conflict("an admin key with this hash already exists"),
		"admin_keys_account_fkey": notFound("account", k.AccountID),
	})
}

// bootstrapLock is the transaction-scoped advisory lock that serialises bootstraps: "kw" and
// "boot" in ASCII, a number no other lock of Keyward's uses.
const bootstrapLock = 0x6b77_626f6f74

// BootstrapAdminKey implements keyward.AdminKeyStore. Nodes that start at once on an empty
// database queue on an advisory lock, so that each counts the admin keys only after the
// one before it has committed.
func (s *Store) BootstrapAdminKey(ctx context.Context, a *keyward.Account, k *keyward.AdminKey) (bool, error) {
	created := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(bootstrapLock)); err != nil {
			return fmt.Errorf("postgres: bootstrap lock: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM admin_keys`).Scan(&n); err != nil {
			return fmt.Errorf("postgres: count admin keys: %w", err)
		}
		if n > 0 {
			return nil
		}
		// An account of the name may exist (made by keyward admin create-key's account
		// creation, say): the key joins it.
		if err := tx.QueryRow(ctx,
			`INSERT INTO accounts (`+accountColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id`,
			a.ID, a.Name, a.KeyPrefix, ts(a.CreatedAt), storecodec.EncodeNetworks(a.AllowedIPs), a.LeakPolicy).Scan(&k.AccountID); err != nil {
			return fmt.Errorf("postgres: bootstrap account: %w", err)
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
	k, err := scanAdminKey(s.db().QueryRow(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, keyward.Errorf(keyward.ENotFound, "admin key not found")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: admin key by hash: %w", err)
	}
	return k, nil
}

// AdminKeys implements keyward.AdminKeyStore.
func (s *Store) AdminKeys(ctx context.Context) ([]*keyward.AdminKey, error) {
	return query(ctx, s.db(), scanAdminKey, "admin keys", `SELECT `+adminKeyColumns+` FROM admin_keys ORDER BY id`)
}

// RevokeAdminKey implements keyward.AdminKeyStore. The row is locked while it is read, so of
// two revocations at once one wins and the other sees it revoked.
func (s *Store) RevokeAdminKey(ctx context.Context, id string, at time.Time) (*keyward.AdminKey, error) {
	var k *keyward.AdminKey
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		k, err = scanAdminKey(tx.QueryRow(ctx, `SELECT `+adminKeyColumns+` FROM admin_keys WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("admin key", id)
		}
		if err != nil {
			return fmt.Errorf("postgres: admin key %s: %w", id, err)
		}
		if k.RevokedAt != nil {
			return conflict("admin key %s is revoked already", id)
		}
		revoked := ts(at)
		if _, err := tx.Exec(ctx, `UPDATE admin_keys SET revoked_at = $1 WHERE id = $2`, revoked, id); err != nil {
			return fmt.Errorf("postgres: revoke admin key %s: %w", id, err)
		}
		k.RevokedAt = utc(&revoked)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// scanAdminKey reads a row of adminKeyColumns.
func scanAdminKey(row pgx.Row) (*keyward.AdminKey, error) {
	var (
		k         keyward.AdminKey
		createdAt time.Time
		revokedAt *time.Time
	)
	if err := row.Scan(&k.ID, &k.AccountID, &k.Name, &k.Prefix, &k.Last4, &k.Hash, &k.HashScheme, &createdAt, &revokedAt); err != nil {
		return nil, err
	}
	k.CreatedAt = createdAt.UTC()
	k.RevokedAt = utc(revokedAt)
	return &k, nil
}

// CountAdminKeys counts admin keys, revoked or not, in all accounts.
func (s *Store) CountAdminKeys(ctx context.Context) (int, error) {
	var n int
	if err := s.db().QueryRow(ctx, `SELECT count(*) FROM admin_keys`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count admin keys: %w", err)
	}
	return n, nil
}
