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

const accountColumns = `id, name, key_prefix, created_at, allowed_ips, leak_policy`

// CreateAccount inserts a. Errors: EConflict if the name is taken.
func (s *Store) CreateAccount(ctx context.Context, a *keyward.Account) error {
	_, err := s.db().Exec(ctx,
		`INSERT INTO accounts (`+accountColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		a.ID, a.Name, a.KeyPrefix, ts(a.CreatedAt), storecodec.EncodeNetworks(a.AllowedIPs), a.LeakPolicy)
	return writeError(err, "account "+a.ID, violations{
		"accounts_name_key": conflict("an account named %q already exists", a.Name),
	})
}

// Account returns the account with the id. Errors: ENotFound.
func (s *Store) Account(ctx context.Context, id string) (*keyward.Account, error) {
	row := s.db().QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id)
	a, err := scanAccount(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("account", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: account %s: %w", id, err)
	}
	return a, nil
}

// AccountByName returns the account with the name. Errors: ENotFound.
func (s *Store) AccountByName(ctx context.Context, name string) (*keyward.Account, error) {
	row := s.db().QueryRow(ctx, `SELECT `+accountColumns+` FROM accounts WHERE name = $1`, name)
	a, err := scanAccount(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, keyward.Errorf(keyward.ENotFound, "account %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: account named %q: %w", name, err)
	}
	return a, nil
}

// ListAccounts returns up to limit accounts with id > after, by id.
func (s *Store) ListAccounts(ctx context.Context, after string, limit int) ([]*keyward.Account, error) {
	if limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	return query(ctx, s.db(), scanAccount, "list accounts",
		`SELECT `+accountColumns+` FROM accounts WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
}

// UpdateAccount writes a's name, key prefix, networks and leak policy. Errors: ENotFound; EConflict if the name is
// taken.
func (s *Store) UpdateAccount(ctx context.Context, a *keyward.Account) error {
	return s.execOne(ctx, "account", a.ID, violations{
		"accounts_name_key": conflict("an account named %q already exists", a.Name),
	}, `UPDATE accounts SET name = $1, key_prefix = $2, allowed_ips = $3, leak_policy = $4 WHERE id = $5`,
		a.Name, a.KeyPrefix, storecodec.EncodeNetworks(a.AllowedIPs), a.LeakPolicy, a.ID)
}

func scanAccount(row pgx.Row) (*keyward.Account, error) {
	var (
		a         keyward.Account
		createdAt time.Time
		networks  []byte
	)
	err := row.Scan(&a.ID, &a.Name, &a.KeyPrefix, &createdAt, &networks, &a.LeakPolicy)
	if err != nil {
		return nil, err
	}
	a.CreatedAt = createdAt.UTC()
	if a.AllowedIPs, err = storecodec.DecodeNetworks(networks); err != nil {
		return nil, fmt.Errorf("account %s allowed IPs: %w", a.ID, err)
	}
	return &a, nil
}
