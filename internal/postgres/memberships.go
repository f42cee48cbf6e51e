package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keyward"
)

const membershipColumns = `id, account_id, project_id, user_id, key_id, role_id, created_at`

// CreateMembership inserts m. Errors: EConflict if its user or key is already a member of the
// project; ENotFound if the project, user or key is absent or another account's.
func (s *Store) CreateMembership(ctx context.Context, m *keyward.Membership) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		return runSteps(ctx, tx, append(lockRoles(m.RoleID), insertMembership(m))...)
	})
	return membershipError(err, m)
}

// insertMembership is the step that inserts m.
func insertMembership(m *keyward.Membership) step {
	return step{
		sql: `INSERT INTO memberships (` + membershipColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		args: []any{m.ID, m.AccountID, m.ProjectID, nullString(m.UserID), nullString(m.KeyID), m.RoleID,
			ts(m.CreatedAt)},
		explain: func(err error) error { return membershipError(err, m) },
	}
}

func membershipError(err error, m *keyward.Membership) error {
	member := "user " + m.UserID
	if m.KeyID != "" {
		member = "key " + m.KeyID
	}
	taken := conflict("%s is already a member of project %s", member, m.ProjectID)
	return writeError(err, "membership "+m.ID, violations{
		"memberships_project_user_key": taken,
		"memberships_project_key_key":  taken,
		"memberships_project_fkey":     notFound("project", m.ProjectID),
		"memberships_user_fkey":        notFound("user", m.UserID),
		"memberships_key_fkey":         notFound("key", m.KeyID),
	})
}

// Membership returns the account's membership. Errors: ENotFound, also for another account's.
func (s *Store) Membership(ctx context.Context, accountID, id string) (*keyward.Membership, error) {
	row := s.db().QueryRow(ctx,
		`SELECT `+membershipColumns+` FROM memberships WHERE account_id = $1 AND id = $2`, accountID, id)
	m, err := scanMembership(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("membership", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: membership %s: %w", id, err)
	}
	return m, nil
}

// ListMemberships returns the memberships matching f with id > f.After, by id: at most
// f.Limit of them, or all when f.Limit is 0.
func (s *Store) ListMemberships(ctx context.Context, f keyward.MembershipFilter) ([]*keyward.Membership, error) {
	var q strings.Builder
	q.WriteString(`SELECT ` + membershipColumns + ` FROM memberships WHERE account_id = $1 AND id > $2`)
	args := []any{f.AccountID, f.After}
	for _, c := range []struct{ column, value string }{
		{"project_id", f.ProjectID},
		{"user_id", f.UserID},
		{"key_id", f.KeyID},
	} {
		if c.value != "" {
			args = append(args, c.value)
			fmt.Fprintf(&q, ` AND %s = $%d`, c.column, len(args))
		}
	}
	q.WriteString(` ORDER BY id`)
	if f.Limit > 0 {
		args = append(args, f.Limit)
		fmt.Fprintf(&q, ` LIMIT $%d`, len(args))
	}
	return query(ctx, s.db(), scanMembership, "list memberships", q.String(), args...)
}

// UpdateMembership writes m's role. Errors: ENotFound, also for another account's.
func (s *Store) UpdateMembership(ctx context.Context, m *keyward.Membership) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		return runSteps(ctx, tx, append(lockRoles(m.RoleID), step{
			sql:      `UPDATE memberships SET role_id = $1 WHERE account_id = $2 AND id = $3`,
			args:     []any{m.RoleID, m.AccountID, m.ID},
			explain:  func(err error) error { return membershipError(err, m) },
			affected: affectedOne("membership", m.ID),
		})...)
	})
	return membershipError(err, m)
}

// DeleteMembership deletes the account's membership. Errors: ENotFound, also for another
// account's.
func (s *Store) DeleteMembership(ctx context.Context, accountID, id string) error {
	return s.execOne(ctx, "membership", id, nil,
		`DELETE FROM memberships WHERE account_id = $1 AND id = $2`, accountID, id)
}

func scanMembership(row pgx.Row) (*keyward.Membership, error) {
	var (
		m             keyward.Membership
		userID, keyID *string
		createdAt     time.Time
	)
	if err := row.Scan(&m.ID, &m.AccountID, &m.ProjectID, &userID, &keyID, &m.RoleID, &createdAt); err != nil {
		return nil, err
	}
	m.UserID = str(userID)
	m.KeyID = str(keyID)
	m.CreatedAt = createdAt.UTC()
	return &m, nil
}
