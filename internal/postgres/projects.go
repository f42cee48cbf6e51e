package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keyward"
)

const projectColumns = `id, account_id, name, key_prefix, created_at, leak_policy`

// CreateProject inserts p. Errors: EConflict if p's account has a project of that name;
// ENotFound if the account does not exist.
func (s *Store) CreateProject(ctx context.Context, p *keyward.Project) error {
	_, err := s.db().Exec(ctx,
		`INSERT INTO projects (`+projectColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		p.ID, p.AccountID, p.Name, p.KeyPrefix, ts(p.CreatedAt), p.LeakPolicy)
	return writeError(err, "project "+p.ID, violations{
		"projects_name_key":     conflict("a project named %q already exists", p.Name),
		"projects_account_fkey": notFound("account", p.AccountID),
	})
}

// UpdateProject writes p's name and leak policy. Errors: ENotFound, also for another
// account's; EConflict if the name is taken.
func (s *Store) UpdateProject(ctx context.Context, p *keyward.Project) error {
	return s.execOne(ctx, "project", p.ID, violations{
		"projects_name_key": conflict("a project named %q already exists", p.Name),
	}, `UPDATE projects SET name = $1, leak_policy = $2 WHERE account_id = $3 AND id = $4`,
		p.Name, p.LeakPolicy, p.AccountID, p.ID)
}

// Project returns the account's project. Errors: ENotFound, also for another account's.
func (s *Store) Project(ctx context.Context, accountID, id string) (*keyward.Project, error) {
	row := s.db().QueryRow(ctx,
		`SELECT `+projectColumns+` FROM projects WHERE account_id = $1 AND id = $2`, accountID, id)
	p, err := scanProject(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("project", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: project %s: %w", id, err)
	}
	return p, nil
}

// ListProjects returns up to limit of the account's projects with id > after, by id.
func (s *Store) ListProjects(ctx context.Context, accountID, after string, limit int) ([]*keyward.Project, error) {
	if limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	return query(ctx, s.db(), scanProject, "list projects",
		`SELECT `+projectColumns+` FROM projects WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
		accountID, after, limit)
}

func scanProject(row pgx.Row) (*keyward.Project, error) {
	var (
		p         keyward.Project
		createdAt time.Time
	)
	if err := row.Scan(&p.ID, &p.AccountID, &p.Name, &p.KeyPrefix, &createdAt, &p.LeakPolicy); err != nil {
		return nil, err
	}
	p.CreatedAt = createdAt.UTC()
	return &p, nil
}

const environmentColumns = `id, account_id, project_id, name, created_at`

// CreateEnvironment inserts e. Errors: EConflict if its project has an environment of that
// name; ENotFound if the project is absent or another account's.
func (s *Store) CreateEnvironment(ctx context.Context, e *keyward.Environment) error {
	_, err := s.db().Exec(ctx,
		`INSERT INTO environments (`+environmentColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		e.ID, e.AccountID, e.ProjectID, e.Name, ts(e.CreatedAt))
	return writeError(err, "environment "+e.ID, violations{
		"environments_name_key":     conflict("the project already has an environment named %q", e.Name),
		"environments_project_fkey": notFound("project", e.ProjectID),
	})
}

// Environment returns the account's environment. Errors: ENotFound, also for another
// account's.
func (s *Store) Environment(ctx context.Context, accountID, id string) (*keyward.Environment, error) {
	row := s.db().QueryRow(ctx,
		`SELECT `+environmentColumns+` FROM environments WHERE account_id = $1 AND id = $2`, accountID, id)
	e, err := scanEnvironment(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("environment", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: environment %s: %w", id, err)
	}
	return e, nil
}

// ListEnvironments returns up to limit of the project's environments with id > after, by id.
func (s *Store) ListEnvironments(ctx context.Context, accountID, projectID, after string, limit int) ([]*keyward.Environment, error) {
	if limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	return query(ctx, s.db(), scanEnvironment, "list environments",
		`SELECT `+environmentColumns+` FROM environments
		WHERE account_id = $1 AND project_id = $2 AND id > $3 ORDER BY id LIMIT $4`,
		accountID, projectID, after, limit)
}

func scanEnvironment(row pgx.Row) (*keyward.Environment, error) {
	var (
		e         keyward.Environment
		createdAt time.Time
	)
	if err := row.Scan(&e.ID, &e.AccountID, &e.ProjectID, &e.Name, &createdAt); err != nil {
		return nil, err
	}
	e.CreatedAt = createdAt.UTC()
	return &e, nil
}
