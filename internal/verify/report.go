package verify

import (
	"context"
	"slices"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// ReportedUse is what a caller that judged a key itself, from verdicts it keeps (the Go
// middleware), reports of its uses since its last report.
type ReportedUse struct {
	KeyID string
	// Outcomes counts the uses by verdict: VALID, and RATE_LIMITED for those the caller
	// refused under the key's rate limit.
	Outcomes map[keyward.VerifyCode]int64
	// LastUsed is the latest VALID use; zero for "now" when there were any.
	LastUsed time.Time
}

// MaxReportedCount bounds one outcome's count in one report: far above what any key is used
// in the second between reports, low enough that sums cannot overflow.
const MaxReportedCount = 1 << 40

// RecordUses adds uses that a caller decided itself to the use log, as if the verifications
// had been made here: the next flush writes them as usage counts of the flush's minute and
// raises each key's last_used_at to its LastUsed (never past now). Only keys of accountID
// are recorded; an unknown key or another account's is skipped, and the two are not told
// apart. It returns how many uses were recorded and how many skipped. Errors: EValidation
// for an unknown outcome or a count out of bounds (nothing is recorded then), or the
// store's when a key could not be read.
func (v *Verifier) RecordUses(ctx context.Context, accountID string, uses []ReportedUse) (recorded, skipped int, err error) {
	for _, u := range uses {
		for code, n := range u.Outcomes {
			if !slices.Contains(keyward.VerifyCodes, code) {
				return 0, 0, keyward.Errorf(keyward.EValidation, "unknown outcome %q", code)
			}
			if n < 0 || n > MaxReportedCount {
				return 0, 0, keyward.Errorf(keyward.EValidation, "an outcome's count must be between 0 and %d", int64(MaxReportedCount))
			}
		}
	}
	now := v.now()
	for _, u := range uses {
		snap, err := v.keyByID(ctx, accountID, u.KeyID)
		if err != nil {
			return recorded, skipped, err
		}
		// The store reads a key by id within the account, so another account's key is not
		// found; the check is kept for the cache, which holds keys by id alone.
		if snap == nil || snap.key.AccountID != accountID {
			skipped++
			continue
		}
		at := now
		if !u.LastUsed.IsZero() && u.LastUsed.Before(now) {
			at = u.LastUsed
		}
		for code, n := range u.Outcomes {
			if n > 0 {
				v.uses.recordN(snap, code, n, at)
			}
		}
		recorded++
	}
	return recorded, skipped, nil
}
