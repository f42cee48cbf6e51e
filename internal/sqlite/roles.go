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

const roleColumns = `id, account_id, name, slug, description, permissions, created_at`

// CreateRole inserts r. Errors: EConflict if the account has a role with r's slug; ENotFound
// if the account does not exist.
func (s *Store) CreateRole(ctx context.Context, r *keyward.Role) error {
	perms, err := storecodec.EncodeList(r.Permissions)
	if err != nil {
		return fmt.Errorf("sqlite: role %s permissions: %w", r.ID, err)
	}
	_, err = s.writer().ExecContext(ctx,
		`INSERT INTO roles (`+roleColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.AccountID, r.Name, r.Slug, r.Description, perms, micros(r.CreatedAt))
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
		return &keyward.Error{Code: keyward.ENotFound, Message: fmt.Sprintf("account %s not found", r.AccountID), Cause: err}
	}
	if err != nil {
		return insertError(err, "role", r.ID, "roles.slug", fmt.Sprintf("a role with slug %q already exists", r.Slug))
	}
	return nil
}

// Role returns the account's custom role. Errors: ENotFound, also for another account's.
func (s *Store) Role(ctx context.Context, accountID, id string) (*keyward.Role, error) {
	row := s.reader().QueryRowContext(ctx,
		`SELECT `+roleColumns+` FROM roles WHERE account_id = ? AND id = ?`, accountID, id)
	r, err := scanRole(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("role", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: role %s: %w", id, err)
	}
	return r, nil
}

// ListRoles returns up to limit of the account's custom roles with id > after, by id.
func (s *Store) ListRoles(ctx context.Context, accountID, after string, limit int) ([]*keyward.Role, error) {
	if limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	rows, err := s.reader().QueryContext(ctx,
		`SELECT `+roleColumns+` FROM roles WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`,
		accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list roles: %w", err)
	}
	defer rows.Close()
	var out []*keyward.Role
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list roles: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list roles: %w", err)
	}
	return out, nil
}

// UpdateRole writes r's name, description and permissions. Errors: ENotFound, also for
// another account's.
func (s *Store) UpdateRole(ctx context.Context, r *keyward.Role) error {
	perms, err := storecodec.EncodeList(r.Permissions)
	if err != nil {
		return fmt.Errorf("sqlite: role %s permissions: %w", r.ID, err)
	}
	res, err := s.writer().ExecContext(ctx,
		`UPDATE roles SET name = ?, description = ?, permissions = ? WHERE account_id = ? AND id = ?`,
		r.Name, r.Description, perms, r.AccountID, r.ID)
	return affected(res, err, "update", "role", r.ID)
}

// roleHolders are what may hold a role, and how to find one that does. Role ids are unique
// across accounts, so the search needs none.
var roleHolders = []struct{ what, query string }{
	{"a user", `SELECT 1 FROM users WHERE role_id = ?`},
	{"an API key", `SELECT 1 FROM api_keys WHERE role_id = ?`},
	{"a project membership", `SELECT 1 FROM memberships WHERE role_id = ?`},
}

// DeleteRole deletes the account's custom role. Errors: ENotFound, also for another
// account's; EConflict while a user, key or membership holds it. The role_id columns have no
// foreign key (built-in roles are not stored), so the check is made here, in the write
// transaction, where no holder can appear between it and the delete.
func (s *Store) DeleteRole(ctx context.Context, accountID, id string) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM roles WHERE account_id = ? AND id = ?`, accountID, id)
		if err != nil {
			return err
		}
		if !found {
			return notFound("role", id)
		}
		for _, h := range roleHolders {
			held, err := exists(ctx, tx, h.query, id)
			if err != nil {
				return err
			}
			if held {
				return keyward.Errorf(keyward.EConflict, "role %s is held by %s; assign another role first", id, h.what)
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM roles WHERE account_id = ? AND id = ?`, accountID, id)
		return affected(res, err, "delete", "role", id)
	})
}

func scanRole(row scanner) (*keyward.Role, error) {
	var (
		r         keyward.Role
		perms     []byte
		createdAt int64
	)
	if err := row.Scan(&r.ID, &r.AccountID, &r.Name, &r.Slug, &r.Description, &perms, &createdAt); err != nil {
		return nil, err
	}
	p, err := storecodec.DecodeList(perms)
	if err != nil {
		return nil, fmt.Errorf("role %s permissions: %w", r.ID, err)
	}
	r.Permissions = p
	r.CreatedAt = fromMicros(createdAt)
	return &r, nil
}
