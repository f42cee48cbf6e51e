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

const roleColumns = `id, account_id, name, slug, description, permissions, created_at`

// CreateRole inserts r. Errors: EConflict if the account has a role with r's slug; ENotFound
// if the account does not exist.
func (s *Store) CreateRole(ctx context.Context, r *keyward.Role) error {
	perms, err := storecodec.EncodeList(r.Permissions)
	if err != nil {
		return fmt.Errorf("postgres: role %s permissions: %w", r.ID, err)
	}
	_, err = s.db().Exec(ctx,
		`INSERT INTO roles (`+roleColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.ID, r.AccountID, r.Name, r.Slug, r.Description, perms, ts(r.CreatedAt))
	return writeError(err, "role "+r.ID, violations{
		"roles_slug_key":     conflict("a role with slug %q already exists", r.Slug),
		"roles_account_fkey": notFound("account", r.AccountID),
	})
}

// Role returns the account's custom role. Errors: ENotFound, also for another account's.
func (s *Store) Role(ctx context.Context, accountID, id string) (*keyward.Role, error) {
	row := s.db().QueryRow(ctx,
		`SELECT `+roleColumns+` FROM roles WHERE account_id = $1 AND id = $2`, accountID, id)
	r, err := scanRole(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("role", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: role %s: %w", id, err)
	}
	return r, nil
}

// ListRoles returns up to limit of the account's custom roles with id > after, by id.
func (s *Store) ListRoles(ctx context.Context, accountID, after string, limit int) ([]*keyward.Role, error) {
	if limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	return query(ctx, s.db(), scanRole, "list roles",
		`SELECT `+roleColumns+` FROM roles WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
		accountID, after, limit)
}

// UpdateRole writes r's name, description and permissions. Errors: ENotFound, also for
// another account's.
func (s *Store) UpdateRole(ctx context.Context, r *keyward.Role) error {
	perms, err := storecodec.EncodeList(r.Permissions)
	if err != nil {
		return fmt.Errorf("postgres: role %s permissions: %w", r.ID, err)
	}
	return s.execOne(ctx, "role", r.ID, nil,
		`UPDATE roles SET name = $1, description = $2, permissions = $3 WHERE account_id = $4 AND id = $5`,
		r.Name, r.Description, perms, r.AccountID, r.ID)
}

// DeleteRole deletes the account's custom role. Errors: ENotFound, also for another
// account's; EConflict while a user, key or membership holds it.
//
// The role_id columns have no foreign key (built-in roles are not stored), so the check is
// made here. It locks the role's row first: a write that is giving the role to a holder holds
// a share lock on that row (see lockRoles) until it commits, so the lock waits for it, and the
// check, a later statement at READ COMMITTED, sees the holder it wrote. A write that comes
// after waits for the delete instead.
func (s *Store) DeleteRole(ctx context.Context, accountID, id string) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx,
			`SELECT 1 FROM roles WHERE account_id = $1 AND id = $2 FOR UPDATE`, accountID, id).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("role", id)
		}
		if err != nil {
			return fmt.Errorf("postgres: delete role %s: %w", id, err)
		}
		// Role ids are unique across accounts, so the search needs none.
		var holder *string
		err = tx.QueryRow(ctx, `SELECT CASE
			WHEN EXISTS (SELECT 1 FROM users WHERE role_id = $1) THEN 'a user'
			WHEN EXISTS (SELECT 1 FROM api_keys WHERE role_id = $1) THEN 'an API key'
			WHEN EXISTS (SELECT 1 FROM memberships WHERE role_id = $1) THEN 'a project membership'
			END`, id).Scan(&holder)
		if err != nil {
			return fmt.Errorf("postgres: delete role %s: %w", id, err)
		}
		if holder != nil {
			return keyward.Errorf(keyward.EConflict, "role %s is held by %s; assign another role first", id, *holder)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM roles WHERE account_id = $1 AND id = $2`, accountID, id); err != nil {
			return fmt.Errorf("postgres: delete role %s: %w", id, err)
		}
		return nil
	})
	return writeError(err, "role "+id, nil)
}

func scanRole(row pgx.Row) (*keyward.Role, error) {
	var (
		r         keyward.Role
		perms     []byte
		createdAt time.Time
	)
	if err := row.Scan(&r.ID, &r.AccountID, &r.Name, &r.Slug, &r.Description, &perms, &createdAt); err != nil {
		return nil, err
	}
	p, err := storecodec.DecodeList(perms)
	if err != nil {
		return nil, fmt.Errorf("role %s permissions: %w", r.ID, err)
	}
	r.Permissions = p
	r.CreatedAt = createdAt.UTC()
	return &r, nil
}
