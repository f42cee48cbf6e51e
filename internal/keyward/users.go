package keyward

import (
	"context"
	"net/mail"
	"strings"
)

// MaxEmailLen bounds an email address (RFC 5321's path limit).
const MaxEmailLen = 254

// CreateUserInput is what a caller gives to create a user ahead of their first sign-in.
type CreateUserInput struct {
	Email string
	Name  string
	// RoleID is the user's account role, by id or slug; "" for RoleMember.
	RoleID string
	// Issuer and Subject link the user to their OIDC identity; both or neither.
	Issuer  string
	Subject string
}

// CreateUser adds a user to p's account. Errors: EForbidden, EValidation, ENotFound (role),
// EConflict (the OIDC identity belongs to another user).
func (s *Service) CreateUser(ctx context.Context, p Principal, in CreateUserInput) (*User, error) {
	var u *User
	err := s.mutate(ctx, p, ActionCreateUser, TargetUser, "", func(tx *Service, e *AuditEvent) error {
		if err := authorize(p, PermUsersWrite, ""); err != nil {
			return err
		}
		u = &User{ID: NewID(), AccountID: p.AccountID, Email: strings.TrimSpace(in.Email), Name: in.Name,
			Issuer: in.Issuer, Subject: in.Subject, CreatedAt: tx.Now()}
		if err := validateUser(u); err != nil {
			return err
		}
		roleID := in.RoleID
		if roleID == "" {
			roleID = RoleMember
		}
		role, err := tx.res.Role(ctx, p.AccountID, roleID)
		if err != nil {
			return err
		}
		if err := noEscalation(p, role.Permissions); err != nil {
			return err
		}
		u.RoleID = role.ID
		e.TargetID = u.ID
		return tx.store.CreateUser(ctx, u)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func validateUser(u *User) error {
	if u.Email != "" {
		if len(u.Email) > MaxEmailLen {
			return Errorf(EValidation, "email must be at most %d characters", MaxEmailLen)
		}
		if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email {
			return Errorf(EValidation, "email must be a plain address such as ada@example.com")
		}
	}
	if u.Name != "" {
		if err := validateName("name", u.Name); err != nil {
			return err
		}
	}
	if (u.Issuer == "") != (u.Subject == "") {
		return Errorf(EValidation, "issuer and subject go together: give both or neither")
	}
	if len(u.Issuer) > MaxWebhookURLLength || len(u.Subject) > 255 {
		return Errorf(EValidation, "issuer must be at most %d characters and subject at most 255", MaxWebhookURLLength)
	}
	return nil
}

// User returns a user of p's account. Every user may read themselves. Errors: EInvalid,
// ENotFound, EForbidden.
func (s *Service) User(ctx context.Context, p Principal, id string) (*User, error) {
	if !ValidID(id) {
		return nil, Errorf(EInvalid, "user id %q is not a valid id", id)
	}
	u, err := s.store.User(ctx, p.AccountID, id)
	if err != nil {
		return nil, err
	}
	if id != p.UserID {
		if err := authorize(p, PermUsersRead, ""); err != nil {
			return nil, err
		}
	}
	return u, nil
}

// ListUsers returns a page of p's account's users. Errors: EForbidden.
func (s *Service) ListUsers(ctx context.Context, p Principal, pg Page) ([]*User, string, error) {
	if err := authorize(p, PermUsersRead, ""); err != nil {
		return nil, "", err
	}
	if pg.After != "" && !ValidID(pg.After) {
		return nil, "", Errorf(EInvalid, "%q is not a valid id", pg.After)
	}
	limit := pg.limit()
	items, err := s.store.ListUsers(ctx, p.AccountID, pg.After, limit+1)
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, limit, func(x *User) string { return x.ID })
	return items, next, nil
}

// UpdateUserInput changes a user; nil fields are left as they are.
type UpdateUserInput struct {
	Email    *string
	Name     *string
	RoleID   *string
	Disabled *bool
}

// UpdateUser changes a user of p's account. Disabling a user stops their sign-ins and every
// key that acts for them, and the access tokens of those keys, within a second on every
// node; enabling them again restores all of it. A caller may change only users who hold no
// more than the caller does, and may not give a role beyond their own. Errors: EInvalid,
// ENotFound, EForbidden, EValidation, EConflict (disabling yourself).
func (s *Service) UpdateUser(ctx context.Context, p Principal, id string, in UpdateUserInput) (*User, error) {
	return s.updateUser(ctx, p, ActionUpdateUser, id, in)
}

// DisableUser disables a user of p's account, as UpdateUser with Disabled does, recorded as
// its own action. Errors: as UpdateUser's.
func (s *Service) DisableUser(ctx context.Context, p Principal, id string) (*User, error) {
	disabled := true
	return s.updateUser(ctx, p, ActionDisableUser, id, UpdateUserInput{Disabled: &disabled})
}

func (s *Service) updateUser(ctx context.Context, p Principal, action, id string, in UpdateUserInput) (*User, error) {
	var u *User
	err := s.mutate(ctx, p, action, TargetUser, id, func(tx *Service, _ *AuditEvent) error {
		var err error
		u, err = tx.changeUser(ctx, p, id, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (s *Service) changeUser(ctx context.Context, p Principal, id string, in UpdateUserInput) (*User, error) {
	if !ValidID(id) {
		return nil, Errorf(EInvalid, "user id %q is not a valid id", id)
	}
	u, err := s.store.User(ctx, p.AccountID, id)
	if err != nil {
		return nil, err
	}
	if err := authorize(p, PermUsersWrite, ""); err != nil {
		return nil, err
	}
	_, _, held, err := s.res.UserGrants(ctx, u)
	if err != nil {
		return nil, err
	}
	if err := noEscalation(p, held); err != nil {
		return nil, Errorf(EForbidden, "user %s holds permissions you do not, so you cannot change them", u.ID)
	}
	if in.Email != nil {
		u.Email = strings.TrimSpace(*in.Email)
	}
	if in.Name != nil {
		u.Name = *in.Name
	}
	if err := validateUser(u); err != nil {
		return nil, err
	}
	if in.RoleID != nil {
		role, err := s.res.Role(ctx, p.AccountID, *in.RoleID)
		if err != nil {
			return nil, err
		}
		if err := noEscalation(p, role.Permissions); err != nil {
			return nil, err
		}
		u.RoleID = role.ID
	}
	if in.Disabled != nil {
		switch {
		case *in.Disabled && u.DisabledAt == nil:
			if id == p.UserID {
				return nil, Errorf(EConflict, "you cannot disable yourself")
			}
			now := s.Now()
			u.DisabledAt = &now
		case !*in.Disabled:
			u.DisabledAt = nil
		}
	}
	if err := s.store.UpdateUser(ctx, u); err != nil {
		return nil, err
	}
	s.identityChanged(ctx, u.AccountID)
	return u, nil
}

// SignInInput is what a verified OIDC access token says about its bearer.
type SignInInput struct {
	Issuer, Subject string
	Email, Name     string
	// AccountName is the account a first sign-in joins.
	AccountName string
	// RoleID is the role a first sign-in gets, by id or slug; "" for RoleMember.
	RoleID string
}

// SignIn returns the principal of a user signing in with an OIDC token, creating the user in
// in.AccountName on their first sign-in. Errors: EForbidden (the user is disabled, or the
// account to join does not exist).
func (s *Service) SignIn(ctx context.Context, in SignInInput) (Principal, error) {
	u, err := s.store.UserBySubject(ctx, in.Issuer, in.Subject)
	if ErrorCode(err) == ENotFound {
		u, err = s.provision(ctx, in)
	}
	if err != nil {
		return Principal{}, err
	}
	return s.principalOfUser(ctx, u)
}

// principalOfUser is an enabled user's principal, with everything the user holds now.
func (s *Service) principalOfUser(ctx context.Context, u *User) (Principal, error) {
	if u.DisabledAt != nil {
		return Principal{}, Errorf(EForbidden, "user %s is disabled", u.ID)
	}
	_, _, perms, err := s.res.UserGrants(ctx, u)
	if err != nil {
		return Principal{}, err
	}
	return Principal{AccountID: u.AccountID, Kind: KindUser, ID: u.ID, UserID: u.ID, Permissions: perms}, nil
}

// provision creates the user of a first sign-in, and records it: no management route made
// the user, so no route audits it. Of two first sign-ins at once, the loser finds the
// winner's user.
func (s *Service) provision(ctx context.Context, in SignInInput) (*User, error) {
	acct, err := s.store.AccountByName(ctx, in.AccountName)
	if ErrorCode(err) == ENotFound {
		return nil, Errorf(EForbidden, "there is no account %q for this sign-in to join", in.AccountName)
	}
	if err != nil {
		return nil, err
	}
	if in.RoleID == "" {
		in.RoleID = RoleMember
	}
	role, err := s.res.Role(ctx, acct.ID, in.RoleID)
	if err != nil {
		return nil, err
	}
	u := &User{ID: NewID(), AccountID: acct.ID, Issuer: in.Issuer, Subject: in.Subject, RoleID: role.ID, CreatedAt: s.Now()}
	// Claims that would not pass validation are dropped rather than refusing the sign-in:
	// the provider, not the user, chose them.
	if a, err := mail.ParseAddress(in.Email); err == nil && a.Address == in.Email && len(in.Email) <= MaxEmailLen {
		u.Email = in.Email
	}
	if validateName("name", in.Name) == nil {
		u.Name = in.Name
	}
	self := Principal{AccountID: u.AccountID, Kind: KindUser, ID: u.ID, UserID: u.ID}
	err = s.mutate(ctx, self, ActionProvisionUser, TargetUser, u.ID, func(tx *Service, _ *AuditEvent) error {
		return tx.store.CreateUser(ctx, u)
	})
	if ErrorCode(err) == EConflict { // a concurrent first sign-in won
		return s.store.UserBySubject(ctx, in.Issuer, in.Subject)
	}
	if err != nil {
		return nil, err
	}
	return u, nil
}
