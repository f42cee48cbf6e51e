package keyward

import (
	"context"
	"slices"
)

// MaxDescriptionLen bounds a role's description.
const MaxDescriptionLen = 1000

// RoleInput is what a caller gives to create a custom role.
type RoleInput struct {
	Name        string
	Slug        string
	Description string
	Permissions []string
}

// CreateRole adds a custom role to p's account. It may not hold a permission p lacks.
// Errors: EForbidden, EValidation, EConflict (slug taken, or a built-in role's).
func (s *Service) CreateRole(ctx context.Context, p Principal, in RoleInput) (*Role, error) {
	var r *Role
	err := s.mutate(ctx, p, ActionCreateRole, TargetRole, "", func(tx *Service, e *AuditEvent) error {
		if err := authorize(p, PermRolesWrite, ""); err != nil {
			return err
		}
		r = &Role{ID: NewID(), AccountID: p.AccountID, Name: in.Name, Description: in.Description, CreatedAt: tx.Now()}
		if err := validateName("name", r.Name); err != nil {
			return err
		}
		if len(r.Description) > MaxDescriptionLen {
			return Errorf(EValidation, "description must be at most %d bytes", MaxDescriptionLen)
		}
		var err error
		if r.Slug, err = normalizeSlug(in.Slug); err != nil {
			return err
		}
		if BuiltInRole(r.Slug) != nil {
			return Errorf(EConflict, "%q is a built-in role's slug", r.Slug)
		}
		if r.Permissions, err = normalizePermissions(in.Permissions); err != nil {
			return err
		}
		if err := noEscalation(p, r.Permissions); err != nil {
			return err
		}
		e.TargetID = r.ID
		return tx.store.CreateRole(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// ListRoles returns the built-in roles, then a page of p's account's custom roles. Errors:
// EForbidden.
func (s *Service) ListRoles(ctx context.Context, p Principal, pg Page) ([]*Role, string, error) {
	if err := authorize(p, PermRolesRead, ""); err != nil {
		return nil, "", err
	}
	if pg.After != "" && !ValidID(pg.After) {
		return nil, "", Errorf(EInvalid, "%q is not a valid id", pg.After)
	}
	var out []*Role
	after := pg.After
	if after == "" || BuiltInRole(after) != nil {
		// Built-in ids sort before every UUIDv7, so they lead the first page.
		for _, r := range BuiltInRoles {
			if r.ID > after {
				out = append(out, r)
			}
		}
		after = ""
	}
	limit := pg.limit()
	custom, err := s.store.ListRoles(ctx, p.AccountID, after, limit+1)
	if err != nil {
		return nil, "", err
	}
	out = append(out, custom...)
	out, next := page(out, limit, func(x *Role) string { return x.ID })
	return out, next, nil
}

// UpdateRoleInput changes a custom role; nil fields are left as they are.
type UpdateRoleInput struct {
	Name        *string
	Description *string
	Permissions *[]string
}

// UpdateRole changes a custom role of p's account; every key and user holding it changes
// with it. Errors: EInvalid, ENotFound, EForbidden, EValidation, EConflict (built-in role).
func (s *Service) UpdateRole(ctx context.Context, p Principal, id string, in UpdateRoleInput) (*Role, error) {
	var r *Role
	err := s.mutate(ctx, p, ActionUpdateRole, TargetRole, id, func(tx *Service, _ *AuditEvent) error {
		var err error
		r, err = tx.updateRole(ctx, p, id, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Service) updateRole(ctx context.Context, p Principal, id string, in UpdateRoleInput) (*Role, error) {
	r, err := s.customRole(ctx, p, id)
	if err != nil {
		return nil, err
	}
	// Changing a role changes what its holders may do: the caller must hold what it grants
	// now as well as what it will grant.
	if err := noEscalation(p, r.Permissions); err != nil {
		return nil, err
	}
	if in.Name != nil {
		if err := validateName("name", *in.Name); err != nil {
			return nil, err
		}
		r.Name = *in.Name
	}
	if in.Description != nil {
		if len(*in.Description) > MaxDescriptionLen {
			return nil, Errorf(EValidation, "description must be at most %d bytes", MaxDescriptionLen)
		}
		r.Description = *in.Description
	}
	if in.Permissions != nil {
		perms, err := normalizePermissions(*in.Permissions)
		if err != nil {
			return nil, err
		}
		if err := noEscalation(p, perms); err != nil {
			return nil, err
		}
		r.Permissions = perms
	}
	if err := s.store.UpdateRole(ctx, r); err != nil {
		return nil, err
	}
	s.identityChanged(ctx, p.AccountID)
	return r, nil
}

// DeleteRole deletes a custom role no one holds. Errors: EInvalid, ENotFound, EForbidden,
// EConflict (built-in, or still held).
func (s *Service) DeleteRole(ctx context.Context, p Principal, id string) error {
	return s.mutate(ctx, p, ActionDeleteRole, TargetRole, id, func(tx *Service, _ *AuditEvent) error {
		r, err := tx.customRole(ctx, p, id)
		if err != nil {
			return err
		}
		if err := noEscalation(p, r.Permissions); err != nil {
			return err
		}
		return tx.store.DeleteRole(ctx, p.AccountID, r.ID)
	})
}

// customRole fetches a role p may change.
func (s *Service) customRole(ctx context.Context, p Principal, id string) (*Role, error) {
	r, err := s.res.Role(ctx, p.AccountID, id)
	if err != nil {
		return nil, err
	}
	if err := authorize(p, PermRolesWrite, ""); err != nil {
		return nil, err
	}
	if r.BuiltIn {
		return nil, Errorf(EConflict, "built-in role %q cannot be changed", r.Slug)
	}
	r.Permissions = slices.Clone(r.Permissions)
	return r, nil
}
