package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keyward"
)

const userColumns = `id, account_id, issuer, subject, email, name, role_id, disabled_at, created_at`

// CreateUser inserts u. A user not linked to an OIDC provider has its issuer and subject
// stored as NULL, so that any number of them may exist. Errors: EConflict if another user has
// u's issuer and subject; ENotFound if u's account does not exist.
func (s *Store) CreateUser(ctx context.Context, u *keyward.User) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		return runSteps(ctx, tx, append(lockRoles(u.RoleID), step{
			sql: `INSERT INTO users (` + userColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			args: []any{u.ID, u.AccountID, nullString(u.Issuer), nullString(u.Subject), nullString(u.Email),
				u.Name, nullString(u.RoleID), nullTS(u.DisabledAt), ts(u.CreatedAt)},
			explain: func(err error) error { return userError(err, u) },
		})...)
	})
	return userError(err, u)
}

func userError(err error, u *keyward.User) error {
	return writeError(err, "user "+u.ID, violations{
		"users_issuer_subject_key": conflict("a user with this issuer and subject already exists"),
		"users_account_fkey":       notFound("account", u.AccountID),
	})
}

// User returns the account's user. Errors: ENotFound, also for another account's.
func (s *Store) User(ctx context.Context, accountID, id string) (*keyward.User, error) {
	row := s.db().QueryRow(ctx,
		`SELECT `+userColumns+` FROM users WHERE account_id = $1 AND id = $2`, accountID, id)
	u, err := scanUser(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("user", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: user %s: %w", id, err)
	}
	return u, nil
}

// UserBySubject returns the user with the OIDC issuer and subject, in any account. Errors:
// ENotFound, also for an empty subject: users not linked to a provider cannot be found so.
func (s *Store) UserBySubject(ctx context.Context, issuer, subject string) (*keyward.User, error) {
	row := s.db().QueryRow(ctx,
		`SELECT `+userColumns+` FROM users WHERE issuer = $1 AND subject = $2`, issuer, subject)
	u, err := scanUser(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, keyward.Errorf(keyward.ENotFound, "user not found")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: user by subject: %w", err)
	}
	return u, nil
}

// ListUsers returns up to limit of the account's users with id > after, by id.
func (s *Store) ListUsers(ctx context.Context, accountID, after string, limit int) ([]*keyward.User, error) {
	if limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	return query(ctx, s.db(), scanUser, "list users",
		`SELECT `+userColumns+` FROM users WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
		accountID, after, limit)
}

// UpdateUser writes u's email, name, role and disabled_at. Errors: ENotFound, also for
// another account's.
func (s *Store) UpdateUser(ctx context.Context, u *keyward.User) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		return runSteps(ctx, tx, append(lockRoles(u.RoleID), step{
			sql: `UPDATE users SET email = $1, name = $2, role_id = $3, disabled_at = $4
				WHERE account_id = $5 AND id = $6`,
			args:     []any{nullString(u.Email), u.Name, nullString(u.RoleID), nullTS(u.DisabledAt), u.AccountID, u.ID},
			explain:  func(err error) error { return userError(err, u) },
			affected: affectedOne("user", u.ID),
		})...)
	})
	return userError(err, u)
}

func scanUser(row pgx.Row) (*keyward.User, error) {
	var (
		u                              keyward.User
		issuer, subject, email, roleID *string
		createdAt                      time.Time
		disabledAt                     *time.Time
	)
	err := row.Scan(&u.ID, &u.AccountID, &issuer, &subject, &email, &u.Name, &roleID, &disabledAt, &createdAt)
	if err != nil {
		return nil, err
	}
	u.Issuer = str(issuer)
	u.Subject = str(subject)
	u.Email = str(email)
	u.RoleID = str(roleID)
	u.DisabledAt = utc(disabledAt)
	u.CreatedAt = createdAt.UTC()
	return &u, nil
}
