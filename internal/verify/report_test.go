package verify_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/verify"
)

// TestRecordUses: uses reported by a caller that judged keys itself are written by the next
// flush as if verified here, for the account's own keys only.
func TestRecordUses(t *testing.T) {
	f := newFixture(t, verify.Config{})
	ctx := t.Context()
	mine, secret := f.key(t)
	theirsAdmin, _, err := f.svc.CreateAdminKey(ctx, "other", "root")
	if err != nil {
		t.Fatal(err)
	}
	other := keyward.Principal{AccountID: theirsAdmin.AccountID, Kind: keyward.KindAdminKey, ID: theirsAdmin.ID, Permissions: keyward.Permissions{"*"}}
	theirs, _, err := f.svc.CreateKey(ctx, other, keyward.CreateKeyInput{Name: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	// One verification made here, to see that reported uses add to it.
	if res, _ := f.verifier.Check(ctx, secret, verify.Requirements{}); !res.Valid {
		t.Fatalf("verify = %s", res.Code)
	}
	used := f.clock().Add(-10 * time.Second)
	recorded, skipped, err := f.verifier.RecordUses(ctx, f.owner.AccountID, []verify.ReportedUse{
		{KeyID: mine.ID, Outcomes: map[keyward.VerifyCode]int64{keyward.VerifyValid: 7, keyward.VerifyRateLimited: 2}, LastUsed: used},
		{KeyID: theirs.ID, Outcomes: map[keyward.VerifyCode]int64{keyward.VerifyValid: 5}},
		{KeyID: keyward.NewID(), Outcomes: map[keyward.VerifyCode]int64{keyward.VerifyValid: 1}},
	})
	if err != nil || recorded != 1 || skipped != 2 {
		t.Fatalf("RecordUses = %d recorded, %d skipped, %v; want 1, 2, nil", recorded, skipped, err)
	}
	if err := f.verifier.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	usage := func(accountID, keyID string) map[keyward.VerifyCode]int64 {
		t.Helper()
		buckets, err := f.store.Usage(ctx, keyward.UsageFilter{AccountID: accountID, KeyID: keyID,
			From: f.clock().Add(-time.Hour), To: f.clock().Add(time.Hour), Granularity: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		out := map[keyward.VerifyCode]int64{}
		for _, b := range buckets {
			out[b.Outcome] += b.Count
		}
		return out
	}
	if diff := cmp.Diff(map[keyward.VerifyCode]int64{keyward.VerifyValid: 8, keyward.VerifyRateLimited: 2}, usage(f.owner.AccountID, mine.ID)); diff != "" {
		t.Errorf("usage of the reported key (-want +got):\n%s", diff)
	}
	if got := usage(other.AccountID, theirs.ID); len(got) != 0 {
		t.Errorf("another account's key got usage %v from this account's report", got)
	}
	// The verification here was later than the reported use: last_used_at keeps it.
	got, err := f.store.Key(ctx, f.owner.AccountID, mine.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(f.clock()) {
		t.Errorf("last_used_at = %v, want %v (never lowered by a report)", got.LastUsedAt, f.clock())
	}

	// A later report raises it, but never past now.
	f.advance(time.Minute)
	if _, _, err := f.verifier.RecordUses(ctx, f.owner.AccountID, []verify.ReportedUse{
		{KeyID: mine.ID, Outcomes: map[keyward.VerifyCode]int64{keyward.VerifyValid: 1}, LastUsed: f.clock().Add(time.Hour)},
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.verifier.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ = f.store.Key(ctx, f.owner.AccountID, mine.ID); got.LastUsedAt == nil || !got.LastUsedAt.Equal(f.clock()) {
		t.Errorf("last_used_at = %v after a report from the future, want now %v", got.LastUsedAt, f.clock())
	}
}

func TestRecordUsesRefusesBadOutcomes(t *testing.T) {
	f := newFixture(t, verify.Config{})
	k, _ := f.key(t)
	for name, outcomes := range map[string]map[keyward.VerifyCode]int64{
		"unknown code":   {"SOMETHING": 1},
		"negative count": {keyward.VerifyValid: -1},
		"huge count":     {keyward.VerifyValid: verify.MaxReportedCount + 1},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := f.verifier.RecordUses(t.Context(), f.owner.AccountID, []verify.ReportedUse{{KeyID: k.ID, Outcomes: outcomes}})
			if keyward.ErrorCode(err) != keyward.EValidation {
				t.Errorf("RecordUses = %v, want %s", err, keyward.EValidation)
			}
		})
	}
}
