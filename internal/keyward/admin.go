package keyward

import (
	"context"
	"crypto/subtle"

	"github.com/keyward/keyward/internal/keyformat"
)

// DefaultAccountName is the account that a fresh store's first admin key belongs to.
const DefaultAccountName = "default"

// Bootstrap makes a fresh store usable: when no admin key exists at all, it creates the
// default account and a root admin key in it, and returns the key's secret. On any later
// start it returns "" and does nothing, so the secret is shown exactly once; and of several
// nodes starting on one empty database at once, only one makes (and prints) a key.
func (s *Service) Bootstrap(ctx context.Context) (string, error) {
	n, err := s.store.CountAdminKeys(ctx)
	if err != nil || n > 0 {
		return "", err
	}
	var secret string
	system := Principal{Kind: KindSystem, ID: "keyward"}
	err = s.mutate(ctx, system, ActionBootstrap, TargetAdminKey, "", func(tx *Service, e *AuditEvent) error {
		acct := &Account{ID: NewID(), Name: DefaultAccountName, KeyPrefix: keyformat.DefaultPrefix, CreatedAt: tx.Now()}
		k, sec, err := tx.newAdminKey(acct.ID, "root")
		if err != nil {
			return err
		}
		created, err := tx.store.BootstrapAdminKey(ctx, acct, k)
		if err != nil || !created {
			secret, e.AccountID = "", "" // another node bootstrapped: nothing to record
			return err
		}
		secret, e.AccountID, e.TargetID = sec, k.AccountID, k.ID
		return nil
	})
	return secret, err
}

// CreateAdminKey creates an admin key in the named account, creating the account if it does
// not exist yet, and returns the key with its secret. It is an operator's command on the
// store (keyward admin create-key), recorded in the account's audit log as the operator's.
// Errors: EValidation.
func (s *Service) CreateAdminKey(ctx context.Context, accountName, name string) (*AdminKey, string, error) {
	if err := validateName("account name", accountName); err != nil {
		return nil, "", err
	}
	if err := validateName("name", name); err != nil {
		return nil, "", err
	}
	k, secret, err := s.createAdminKey(ctx, accountName, name)
	if ErrorCode(err) == EConflict {
		// Another process created the account meanwhile: the second run finds it.
		k, secret, err = s.createAdminKey(ctx, accountName, name)
	}
	return k, secret, err
}

func (s *Service) createAdminKey(ctx context.Context, accountName, name string) (*AdminKey, string, error) {
	var (
		k      *AdminKey
		secret string
	)
	operator := Principal{Kind: KindOperator, ID: OperatorID}
	err := s.mutate(ctx, operator, ActionCreateAdminKey, TargetAdminKey, "", func(tx *Service, e *AuditEvent) error {
		acct, err := tx.store.AccountByName(ctx, accountName)
		if ErrorCode(err) == ENotFound {
			acct = &Account{ID: NewID(), Name: accountName, KeyPrefix: keyformat.DefaultPrefix, CreatedAt: tx.Now()}
			err = tx.store.CreateAccount(ctx, acct)
		}
		if err != nil {
			return err
		}
		e.AccountID = acct.ID
		if k, secret, err = tx.newAdminKey(acct.ID, name); err != nil {
			return err
		}
		e.TargetID = k.ID
		return tx.store.CreateAdminKey(ctx, k)
	})
	if err != nil {
		return nil, "", err
	}
	return k, secret, nil
}

// newAdminKey makes an admin key of the account, not yet stored, and its secret.
func (s *Service) newAdminKey(accountID, name string) (*AdminKey, string, error) {
	gen, err := keyformat.Generate(AdminKeyPrefix)
	if err != nil {
		return nil, "", &Error{Code: EInternal, Message: "could not generate a key", Cause: err}
	}
	sum := s.hasher.Hash(gen.Raw)
	return &AdminKey{
		ID:         NewID(),
		AccountID:  accountID,
		Name:       name,
		Prefix:     gen.DisplayPrefix(),
		Last4:      gen.Last4(),
		Hash:       sum[:],
		HashScheme: s.hasher.CurrentScheme(),
		CreatedAt:  s.Now(),
	}, gen.Raw, nil
}

// AdminKeys lists every admin key of every account. Like CreateAdminKey it is for commands
// that work on the store directly (keyward admin list-keys): an operator's, not the API's.
func (s *Service) AdminKeys(ctx context.Context) ([]*AdminKey, error) { return s.store.AdminKeys(ctx) }

// RevokeAdminKey revokes an admin key: it stops authenticating at once, on every node, since
// admin keys are not cached. It is an operator's command on the store, recorded in the key's
// account's audit log. Errors: EInvalid, ENotFound, EConflict (revoked already).
func (s *Service) RevokeAdminKey(ctx context.Context, id string) (*AdminKey, error) {
	if !ValidID(id) {
		return nil, Errorf(EInvalid, "admin key id %q is not a valid id", id)
	}
	var k *AdminKey
	operator := Principal{Kind: KindOperator, ID: OperatorID}
	err := s.mutate(ctx, operator, ActionRevokeAdminKey, TargetAdminKey, id, func(tx *Service, e *AuditEvent) error {
		var err error
		if k, err = tx.store.RevokeAdminKey(ctx, id, tx.Now()); err != nil {
			return err
		}
		e.AccountID = k.AccountID
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// AuthenticateAdmin returns the principal of an admin key secret. Any failure is
// EUnauthenticated with the same message, so that a caller learns nothing about which keys
// exist.
func (s *Service) AuthenticateAdmin(ctx context.Context, secret string) (Principal, error) {
	denied := Errorf(EUnauthenticated, "the credential is missing, malformed, unknown or revoked")
	parsed, err := keyformat.Parse(secret)
	if err != nil || parsed.Prefix != AdminKeyPrefix {
		return Principal{}, denied
	}
	for _, version := range s.hasher.Versions() {
		sum, _ := s.hasher.HashVersion(version, secret)
		k, err := s.store.AdminKeyByHash(ctx, sum[:])
		if ErrorCode(err) == ENotFound {
			continue
		}
		if err != nil {
			return Principal{}, err
		}
		// The index lookup already matched; comparing again in constant time keeps the
		// decision independent of how a store compares blobs.
		if subtle.ConstantTimeCompare(k.Hash, sum[:]) != 1 || k.RevokedAt != nil {
			return Principal{}, denied
		}
		acct, err := s.store.Account(ctx, k.AccountID)
		if err != nil {
			return Principal{}, err
		}
		return Principal{AccountID: k.AccountID, Kind: KindAdminKey, ID: k.ID, Permissions: rootPermissions(acct)}, nil
	}
	return Principal{}, denied
}
