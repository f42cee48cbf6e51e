package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyward/keyward/internal/keyward"
)

const userColumns = `id, account_id, issuer, subject, email, name, role_id, disabled_at, created_at`

// CreateUser inserts u. A user not linked to an OIDC provider has its issuer and subject
// stored as NULL, so that any number of them may exist. Errors: EConflict if another user has
// u's issuer and subject; ENotFound if u's account does not exist.
func (s *Store) CreateUser(ctx context.Context, u *keyward.User) error {
	_, err := s.writer().ExecContext(ctx,
		`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.AccountID, nullString(u.Issuer), nullString(u.Subject), nullString(u.Email),
		u.Name, nullString(u.RoleID), nullMicros(u.DisabledAt), micros(u.CreatedAt))
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
		return &keyward.Error{Code: keyward.ENotFound, Message: fmt.Sprintf("account %s not found", u.AccountID), Cause: err}
	}
	if err != nil {
		return insertError(err, "user", u.ID, "users.subject", "a user with this issuer and subject already exists")
	}
	return nil
}

// User returns the account's user. Errors: ENotFound, also for another account's.
func (s *Store) User(ctx context.Context, accountID, id string) (*keyward.User, error) {
	row := s.reader().QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE account_id = ? AND id = ?`, accountID, id)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user %s: %w", id, err)
	}
	return u, nil
}

// UserBySubject returns the user with the OIDC issuer and subject, in any account. Errors:
// ENotFound, also for an empty subject: users not linked to a provider cannot be found so.
func (s *Store) UserBySubject(ctx context.Context, issuer, subject string) (*keyward.User, error) {
	row := s.reader().QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE issuer = ? AND subject = ?`, issuer, subject)
	u, err := scanUser(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, keyward.Errorf(keyward.ENotFound, "user not found")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user by subject: %w", err)
	}
	return u, nil
}

// ListUsers returns up to limit of the account's users with id > after, by id.
func (s *Store) ListUsers(ctx context.Context, accountID, after string, limit int) ([]*keyward.User, error) {
	if limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	rows, err := s.reader().QueryContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`,
		accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	defer rows.Close()
	var out []*keyward.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list users: %w", err)
	}
	return out, nil
}

// UpdateUser writes u's email, name, role and disabled_at. Errors: ENotFound, also for
// another account's.
func (s *Store) UpdateUser(ctx context.Context, u *keyward.User) error {
	res, err := s.writer().ExecContext(ctx,
		`UPDATE users SET email = ?, name = ?, role_id = ?, disabled_at = ?
		WHERE account_id = ? AND id = ?`,
		nullString(u.Email), u.Name, nullString(u.RoleID), nullMicros(u.DisabledAt), u.AccountID, u.ID)
	return affected(res, err, "update", "user", u.ID)
}

func scanUser(row scanner) (*keyward.User, error) {
	var (
		u                              keyward.User
		issuer, subject, email, roleID sql.NullString
		createdAt                      int64
		disabledAt                     sql.NullInt64
	)
	err := row.Scan(&u.ID, &u.AccountID, &issuer, &subject, &email, &u.Name, &roleID, &disabledAt, &createdAt)
	if err != nil {
		return nil, err
	}
	u.Issuer = issuer.String
	u.Subject = subject.String
	u.Email = email.String
	u.RoleID = roleID.String
	u.DisabledAt = fromNullMicros(disabledAt)
	u.CreatedAt = fromMicros(createdAt)
	return &u, nil
}
