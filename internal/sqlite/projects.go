package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/keyward/keyward/internal/keyward"
)

const projectColumns = `id, account_id, name, key_prefix, created_at, leak_policy`

// CreateProject inserts p. Errors: EConflict if p's account has a project of that name.
func (s *Store) CreateProject(ctx context.Context, p *keyward.Project) error {
	_, err := s.writer().ExecContext(ctx,
		`INSERT INTO projects (`+projectColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		p.ID, p.AccountID, p.Name, p.KeyPrefix, micros(p.CreatedAt), p.LeakPolicy)
	if err != nil {
		return insertError(err, "project", p.ID, "projects.name", fmt.Sprintf("a project named %q already exists", p.Name))
	}
	return nil
}

// UpdateProject writes p's name and leak policy. Errors: ENotFound, also for another
// account's; EConflict if the name is taken.
func (s *Store) UpdateProject(ctx context.Context, p *keyward.Project) error {
	res, err := s.writer().ExecContext(ctx,
		`UPDATE projects SET name = ?, leak_policy = ? WHERE account_id = ? AND id = ?`,
		p.Name, p.LeakPolicy, p.AccountID, p.ID)
	if err != nil {
		return insertError(err, "project", p.ID, "projects.name", fmt.Sprintf("a project named %q already exists", p.Name))
	}
	return affected(res, nil, "update", "project", p.ID)
}

// Project returns the account's project. Errors: ENotFound, also for another account's.
func (s *Store) Project(ctx context.Context, accountID, id string) (*keyward.Project, error) {
	row := s.reader().QueryRowContext(ctx,
		`SELECT `+projectColumns+` FROM projects WHERE account_id = ? AND id = ?`, accountID, id)
	p, err := scanProject(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("project", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: project %s: %w", id, err)
	}
	return p, nil
}

// ListProjects returns up to limit of the account's projects with id > after, by id.
func (s *Store) ListProjects(ctx context.Context, accountID, after string, limit int) ([]*keyward.Project, error) {
	if limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	rows, err := s.reader().QueryContext(ctx,
		`SELECT `+projectColumns+` FROM projects WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?`,
		accountID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list projects: %w", err)
	}
	defer rows.Close()
	var out []*keyward.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list projects: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list projects: %w", err)
	}
	return out, nil
}

func scanProject(row scanner) (*keyward.Project, error) {
	var (
		p         keyward.Project
		createdAt int64
	)
	if err := row.Scan(&p.ID, &p.AccountID, &p.Name, &p.KeyPrefix, &createdAt, &p.LeakPolicy); err != nil {
		return nil, err
	}
	p.CreatedAt = fromMicros(createdAt)
	return &p, nil
}

const environmentColumns = `id, account_id, project_id, name, created_at`

// CreateEnvironment inserts e. Errors: EConflict if its project has an environment of that
// name.
func (s *Store) CreateEnvironment(ctx context.Context, e *keyward.Environment) error {
	_, err := s.writer().ExecContext(ctx,
		`INSERT INTO environments (`+environmentColumns+`) VALUES (?, ?, ?, ?, ?)`,
		e.ID, e.AccountID, e.ProjectID, e.Name, micros(e.CreatedAt))
	if err != nil {
		return insertError(err, "environment", e.ID, "environments.name", fmt.Sprintf("the project already has an environment named %q", e.Name))
	}
	return nil
}

// Environment returns the account's environment. Errors: ENotFound, also for another
// account's.
func (s *Store) Environment(ctx context.Context, accountID, id string) (*keyward.Environment, error) {
	row := s.reader().QueryRowContext(ctx,
		`SELECT `+environmentColumns+` FROM environments WHERE account_id = ? AND id = ?`, accountID, id)
	e, err := scanEnvironment(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("environment", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: environment %s: %w", id, err)
	}
	return e, nil
}

// ListEnvironments returns up to limit of the project's environments with id > after, by id.
func (s *Store) ListEnvironments(ctx context.Context, accountID, projectID, after string, limit int) ([]*keyward.Environment, error) {
	if limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	rows, err := s.reader().QueryContext(ctx,
		`SELECT `+environmentColumns+` FROM environments
		WHERE account_id = ? AND project_id = ? AND id > ? ORDER BY id LIMIT ?`,
		accountID, projectID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list environments: %w", err)
	}
	defer rows.Close()
	var out []*keyward.Environment
	for rows.Next() {
		e, err := scanEnvironment(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list environments: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list environments: %w", err)
	}
	return out, nil
}

func scanEnvironment(row scanner) (*keyward.Environment, error) {
	var (
		e         keyward.Environment
		createdAt int64
	)
	if err := row.Scan(&e.ID, &e.AccountID, &e.ProjectID, &e.Name, &createdAt); err != nil {
		return nil, err
	}
	e.CreatedAt = fromMicros(createdAt)
	return &e, nil
}
