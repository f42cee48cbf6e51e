package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storecodec"
)

const accountColumns = `id, name, key_prefix, created_at, allowed_ips, leak_policy`

// CreateAccount inserts a. Errors: EConflict if the name is taken.
func (s *Store) CreateAccount(ctx context.Context, a *keyward.Account) error {
	_, err := s.writer().ExecContext(ctx,
		`INSERT INTO accounts (`+accountColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		a.ID, a.Name, a.KeyPrefix, micros(a.CreatedAt), storecodec.EncodeNetworks(a.AllowedIPs), a.LeakPolicy)
	if err != nil {
		return insertError(err, "account", a.ID, "accounts.name", fmt.Sprintf("an account named %q already exists", a.Name))
	}
	return nil
}

// Account returns the account with the id. Errors: ENotFound.
func (s *Store) Account(ctx context.Context, id string) (*keyward.Account, error) {
	row := s.reader().QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id)
	a, err := scanAccount(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("account", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: account %s: %w", id, err)
	}
	return a, nil
}

// AccountByName returns the account with the name. Errors: ENotFound.
func (s *Store) AccountByName(ctx context.Context, name string) (*keyward.Account, error) {
	row := s.reader().QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE name = ?`, name)
	a, err := scanAccount(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keyward.Errorf(keyward.ENotFound, "account %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: account named %q: %w", name, err)
	}
	return a, nil
}

// ListAccounts returns up to limit accounts with id > after, by id.
func (s *Store) ListAccounts(ctx context.Context, after string, limit int) ([]*keyward.Account, error) {
	if limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	rows, err := s.reader().QueryContext(ctx,
		`SELECT `+accountColumns+` FROM accounts WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list accounts: %w", err)
	}
	defer rows.Close()
	var out []*keyward.Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list accounts: %w", err)
	}
	return out, nil
}

// UpdateAccount writes a's name and key prefix. Errors: ENotFound; EConflict if the name is
// taken.
func (s *Store) UpdateAccount(ctx context.Context, a *keyward.Account) error {
	res, err := s.writer().ExecContext(ctx,
		`UPDATE accounts SET name = ?, key_prefix = ?, allowed_ips = ?, leak_policy = ? WHERE id = ?`,
		a.Name, a.KeyPrefix, storecodec.EncodeNetworks(a.AllowedIPs), a.LeakPolicy, a.ID)
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
		return &keyward.Error{Code: keyward.EConflict, Message: fmt.Sprintf("an account named %q already exists", a.Name), Cause: err}
	}
	return affected(res, err, "update", "account", a.ID)
}

func scanAccount(row scanner) (*keyward.Account, error) {
	var (
		a         keyward.Account
		createdAt int64
		networks  []byte
	)
	err := row.Scan(&a.ID, &a.Name, &a.KeyPrefix, &createdAt, &networks, &a.LeakPolicy)
	if err != nil {
		return nil, err
	}
	a.CreatedAt = fromMicros(createdAt)
	if a.AllowedIPs, err = storecodec.DecodeNetworks(networks); err != nil {
		return nil, fmt.Errorf("account %s allowed IPs: %w", a.ID, err)
	}
	return &a, nil
}
