package keyward

import (
	"context"
)

// LeakReport says that a key's secret was found where it should not be.
type LeakReport struct {
	// Source names who found it ("github", "report"), URL where.
	Source string
	URL    string
}

// MaxLeakURLLength bounds the URL a leak report records.
const MaxLeakURLLength = 2048

// ReportLeak acts on a report that found's secret leaked (the caller found the key by the
// secret, through the verifier's bounded paths). The leak is recorded on the key, audited
// and announced as api_key.leaked, and the key is revoked unless its project's (else its
// account's) leak policy is LeakNotify. It returns the key as it now is; ENotFound when the
// key is gone or revoked already. Holding a secret is all the authority a report needs:
// whoever has it can already use it, and a report can only take it out of use.
func (s *Service) ReportLeak(ctx context.Context, found *Key, r LeakReport) (*Key, error) {
	if len(r.URL) > MaxLeakURLLength {
		r.URL = r.URL[:MaxLeakURLLength]
	}
	var k *Key
	p := SchedulerPrincipal(found.AccountID)
	p.ID = "leak-report:" + r.Source
	err := s.mutate(ctx, p, ActionReportLeak, TargetKey, found.ID, func(tx *Service, _ *AuditEvent) error {
		cur, err := tx.store.Key(ctx, found.AccountID, found.ID)
		if err != nil {
			return err
		}
		if cur.RevokedAt != nil {
			return Errorf(ENotFound, "no live key has that secret")
		}
		policy, err := tx.leakPolicy(ctx, cur)
		if err != nil {
			return err
		}
		now := tx.Now()
		if k, err = tx.store.MarkKeyLeaked(ctx, cur.AccountID, cur.ID, now, r.Source, r.URL); err != nil {
			return err
		}
		revoked := false
		if policy == LeakRevoke {
			if err := tx.denyKeyTokens(ctx, k.ID, now); err != nil {
				return err
			}
			if k, err = tx.store.RevokeKey(ctx, k.AccountID, k.ID, now); err != nil {
				return err
			}
			revoked = true
		}
		// Both events show the key as the report left it; a revocation is announced as any.
		if err := tx.emitKey(ctx, TopicKeyLeaked, k); err != nil {
			return err
		}
		if revoked {
			if err := tx.emitKey(ctx, TopicKeyRevoked, k); err != nil {
				return err
			}
		}
		tx.changed(ctx, k)
		return nil
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
