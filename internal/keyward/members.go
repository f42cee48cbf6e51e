package keyward

import (
	"context"
)

// AddMemberInput makes a user or a key a member of a project. Exactly one of UserID and
// KeyID is given.
type AddMemberInput struct {
	UserID string
	KeyID  string
	RoleID string // by id or slug
}

// AddMember makes a user or key of p's account a member of one of its projects with a role.
// The role, held in the project, may not grant p more than p holds there, and a key member
// may not hold more than p does (see guardKey). Errors: EInvalid, EValidation, ENotFound,
// EForbidden, EConflict (already a member).
func (s *Service) AddMember(ctx context.Context, p Principal, projectID string, in AddMemberInput) (*Membership, error) {
	var m *Membership
	err := s.mutate(ctx, p, ActionAddMember, TargetMember, "", func(tx *Service, e *AuditEvent) error {
		var err error
		m, err = tx.addMember(ctx, p, projectID, in)
		if err == nil {
			e.TargetID = m.ID
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (s *Service) addMember(ctx context.Context, p Principal, projectID string, in AddMemberInput) (*Membership, error) {
	proj, err := s.project(ctx, p.AccountID, projectID)
	if err != nil {
		return nil, err
	}
	if err := authorize(p, PermMembersWrite, proj.ID); err != nil {
		return nil, err
	}
	if (in.UserID == "") == (in.KeyID == "") {
		return nil, Errorf(EValidation, "give exactly one of user_id and api_key_id")
	}
	m := &Membership{ID: NewID(), AccountID: p.AccountID, ProjectID: proj.ID, UserID: in.UserID, KeyID: in.KeyID, CreatedAt: s.Now()}
	for _, id := range []string{in.UserID, in.KeyID} {
		if id != "" && !ValidID(id) {
			return nil, Errorf(EInvalid, "%q is not a valid id", id)
		}
	}
	if in.KeyID != "" {
		k, err := s.store.Key(ctx, p.AccountID, in.KeyID)
		if err != nil {
			return nil, err
		}
		if k.Status(s.Now()) == StatusRevoked {
			return nil, Errorf(EConflict, "key %s is revoked", k.ID)
		}
		if err := s.guardKey(ctx, p, k); err != nil {
			return nil, err
		}
	} else if _, err := s.store.User(ctx, p.AccountID, in.UserID); err != nil {
		return nil, err
	}
	if err := s.setMemberRole(ctx, p, m, in.RoleID); err != nil {
		return nil, err
	}
	if err := s.store.CreateMembership(ctx, m); err != nil {
		return nil, err
	}
	s.memberChanged(ctx, m)
	return m, nil
}

func (s *Service) setMemberRole(ctx context.Context, p Principal, m *Membership, roleID string) error {
	if roleID == "" {
		return Errorf(EValidation, "role_id is required")
	}
	r, err := s.res.Role(ctx, p.AccountID, roleID)
	if err != nil {
		return err
	}
	if err := noEscalation(p, inProject(m.ProjectID, r.Permissions)); err != nil {
		return err
	}
	m.RoleID = r.ID
	return nil
}

// memberChanged drops cached identities: a key's membership changes that key, and a user's
// changes every key of the user.
func (s *Service) memberChanged(ctx context.Context, m *Membership) {
	if m.KeyID != "" {
		if k, err := s.store.Key(ctx, m.AccountID, m.KeyID); err == nil {
			s.changed(ctx, k)
			return
		}
	}
	s.identityChanged(ctx, m.AccountID)
}

// Members returns a page of a project's members. Errors: EInvalid, ENotFound, EForbidden.
func (s *Service) Members(ctx context.Context, p Principal, projectID string, pg Page) ([]*Membership, string, error) {
	proj, err := s.project(ctx, p.AccountID, projectID)
	if err != nil {
		return nil, "", err
	}
	if err := authorize(p, PermMembersRead, proj.ID); err != nil {
		return nil, "", err
	}
	if pg.After != "" && !ValidID(pg.After) {
		return nil, "", Errorf(EInvalid, "%q is not a valid id", pg.After)
	}
	limit := pg.limit()
	items, err := s.store.ListMemberships(ctx, MembershipFilter{AccountID: p.AccountID, ProjectID: proj.ID, After: pg.After, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, limit, func(x *Membership) string { return x.ID })
	return items, next, nil
}

// Member returns one membership of a project. Errors: EInvalid, ENotFound, EForbidden.
func (s *Service) Member(ctx context.Context, p Principal, projectID, id string) (*Membership, error) {
	return s.member(ctx, p, PermMembersRead, projectID, id)
}

func (s *Service) member(ctx context.Context, p Principal, perm, projectID, id string) (*Membership, error) {
	proj, err := s.project(ctx, p.AccountID, projectID)
	if err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, Errorf(EInvalid, "member id %q is not a valid id", id)
	}
	m, err := s.store.Membership(ctx, p.AccountID, id)
	if err != nil {
		return nil, err
	}
	if m.ProjectID != proj.ID {
		return nil, Errorf(ENotFound, "member %s not found in project %s", id, proj.ID)
	}
	if err := authorize(p, perm, proj.ID); err != nil {
		return nil, err
	}
	return m, nil
}

// UpdateMember changes a member's project role. Errors: EInvalid, ENotFound, EForbidden,
// EValidation.
func (s *Service) UpdateMember(ctx context.Context, p Principal, projectID, id, roleID string) (*Membership, error) {
	var m *Membership
	err := s.mutate(ctx, p, ActionUpdateMember, TargetMember, id, func(tx *Service, _ *AuditEvent) error {
		var err error
		if m, err = tx.member(ctx, p, PermMembersWrite, projectID, id); err != nil {
			return err
		}
		if err := tx.guardMember(ctx, p, m); err != nil {
			return err
		}
		if err := tx.setMemberRole(ctx, p, m, roleID); err != nil {
			return err
		}
		if err := tx.store.UpdateMembership(ctx, m); err != nil {
			return err
		}
		tx.memberChanged(ctx, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// RemoveMember ends a membership. Errors: EInvalid, ENotFound, EForbidden.
func (s *Service) RemoveMember(ctx context.Context, p Principal, projectID, id string) error {
	return s.mutate(ctx, p, ActionRemoveMember, TargetMember, id, func(tx *Service, _ *AuditEvent) error {
		m, err := tx.member(ctx, p, PermMembersWrite, projectID, id)
		if err != nil {
			return err
		}
		if err := tx.guardMember(ctx, p, m); err != nil {
			return err
		}
		if err := tx.store.DeleteMembership(ctx, p.AccountID, m.ID); err != nil {
			return err
		}
		tx.memberChanged(ctx, m)
		return nil
	})
}

// guardMember refuses to let p change a membership whose role grants more than p holds, or
// whose key holds more than p does.
func (s *Service) guardMember(ctx context.Context, p Principal, m *Membership) error {
	r, err := s.res.Role(ctx, p.AccountID, m.RoleID)
	if err != nil {
		return err
	}
	if err := noEscalation(p, inProject(m.ProjectID, r.Permissions)); err != nil {
		return err
	}
	if m.KeyID == "" {
		return nil
	}
	k, err := s.store.Key(ctx, m.AccountID, m.KeyID)
	if err != nil {
		return err
	}
	return s.guardKey(ctx, p, k)
}

// MembershipNames returns the project and role of a membership the caller has just been
// allowed to see or make, to name them in an answer.
func (s *Service) MembershipNames(ctx context.Context, m *Membership) (*Project, *Role, error) {
	proj, err := s.store.Project(ctx, m.AccountID, m.ProjectID)
	if err != nil {
		return nil, nil, err
	}
	role, err := s.res.Role(ctx, m.AccountID, m.RoleID)
	if err != nil {
		return nil, nil, err
	}
	return proj, role, nil
}
