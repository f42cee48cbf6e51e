package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyward/keyward/internal/keyward"
)

const membershipColumns = `id, account_id, project_id, user_id, key_id, role_id, created_at`

// CreateMembership inserts m. Errors: EConflict if its user or key is already a member of the
// project; ENotFound if the project, user or key is absent or another account's.
func (s *Store) CreateMembership(ctx context.Context, m *keyward.Membership) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error { return insertMembership(ctx, tx, m) })
}

// insertMembership inserts m in tx, which it needs to find out, if a foreign key fails,
// which of the rows m refers to is missing.
func insertMembership(ctx context.Context, tx *sql.Tx, m *keyward.Membership) error {
	_, err := tx.ExecContext(ctx,
		`INSERT INTO memberships (`+membershipColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.AccountID, m.ProjectID, nullString(m.UserID), nullString(m.KeyID), m.RoleID,
		micros(m.CreatedAt))
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
		refs := []reference{projectRef(m.AccountID, m.ProjectID)}
		if m.UserID != "" {
			refs = append(refs, userRef(m.AccountID, m.UserID))
		}
		if m.KeyID != "" {
			refs = append(refs, keyRef(m.AccountID, m.KeyID))
		}
		if err := missingReference(ctx, tx, refs...); err != nil {
			return err
		}
	}
	if err != nil {
		member, column := "user "+m.UserID, "memberships.user_id"
		if m.KeyID != "" {
			member, column = "key "+m.KeyID, "memberships.key_id"
		}
		return insertError(err, "membership", m.ID, column,
			fmt.Sprintf("%s is already a member of project %s", member, m.ProjectID))
	}
	return nil
}

// Membership returns the account's membership. Errors: ENotFound, also for another account's.
func (s *Store) Membership(ctx context.Context, accountID, id string) (*keyward.Membership, error) {
	row := s.reader().QueryRowContext(ctx,
		`SELECT `+membershipColumns+` FROM memberships WHERE account_id = ? AND id = ?`, accountID, id)
	m, err := scanMembership(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("membership", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: membership %s: %w", id, err)
	}
	return m, nil
}

// ListMemberships returns the memberships matching f with id > f.After, by id: at most
// f.Limit of them, or all when f.Limit is 0.
func (s *Store) ListMemberships(ctx context.Context, f keyward.MembershipFilter) ([]*keyward.Membership, error) {
	var q strings.Builder
	q.WriteString(`SELECT ` + membershipColumns + ` FROM memberships WHERE account_id = ? AND id > ?`)
	args := []any{f.AccountID, f.After}
	for _, c := range []struct{ column, value string }{
		{"project_id", f.ProjectID},
		{"user_id", f.UserID},
		{"key_id", f.KeyID},
	} {
		if c.value != "" {
			q.WriteString(` AND ` + c.column + ` = ?`)
			args = append(args, c.value)
		}
	}
	q.WriteString(` ORDER BY id`)
	if f.Limit > 0 {
		q.WriteString(` LIMIT ?`)
		args = append(args, f.Limit)
	}
	rows, err := s.reader().QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list memberships: %w", err)
	}
	defer rows.Close()
	var out []*keyward.Membership
	for rows.Next() {
		m, err := scanMembership(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list memberships: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list memberships: %w", err)
	}
	return out, nil
}

// UpdateMembership writes m's role. Errors: ENotFound, also for another account's.
func (s *Store) UpdateMembership(ctx context.Context, m *keyward.Membership) error {
	res, err := s.writer().ExecContext(ctx,
		`UPDATE memberships SET role_id = ? WHERE account_id = ? AND id = ?`, m.RoleID, m.AccountID, m.ID)
	return affected(res, err, "update", "membership", m.ID)
}

// DeleteMembership deletes the account's membership. Errors: ENotFound, also for another
// account's.
func (s *Store) DeleteMembership(ctx context.Context, accountID, id string) error {
	res, err := s.writer().ExecContext(ctx,
		`DELETE FROM memberships WHERE account_id = ? AND id = ?`, accountID, id)
	return affected(res, err, "delete", "membership", id)
}

func scanMembership(row scanner) (*keyward.Membership, error) {
	var (
		m             keyward.Membership
		userID, keyID sql.NullString
		createdAt     int64
	)
	if err := row.Scan(&m.ID, &m.AccountID, &m.ProjectID, &userID, &keyID, &m.RoleID, &createdAt); err != nil {
		return nil, err
	}
	m.UserID = userID.String
	m.KeyID = keyID.String
	m.CreatedAt = fromMicros(createdAt)
	return &m, nil
}
