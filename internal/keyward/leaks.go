package keyward

import (
	"context"
	"crypto/sha256"

	"github.com/keyward/keyward/internal/keyformat"
)

// LeakReport says that a secret was found where it should not be.
type LeakReport struct {
	// Secret is the string found.
	Secret string
	// Source names who found it ("github", "report"), URL where.
	Source string
	URL    string
}

// MaxLeakURLLength bounds the URL a leak report records.
const MaxLeakURLLength = 2048

// ReportLeak acts on a report that a secret leaked. If the secret is a live key of any
// account, the leak is recorded on the key, audited, and announced as api_key.leaked, and the
// key is revoked unless its project's (else its account's) leak policy is LeakNotify. It
// returns the key as it now is, or ENotFound when the secret is no key of Keyward's (or a
// revoked one): the caller must not tell a reporter which, so that the report cannot be used
// to test guesses. Holding a secret is all the authority a report needs: whoever has it can
// already use it, and a report can only take it out of use.
func (s *Service) ReportLeak(ctx context.Context, r LeakReport) (*Key, error) {
	if len(r.URL) > MaxLeakURLLength {
		r.URL = r.URL[:MaxLeakURLLength]
	}
	found, err := s.keyBySecret(ctx, r.Secret)
	if err != nil {
		return nil, err
	}
	if found.RevokedAt != nil {
		return nil, Errorf(ENotFound, "no live key has that secret")
	}
	var k *Key
	p := SchedulerPrincipal(found.AccountID)
	p.ID = "leak-report:" + r.Source
	err = s.mutate(ctx, p, ActionReportLeak, TargetKey, found.ID, func(tx *Service, _ *AuditEvent) error {
		policy, err := tx.leakPolicy(ctx, found)
		if err != nil {
			return err
		}
		now := tx.Now()
		if k, err = tx.store.MarkKeyLeaked(ctx, found.AccountID, found.ID, now, r.Source, r.URL); err != nil {
			return err
		}
		if policy == LeakRevoke && k.RevokedAt == nil {
			if err := tx.denyKeyTokens(ctx, k.ID, now); err != nil {
				return err
			}
			if k, err = tx.store.RevokeKey(ctx, k.AccountID, k.ID, now); err != nil {
				return err
			}
			tx.changed(ctx, k)
		}
		return tx.emitKey(ctx, TopicKeyLeaked, k)
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// leakPolicy is what a leak does to k: its project's policy, else its account's, else
// LeakRevoke.
func (s *Service) leakPolicy(ctx context.Context, k *Key) (string, error) {
	if k.ProjectID != "" {
		proj, err := s.store.Project(ctx, k.AccountID, k.ProjectID)
		if err != nil {
			return "", err
		}
		if proj.LeakPolicy != "" {
			return proj.LeakPolicy, nil
		}
	}
	acct, err := s.store.Account(ctx, k.AccountID)
	if err != nil {
		return "", err
	}
	if acct.LeakPolicy != "" {
		return acct.LeakPolicy, nil
	}
	return LeakRevoke, nil
}

// keyBySecret finds the key a secret belongs to, in any account: by its keyed hash under
// each server-secret version, and, for a string not in Keyward's format, as an imported key
// (unkeyed SHA-256, or keyed after its first use). ENotFound when none.
func (s *Service) keyBySecret(ctx context.Context, secret string) (*Key, error) {
	if len(secret) == 0 || len(secret) > MaxImportedSecretLen {
		return nil, Errorf(ENotFound, "no key has that secret")
	}
	var sums [][32]byte
	for _, v := range s.hasher.Versions() {
		sum, _ := s.hasher.HashVersion(v, secret)
		sums = append(sums, sum)
	}
	if _, err := keyformat.Parse(secret); err != nil {
		sums = append(sums, sha256.Sum256([]byte(secret)))
	}
	for _, sum := range sums {
		k, err := s.store.KeyByHash(ctx, sum[:])
		if ErrorCode(err) == ENotFound {
			continue
		}
		return k, err
	}
	return nil, Errorf(ENotFound, "no key has that secret")
}
