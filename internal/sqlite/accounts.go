package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/keyward/keyward/internal/keyward"
)

const accountColumns = `id, name, created_at`

// CreateAccount inserts a. Errors: EConflict if the name is taken.
func (s *Store) CreateAccount(ctx context.Context, a *keyward.Account) error {
	_, err := s.write.ExecContext(ctx,
		`INSERT INTO accounts (`+accountColumns+`) VALUES (?, ?, ?)`,
		a.ID, a.Name, micros(a.CreatedAt))
	if err != nil {
		return insertError(err, "account", a.ID, "accounts.name", fmt.Sprintf("an account named %q already exists", a.Name))
	}
	return nil
}

// Account returns the account with the id. Errors: ENotFound.
func (s *Store) Account(ctx context.Context, id string) (*keyward.Account, error) {
	row := s.read.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id)
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
	row := s.read.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM accounts WHERE name = ?`, name)
	a, err := scanAccount(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keyward.Errorf(keyward.ENotFound, "account %q not found", name)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: account named %q: %w", name, err)
	}
	return a, nil
}

func scanAccount(row scanner) (*keyward.Account, error) {
	var (
		a         keyward.Account
		createdAt int64
	)
	if err := row.Scan(&a.ID, &a.Name, &createdAt); err != nil {
		return nil, err
	}
	a.CreatedAt = fromMicros(createdAt)
	return &a, nil
}
