package keyward

import (
	"context"

	"github.com/keyward/keyward/internal/keyformat"
)

// Account returns an account p may see: its own, or any for a holder of PermAccountsRead.
// Errors: EInvalid, ENotFound (also for an account p may not see), EForbidden.
func (s *Service) Account(ctx context.Context, p Principal, id string) (*Account, error) {
	if !ValidID(id) {
		return nil, Errorf(EInvalid, "account id %q is not a valid id", id)
	}
	if id != p.AccountID && !p.Can(PermAccountsRead, "") {
		return nil, Errorf(ENotFound, "account %s not found", id)
	}
	if err := authorize(p, PermAccountRead, ""); err != nil {
		return nil, err
	}
	return s.store.Account(ctx, id)
}

// ListAccounts returns p's own account, or every account for a holder of PermAccountsRead.
// Errors: EForbidden.
func (s *Service) ListAccounts(ctx context.Context, p Principal, pg Page) ([]*Account, string, error) {
	if err := authorize(p, PermAccountRead, ""); err != nil {
		return nil, "", err
	}
	if !p.Can(PermAccountsRead, "") {
		if pg.After != "" && pg.After >= p.AccountID {
			return nil, "", nil
		}
		a, err := s.store.Account(ctx, p.AccountID)
		if err != nil {
			return nil, "", err
		}
		return []*Account{a}, "", nil
	}
	limit := pg.limit()
	items, err := s.store.ListAccounts(ctx, pg.After, limit+1)
	if err != nil {
		return nil, "", err
	}
	items, next := page(items, limit, func(x *Account) string { return x.ID })
	return items, next, nil
}

// CreateAccountInput is what a caller gives to create a tenant.
type CreateAccountInput struct {
	Name      string
	KeyPrefix string // "" for keyformat.DefaultPrefix
}

// CreateAccount creates a tenant and its first admin key, whose secret is returned once: the
// new tenant's owner manages it from there. Errors: EForbidden (only the root account may),
// EValidation, EConflict (name taken).
func (s *Service) CreateAccount(ctx context.Context, p Principal, in CreateAccountInput) (*Account, *AdminKey, string, error) {
	var (
		a      *Account
		k      *AdminKey
		secret string
	)
	err := s.mutate(ctx, p, ActionCreateAccount, TargetAccount, "", func(tx *Service, e *AuditEvent) error {
		if err := authorize(p, PermAccountsCreate, ""); err != nil {
			return err
		}
		if err := validateName("name", in.Name); err != nil {
			return err
		}
		prefix, err := validKeyPrefix(in.KeyPrefix)
		if err != nil {
			return err
		}
		a = &Account{ID: NewID(), Name: in.Name, KeyPrefix: prefix, CreatedAt: tx.Now()}
		if err := tx.store.CreateAccount(ctx, a); err != nil {
			return err
		}
		e.TargetID = a.ID
		tx.step("create-account:account-written")
		k, secret, err = tx.newAdminKey(a.ID, "owner")
		if err != nil {
			return err
		}
		return tx.store.CreateAdminKey(ctx, k)
	})
	if err != nil {
		return nil, nil, "", err
	}
	return a, k, secret, nil
}

// UpdateAccountInput changes an account; nil fields are left as they are.
type UpdateAccountInput struct {
	Name      *string
	KeyPrefix *string
	// AllowedIPs replaces the networks the account's keys may be used from, when a key has
	// none of its own; an empty list allows any.
	AllowedIPs *[]string
	// LeakPolicy says what a leak report does to the account's keys (LeakRevoke or
	// LeakNotify; "" is LeakRevoke).
	LeakPolicy *string
}

// UpdateAccount renames p's own account or changes the prefix of its account keys (keys
// already issued keep theirs). The root account keeps its name, which is what makes it the
// root; and the root, which may create and see other tenants, may not change them. Errors:
// EInvalid, ENotFound, EForbidden, EValidation, EConflict.
func (s *Service) UpdateAccount(ctx context.Context, p Principal, id string, in UpdateAccountInput) (*Account, error) {
	var a *Account
	err := s.mutate(ctx, p, ActionUpdateAccount, TargetAccount, id, func(tx *Service, _ *AuditEvent) error {
		var err error
		if a, err = tx.Account(ctx, p, id); err != nil {
			return err
		}
		if a.ID != p.AccountID {
			return Errorf(EForbidden, "account %s is another tenant's: it changes only through its own owner", a.ID)
		}
		if err := authorize(p, PermAccountWrite, ""); err != nil {
			return err
		}
		if in.Name != nil && *in.Name != a.Name {
			if err := validateName("name", *in.Name); err != nil {
				return err
			}
			if a.Name == DefaultAccountName {
				return Errorf(EConflict, "the root account %q cannot be renamed", DefaultAccountName)
			}
			a.Name = *in.Name
		}
		if in.KeyPrefix != nil {
			if a.KeyPrefix, err = validKeyPrefix(*in.KeyPrefix); err != nil {
				return err
			}
		}
		if in.AllowedIPs != nil {
			if a.AllowedIPs, err = ParseAllowedIPs(*in.AllowedIPs); err != nil {
				return err
			}
			// Every key resolved with the account's networks must be resolved again.
			tx.identityChanged(ctx, a.ID)
		}
		if in.LeakPolicy != nil {
			if err := validLeakPolicy(*in.LeakPolicy); err != nil {
				return err
			}
			a.LeakPolicy = *in.LeakPolicy
		}
		return tx.store.UpdateAccount(ctx, a)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// validKeyPrefix checks a key prefix; "" is the default.
func validKeyPrefix(prefix string) (string, error) {
	if prefix == "" {
		return keyformat.DefaultPrefix, nil
	}
	if !keyformat.ValidPrefix(prefix) || prefix == AdminKeyPrefix {
		return "", Errorf(EValidation, "key_prefix must be lower-case letters and digits, starting with a letter, optionally in parts joined by '_', at most %d characters, and not %q", keyformat.MaxPrefixLen, AdminKeyPrefix)
	}
	return prefix, nil
}
