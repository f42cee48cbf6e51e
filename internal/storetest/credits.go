package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// testKeyLineage follows a lineage through a rotation: a key made without one starts its own,
// with the credits it is made with; its successor shares it; and every read of every key of
// the lineage carries the lineage's credits as they are, not as a key was given them.
func testKeyLineage(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	credits := &keyward.Credits{
		Remaining:  40,
		Refill:     &keyward.CreditRefill{Interval: keyward.RefillMonthly, Amount: 100, Day: 31},
		RefilledAt: time.Date(2030, time.February, 28, 0, 0, 0, 0, time.UTC),
		Version:    base.UnixMicro(),
	}
	first := newKey(t, s, p, func(k *keyward.Key) { k.Credits = cloneCredits(credits) })
	if first.LineageID != first.ID {
		t.Fatalf("CreateKey: LineageID: got %q, want the key's own id %q", first.LineageID, first.ID)
	}
	got, err := s.Key(ctx, a.ID, first.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	wantSame(t, "Key made with credits", got, first)

	// Spent since the key was read: the copy of the credits that the rotation carries is
	// stale, and must not be written back.
	if _, err := s.SpendCredits(ctx, first.LineageID, 15, base); err != nil {
		t.Fatalf("SpendCredits: %v", err)
	}
	current := cloneCredits(credits)
	current.Remaining = 25

	second := nextKey(t, first, *at(time.Hour)) // LineageID and Credits copied, as the service does
	old, err := s.RotateKey(ctx, a.ID, first.ID, second, at(2*time.Hour))
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	wantOld := cloneKey(first)
	wantOld.ReplacedByKeyID, wantOld.GraceExpiresAt, wantOld.Credits = second.ID, at(2*time.Hour), current
	wantSame(t, "RotateKey", old, wantOld)
	wantUTC(t, "RotateKey", old)
	wantSecond := cloneKey(second)
	wantSecond.Credits = current

	// A key made into the lineage with credits of its own leaves the lineage's as they are.
	third := newKey(t, s, p, func(k *keyward.Key) {
		k.LineageID = first.LineageID
		k.Credits = &keyward.Credits{Remaining: 1_000_000}
	})
	wantThird := cloneKey(third)
	wantThird.Credits = current
	// A key of the same project outside the lineage, without credits.
	other := newKey(t, s, p, nil)

	got, err = s.Key(ctx, a.ID, second.ID)
	if err != nil {
		t.Fatalf("Key of the new key: %v", err)
	}
	wantSame(t, "Key of the new key", got, wantSecond)
	got, err = s.KeyByHash(ctx, second.Hash)
	if err != nil {
		t.Fatalf("KeyByHash of the new key: %v", err)
	}
	wantSame(t, "KeyByHash of the new key", got, wantSecond)
	wantUTC(t, "KeyByHash of the new key", got)
	listed, err := s.ListKeys(ctx, keyward.KeyFilter{AccountID: a.ID, Now: base, Limit: 10})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	want := []*keyward.Key{wantOld, wantSecond, wantThird, other}
	sortByID(want, func(k *keyward.Key) string { return k.ID })
	wantSame(t, "ListKeys", listed, want)

	revoked, err := s.RevokeKey(ctx, a.ID, second.ID, *at(3 * time.Hour))
	if err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	wantSecond.RevokedAt = at(3 * time.Hour)
	wantSame(t, "RevokeKey", revoked, wantSecond)

	// Keys made together each start their lineage, with their own credits.
	batch := []*keyward.Key{keyIn(t, p), keyIn(t, p)}
	batch[0].Credits = &keyward.Credits{Remaining: 1}
	if err := s.CreateKeys(ctx, batch); err != nil {
		t.Fatalf("CreateKeys: %v", err)
	}
	for i, k := range batch {
		if k.LineageID != k.ID {
			t.Errorf("CreateKeys: key %d: LineageID: got %q, want the key's own id %q", i, k.LineageID, k.ID)
		}
		got, err := s.Key(ctx, a.ID, k.ID)
		if err != nil {
			t.Fatalf("Key: %v", err)
		}
		wantSame(t, fmt.Sprintf("Key %d of CreateKeys", i), got, k)
	}
}

func testKeyRateLimitOverride(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	p := newProject(t, s, newAccount(t, s).ID)
	tests := []struct {
		name     string
		override *keyward.RateLimit
	}{
		{"none", nil},
		{"without a quota", &keyward.RateLimit{Rate: 5, Period: time.Second, Burst: 10}},
		{"with a quota", &keyward.RateLimit{Rate: 1_000_000, Period: 24 * time.Hour, Burst: 1_000_000,
			QuotaLimit: 1 << 40, QuotaWindow: 31 * 24 * time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKey(t, s, p, func(k *keyward.Key) { k.RateLimitOverride = tt.override })
			got, err := s.Key(ctx, p.AccountID, k.ID)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			wantSame(t, "Key", got, k)
		})
	}
	t.Run("a fraction of a second", func(t *testing.T) {
		k := keyIn(t, p)
		k.RateLimitOverride = &keyward.RateLimit{Rate: 5, Period: 1500 * time.Millisecond, Burst: 5}
		wantCode(t, "CreateKey", s.CreateKey(ctx, k), keyward.EValidation)
	})
}

func testSetCredits(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	k := newKey(t, s, p, nil)
	other := newKey(t, s, p, nil) // another lineage, whose credits must not change
	otherCredits := &keyward.Credits{Remaining: 3, Version: 1}
	if err := s.SetCredits(ctx, a.ID, other.LineageID, otherCredits); err != nil {
		t.Fatalf("SetCredits of the other lineage: %v", err)
	}

	steps := []struct {
		name    string
		credits *keyward.Credits
	}{
		{"none yet, none set", nil},
		{"set with a daily refill", &keyward.Credits{Remaining: 1000,
			Refill:     &keyward.CreditRefill{Interval: keyward.RefillDaily, Amount: 1000},
			RefilledAt: time.Date(2030, time.March, 14, 0, 0, 0, 0, time.UTC), Version: 1}},
		{"replaced with a monthly refill", &keyward.Credits{Remaining: 5,
			Refill:     &keyward.CreditRefill{Interval: keyward.RefillMonthly, Amount: 50, Day: 15},
			RefilledAt: time.Date(2030, time.February, 15, 0, 0, 0, 0, time.UTC), Version: 2}},
		{"replaced without a refill", &keyward.Credits{Remaining: keyward.MaxCredits, Version: 3}},
		{"removed", nil},
		{"set again", &keyward.Credits{Remaining: 0, Version: 4}},
	}
	for _, step := range steps {
		if err := s.SetCredits(ctx, a.ID, k.LineageID, step.credits); err != nil {
			t.Fatalf("%s: SetCredits: %v", step.name, err)
		}
		got, err := s.Key(ctx, a.ID, k.ID)
		if err != nil {
			t.Fatalf("%s: Key: %v", step.name, err)
		}
		wantSame(t, step.name+": Credits", got.Credits, step.credits)
		wantUTC(t, step.name, got)
		got, err = s.Key(ctx, a.ID, other.ID)
		if err != nil {
			t.Fatalf("%s: Key of the other lineage: %v", step.name, err)
		}
		wantSame(t, step.name+": Credits of the other lineage", got.Credits, otherCredits)
	}
}

func testSetCreditsNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b, c := newAccount(t, s), newAccount(t, s), newAccount(t, s)
	k := newKey(t, s, newProject(t, s, a.ID), nil)
	credits := &keyward.Credits{Remaining: 10, Version: 1}
	if err := s.SetCredits(ctx, a.ID, k.LineageID, credits); err != nil {
		t.Fatalf("SetCredits: %v", err)
	}
	// A key of another account that names a's lineage, as no rotation would make it: it
	// neither reads a's credits nor changes them.
	stray := newKey(t, s, newProject(t, s, c.ID), func(stray *keyward.Key) { stray.LineageID = k.LineageID })
	got, err := s.Key(ctx, c.ID, stray.ID)
	if err != nil {
		t.Fatalf("Key of the stray key: %v", err)
	}
	if got.Credits != nil {
		t.Errorf("Key of the stray key: Credits: got %+v, want nil", got.Credits)
	}
	tests := []struct {
		name, accountID, lineageID string
		credits                    *keyward.Credits
	}{
		{"unknown lineage", a.ID, keyward.NewID(), &keyward.Credits{Remaining: 1}},
		{"another account's lineage", b.ID, k.LineageID, &keyward.Credits{Remaining: 1}},
		{"removing from an unknown lineage", a.ID, keyward.NewID(), nil},
		{"removing from another account's lineage", b.ID, k.LineageID, nil},
		{"another account's lineage that a key of this account names", c.ID, k.LineageID, &keyward.Credits{Remaining: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, "SetCredits", s.SetCredits(ctx, tt.accountID, tt.lineageID, tt.credits), keyward.ENotFound)
		})
	}
	got, err = s.Key(ctx, a.ID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	wantSame(t, "Credits after the refused changes", got.Credits, credits)
}

func testSpendCredits(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	p := newProject(t, s, newAccount(t, s).ID)
	today := time.Date(2030, time.March, 14, 0, 0, 0, 0, time.UTC) // base's day
	daily := func(amount int64) *keyward.CreditRefill {
		return &keyward.CreditRefill{Interval: keyward.RefillDaily, Amount: amount}
	}
	tests := []struct {
		name    string
		credits keyward.Credits
		cost    int64
		now     time.Time
		want    keyward.CreditSpend
		after   keyward.Credits // the credits as stored after the spend
	}{
		{"spend", keyward.Credits{Remaining: 10, Version: 7}, 3, base,
			keyward.CreditSpend{OK: true, Remaining: 7}, keyward.Credits{Remaining: 7, Version: 7}},
		{"spend all", keyward.Credits{Remaining: 3}, 3, base,
			keyward.CreditSpend{OK: true, Remaining: 0}, keyward.Credits{Remaining: 0}},
		{"cost over remaining spends nothing", keyward.Credits{Remaining: 2}, 3, base,
			keyward.CreditSpend{OK: false, Remaining: 2}, keyward.Credits{Remaining: 2}},
		{"cost 0", keyward.Credits{Remaining: 5}, 0, base,
			keyward.CreditSpend{OK: true, Remaining: 5}, keyward.Credits{Remaining: 5}},
		{"cost 0 with none left", keyward.Credits{Remaining: 0}, 0, base,
			keyward.CreditSpend{OK: true, Remaining: 0}, keyward.Credits{Remaining: 0}},
		{"daily refill not yet due", keyward.Credits{Remaining: 1, Refill: daily(100), RefilledAt: today}, 1, base.Add(time.Hour),
			keyward.CreditSpend{OK: true, Remaining: 0},
			keyward.Credits{Remaining: 0, Refill: daily(100), RefilledAt: today}},
		{"daily refill a day later", keyward.Credits{Remaining: 1, Refill: daily(100), RefilledAt: today, Version: 9}, 1, base.Add(24 * time.Hour),
			keyward.CreditSpend{OK: true, Remaining: 99},
			keyward.Credits{Remaining: 99, Refill: daily(100), RefilledAt: today.AddDate(0, 0, 1), Version: 9}},
		{"first refill", keyward.Credits{Remaining: 0, Refill: daily(10)}, 4, base,
			keyward.CreditSpend{OK: true, Remaining: 6},
			keyward.Credits{Remaining: 6, Refill: daily(10), RefilledAt: today}},
		{"refill kept when the cost is over it", keyward.Credits{Remaining: 0, Refill: daily(5), RefilledAt: today}, 10, base.Add(24 * time.Hour),
			keyward.CreditSpend{OK: false, Remaining: 5},
			keyward.Credits{Remaining: 5, Refill: daily(5), RefilledAt: today.AddDate(0, 0, 1)}},
		{"monthly refill on a short month's last day",
			keyward.Credits{Remaining: 2, Refill: &keyward.CreditRefill{Interval: keyward.RefillMonthly, Amount: 30, Day: 31},
				RefilledAt: time.Date(2030, time.January, 31, 0, 0, 0, 0, time.UTC)}, 1, base,
			keyward.CreditSpend{OK: true, Remaining: 29},
			keyward.Credits{Remaining: 29, Refill: &keyward.CreditRefill{Interval: keyward.RefillMonthly, Amount: 30, Day: 31},
				RefilledAt: time.Date(2030, time.February, 28, 0, 0, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKey(t, s, p, nil)
			if err := s.SetCredits(ctx, k.AccountID, k.LineageID, &tt.credits); err != nil {
				t.Fatalf("SetCredits: %v", err)
			}
			got, err := s.SpendCredits(ctx, k.LineageID, tt.cost, tt.now)
			if err != nil {
				t.Fatalf("SpendCredits: %v", err)
			}
			wantSame(t, "SpendCredits", got, tt.want)
			stored, err := s.Key(ctx, k.AccountID, k.ID)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			wantSame(t, "Credits after SpendCredits", stored.Credits, &tt.after)
			wantUTC(t, "Key after SpendCredits", stored)
		})
	}
}

func testSpendCreditsNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	p := newProject(t, s, newAccount(t, s).ID)
	withoutCredits := newKey(t, s, p, nil)
	removed := newKey(t, s, p, nil)
	if err := s.SetCredits(ctx, p.AccountID, removed.LineageID, &keyward.Credits{Remaining: 5}); err != nil {
		t.Fatalf("SetCredits: %v", err)
	}
	if err := s.SetCredits(ctx, p.AccountID, removed.LineageID, nil); err != nil {
		t.Fatalf("SetCredits nil: %v", err)
	}
	for _, tt := range []struct{ name, lineageID string }{
		{"unknown lineage", keyward.NewID()},
		{"lineage without credits", withoutCredits.LineageID},
		{"lineage whose credits were removed", removed.LineageID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.SpendCredits(ctx, tt.lineageID, 1, base)
			wantCode(t, "SpendCredits", err, keyward.ENotFound)
		})
	}
}

// testSpendCreditsConcurrently spends one credit at a time from many goroutines at once: the
// credits cover exactly as many as they hold, no two spends see the same credits, and none
// are lost.
func testSpendCreditsConcurrently(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	k := newKey(t, s, newProject(t, s, newAccount(t, s).ID), nil)
	const credits, spenders = 50, 100
	if err := s.SetCredits(ctx, k.AccountID, k.LineageID, &keyward.Credits{Remaining: credits}); err != nil {
		t.Fatalf("SetCredits: %v", err)
	}
	var (
		results [spenders]keyward.CreditSpend
		errs    [spenders]error
		start   = make(chan struct{})
		wg      sync.WaitGroup
	)
	for i := range spenders {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.SpendCredits(ctx, k.LineageID, 1, base)
		})
	}
	close(start)
	wg.Wait()

	var left []int64 // what each successful spend left
	refused := 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("spender %d: SpendCredits: %v", i, errs[i])
		}
		if r.OK {
			left = append(left, r.Remaining)
			continue
		}
		refused++
		if r.Remaining != 0 {
			t.Errorf("spender %d: refused with %d remaining, want 0", i, r.Remaining)
		}
	}
	if len(left) != credits || refused != spenders-credits {
		t.Errorf("got %d spends and %d refusals, want %d and %d", len(left), refused, credits, spenders-credits)
	}
	slices.Sort(left)
	var want []int64
	for n := range int64(credits) {
		want = append(want, n)
	}
	wantSame(t, fmt.Sprintf("what the %d spends left, sorted", len(left)), left, want)
	got, err := s.Key(ctx, k.AccountID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	wantSame(t, "Credits after the spends", got.Credits, &keyward.Credits{Remaining: 0})
}

// testMirrorCredits writes back copies' credits: only a mirror of the stored version, and
// only one that is newer (a later refill, or fewer remaining in the same refill period),
// whatever order mirrors come in.
func testMirrorCredits(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	day := time.Date(2030, time.March, 1, 0, 0, 0, 0, time.UTC)
	k := newKey(t, s, p, func(k *keyward.Key) {
		k.Credits = &keyward.Credits{Remaining: 10, Refill: &keyward.CreditRefill{Interval: keyward.RefillDaily, Amount: 10}, RefilledAt: day, Version: 5}
	})
	plain := newKey(t, s, p, nil)
	remaining := func() (int64, time.Time) {
		t.Helper()
		got, err := s.Key(ctx, a.ID, k.ID)
		if err != nil || got.Credits == nil {
			t.Fatalf("Key: %+v, %v", got, err)
		}
		return got.Credits.Remaining, got.Credits.RefilledAt
	}
	steps := []struct {
		what string
		m    keyward.CreditMirror
		want int64
		at   time.Time
	}{
		{"fewer remaining", keyward.CreditMirror{LineageID: k.LineageID, Remaining: 7, RefilledAt: day, Version: 5}, 7, day},
		{"more remaining in the same period (an older mirror)", keyward.CreditMirror{LineageID: k.LineageID, Remaining: 8, RefilledAt: day, Version: 5}, 7, day},
		{"an older version", keyward.CreditMirror{LineageID: k.LineageID, Remaining: 1, RefilledAt: day, Version: 4}, 7, day},
		{"a newer version than stored", keyward.CreditMirror{LineageID: k.LineageID, Remaining: 1, RefilledAt: day, Version: 6}, 7, day},
		{"a later refill", keyward.CreditMirror{LineageID: k.LineageID, Remaining: 9, RefilledAt: day.AddDate(0, 0, 1), Version: 5}, 9, day.AddDate(0, 0, 1)},
		{"an earlier refill", keyward.CreditMirror{LineageID: k.LineageID, Remaining: 0, RefilledAt: day, Version: 5}, 9, day.AddDate(0, 0, 1)},
	}
	for _, st := range steps {
		if err := s.MirrorCredits(ctx, []keyward.CreditMirror{st.m, {LineageID: plain.LineageID, Remaining: 3, Version: 5}}); err != nil {
			t.Fatalf("%s: MirrorCredits: %v", st.what, err)
		}
		if got, at := remaining(); got != st.want || !at.Equal(st.at) {
			t.Errorf("%s: remaining %d refilled %s, want %d and %s", st.what, got, at, st.want, st.at)
		}
	}
	if got, err := s.Key(ctx, a.ID, plain.ID); err != nil || got.Credits != nil {
		t.Errorf("a mirror of a lineage without credits made some: %+v, %v", got.Credits, err)
	}
	if err := s.MirrorCredits(ctx, nil); err != nil {
		t.Errorf("MirrorCredits(nil): %v", err)
	}
}
