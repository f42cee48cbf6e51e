package keyward

import (
	"context"
	"slices"
	"strings"
)

// CreateProjectInput is what a caller gives to create a project.
type CreateProjectInput struct {
	Name      string
	KeyPrefix string // "" for keyformat.DefaultPrefix
}

// CreateProject creates a project in p's account. Errors: EForbidden, EValidation, EConflict
// (name taken).
func (s *Service) CreateProject(ctx context.Context, p Principal, in CreateProjectInput) (*Project, error) {
	var proj *Project
	err := s.mutate(ctx, p, ActionCreateProject, TargetProject, "", func(tx *Service, e *AuditEvent) error {
		var err error
		proj, err = tx.createProject(ctx, p, in)
		if err == nil {
			e.TargetID = proj.ID
		}
		return err
	})
	return proj, err
}

func (s *Service) createProject(ctx context.Context, p Principal, in CreateProjectInput) (*Project, error) {
	if err := authorize(p, PermProjectsCreate, ""); err != nil {
		return nil, err
	}
	if err := validateName("name", in.Name); err != nil {
		return nil, err
	}
	prefix, err := validKeyPrefix(in.KeyPrefix)
	if err != nil {
		return nil, err
	}
	proj := &Project{ID: NewID(), AccountID: p.AccountID, Name: in.Name, KeyPrefix: prefix, CreatedAt: s.Now()}
	if err := s.store.CreateProject(ctx, proj); err != nil {
		return nil, err
	}
	return proj, nil
}

// UpdateProjectInput changes a project; nil fields are left as they are.
type UpdateProjectInput struct {
	Name *string
	// LeakPolicy says what a leak report does to the project's keys; "" defers to the
	// account's.
	LeakPolicy *string
}

// UpdateProject renames one of p's projects or sets its leak policy. Errors: EInvalid,
// ENotFound, EForbidden, EValidation, EConflict (name taken).
func (s *Service) UpdateProject(ctx context.Context, p Principal, id string, in UpdateProjectInput) (*Project, error) {
	var proj *Project
	err := s.mutate(ctx, p, ActionUpdateProject, TargetProject, id, func(tx *Service, _ *AuditEvent) error {
		var err error
		if proj, err = tx.Project(ctx, p, id); err != nil {
			return err
		}
		if err := authorize(p, PermProjectsWrite, proj.ID); err != nil {
			return err
		}
		if in.Name != nil {
			if err := validateName("name", *in.Name); err != nil {
				return err
			}
			proj.Name = *in.Name
		}
		if in.LeakPolicy != nil {
			if *in.LeakPolicy != "" {
				if err := validLeakPolicy(*in.LeakPolicy); err != nil {
					return err
				}
			}
			proj.LeakPolicy = *in.LeakPolicy
		}
		return tx.store.UpdateProject(ctx, proj)
	})
	if err != nil {
		return nil, err
	}
	return proj, nil
}

// validLeakPolicy accepts LeakRevoke, LeakNotify, and "" for the default.
func validLeakPolicy(p string) error {
	switch p {
	case "", LeakRevoke, LeakNotify:
		return nil
	}
	return Errorf(EValidation, "leak_policy must be %q or %q", LeakRevoke, LeakNotify)
}

// Project returns one of p's projects. Errors: EInvalid (bad id), ENotFound, EForbidden.
func (s *Service) Project(ctx context.Context, p Principal, id string) (*Project, error) {
	proj, err := s.project(ctx, p.AccountID, id)
	if err != nil {
		return nil, err
	}
	if err := authorize(p, PermProjectsRead, proj.ID); err != nil {
		return nil, err
	}
	return proj, nil
}

// project returns an account's project without an authorization check.
func (s *Service) project(ctx context.Context, accountID, id string) (*Project, error) {
	if !ValidID(id) {
		return nil, Errorf(EInvalid, "project id %q is not a valid id", id)
	}
	return s.store.Project(ctx, accountID, id)
}

// ListProjects returns a page of p's projects and the cursor of the next page ("" at the end).
// A caller who may read projects only through project roles sees those projects. Errors:
// EForbidden when the caller may read no project.
func (s *Service) ListProjects(ctx context.Context, p Principal, pg Page) ([]*Project, string, error) {
	all := p.Can(PermProjectsRead, "")
	if !all && !slices.ContainsFunc(p.Permissions, func(perm string) bool { return strings.HasPrefix(perm, "projects.") }) {
		return nil, "", forbidden(PermProjectsRead)
	}
	limit := pg.limit()
	items, err := s.store.ListProjects(ctx, p.AccountID, pg.After, limit+1)
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, limit, func(x *Project) string { return x.ID })
	if !all {
		items = slices.DeleteFunc(items, func(x *Project) bool { return !p.Can(PermProjectsRead, x.ID) })
	}
	return items, next, nil
}

// CreateEnvironment creates an environment in one of p's projects. Errors: EInvalid,
// EForbidden, EValidation, ENotFound (project), EConflict (name taken in the project).
func (s *Service) CreateEnvironment(ctx context.Context, p Principal, projectID, name string) (*Environment, error) {
	var env *Environment
	err := s.mutate(ctx, p, ActionCreateEnvironment, TargetEnvironment, "", func(tx *Service, e *AuditEvent) error {
		proj, err := tx.project(ctx, p.AccountID, projectID)
		if err != nil {
			return err
		}
		if err := authorize(p, PermProjectsWrite, proj.ID); err != nil {
			return err
		}
		if err := validateName("name", name); err != nil {
			return err
		}
		env = &Environment{ID: NewID(), AccountID: p.AccountID, ProjectID: proj.ID, Name: name, CreatedAt: tx.Now()}
		e.TargetID = env.ID
		return tx.store.CreateEnvironment(ctx, env)
	})
	if err != nil {
		return nil, err
	}
	return env, nil
}

// ListEnvironments returns a page of a project's environments. Errors: EInvalid, ENotFound,
// EForbidden.
func (s *Service) ListEnvironments(ctx context.Context, p Principal, projectID string, pg Page) ([]*Environment, string, error) {
	proj, err := s.Project(ctx, p, projectID)
	if err != nil {
		return nil, "", err
	}
	limit := pg.limit()
	items, err := s.store.ListEnvironments(ctx, p.AccountID, proj.ID, pg.After, limit+1)
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, limit, func(x *Environment) string { return x.ID })
	return items, next, nil
}
