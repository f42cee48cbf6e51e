package verify_test

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/verify"
)

// waitStats polls the verifier's stats until done says so, for at most five seconds: a
// background refresh ends on its own goroutine.
func waitStats(t *testing.T, v *verify.Verifier, what string, done func(verify.Stats) bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !done(v.Stats()) {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: stats %+v", what, v.Stats())
		}
		time.Sleep(time.Millisecond)
	}
}

// A key in use past its refresh age is answered from the cache at once and read again in the
// background, once however often it is used meanwhile; the fresh read then answers. A change
// the events missed (a revocation behind the verifier's back) so reaches a key in use
// without a verification ever waiting on the store.
func TestDueKeyIsRefreshedInTheBackground(t *testing.T) {
	const ttl, refresh = 10 * time.Minute, time.Minute
	f := newFixture(t, verify.Config{TTL: ttl, Refresh: refresh})
	ctx := t.Context()
	k, secret := f.key(t)
	check := func(want keyward.VerifyCode) {
		t.Helper()
		if res, err := f.verifier.Check(ctx, secret, verify.Requirements{}); err != nil || res.Code != want {
			t.Fatalf("Check = %v %v, want %v", res.Code, err, want)
		}
	}
	check(keyward.VerifyValid)
	if _, err := f.quiet.RevokeKey(ctx, f.owner, k.ID); err != nil {
		t.Fatal(err)
	}
	f.advance(refresh / 2)
	check(keyward.VerifyValid) // fresh: not read again
	if n := f.store.lookups.Load(); n != 1 {
		t.Fatalf("lookups before the refresh age = %d, want 1", n)
	}

	// Due: the store read is held at a gate, and verifications do not wait for it.
	g := newGate()
	f.store.gate.Store(g)
	f.advance(refresh)
	for range 100 {
		check(keyward.VerifyValid)
	}
	<-g.entered
	if n := f.store.lookups.Load(); n != 2 {
		t.Errorf("lookups with the entry due, used 100 times = %d, want 2: one refresh", n)
	}
	f.store.gate.Store(nil)
	close(g.release)
	waitStats(t, f.verifier, "the refresh", func(s verify.Stats) bool { return s.Refreshes == 1 })
	check(keyward.VerifyRevoked)
	if n := f.store.lookups.Load(); n != 2 {
		t.Errorf("lookups after the refresh = %d, want 2: the refreshed entry answers", n)
	}
}

// The staleness bound: with the change events lost (the key revoked behind the verifier's
// back) and every background refresh failing, a key is served no longer than its TTL after
// it was read; during an outage of the store, no longer than the stale bound. Then it has no
// verdict until the store answers, and then it is judged as it is.
func TestNoKeyIsServedPastTheBound(t *testing.T) {
	const ttl, refresh, staleBound = 10 * time.Minute, time.Minute, 30 * time.Minute
	for _, tt := range []struct {
		name  string
		err   error
		bound time.Duration
	}{
		{"the store fails", errors.New("disk I/O error"), ttl},
		{"the store is away", &keyward.Error{Code: keyward.EUnavailable, Message: "the database is unavailable"}, staleBound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, verify.Config{TTL: ttl, Refresh: refresh, StaleBound: staleBound})
			ctx := t.Context()
			k, secret := f.key(t)
			read := f.clock()
			if res, err := f.verifier.Check(ctx, secret, verify.Requirements{}); err != nil || !res.Valid {
				t.Fatal(res.Code, err)
			}
			if _, err := f.quiet.RevokeKey(ctx, f.owner, k.ID); err != nil {
				t.Fatal(err)
			}
			f.store.lookupErr.Store(&tt.err)

			// Within the bound the entry answers, and each refresh fails; each release lets
			// the next verification try again.
			failed := uint64(0)
			for _, age := range []time.Duration{refresh, 3 * refresh, ttl * 9 / 10} {
				f.now.Store(read.Add(age).UnixNano())
				res, err := f.verifier.Check(ctx, secret, verify.Requirements{})
				if err != nil || !res.Valid {
					t.Fatalf("at age %s: %v %v, want VALID from the cache", age, res.Code, err)
				}
				failed++
				waitStats(t, f.verifier, "a failed refresh", func(s verify.Stats) bool { return s.RefreshesFailed == failed })
			}
			if tt.bound > ttl {
				f.now.Store(read.Add(tt.bound - time.Nanosecond).UnixNano())
				if res, err := f.verifier.Check(ctx, secret, verify.Requirements{}); err != nil || !res.Valid {
					t.Fatalf("just within the stale bound: %v %v, want VALID", res.Code, err)
				}
			}
			for _, age := range []time.Duration{tt.bound, tt.bound + time.Hour} {
				f.now.Store(read.Add(age).UnixNano())
				if res, err := f.verifier.Check(ctx, secret, verify.Requirements{}); !errors.Is(err, tt.err) {
					t.Fatalf("at age %s (the bound is %s): %v %v, want the store's error and no verdict", age, tt.bound, res.Code, err)
				}
			}

			f.store.lookupErr.Store(nil)
			if res, err := f.verifier.Check(ctx, secret, verify.Requirements{}); err != nil || res.Code != keyward.VerifyRevoked {
				t.Fatalf("with the store back: %v %v, want REVOKED", res.Code, err)
			}
		})
	}
}

// At most MaxRefreshes refreshes run at once: a key that comes due while they run is
// answered from the cache and left for a later verification to refresh.
func TestRefreshesAreBounded(t *testing.T) {
	const ttl, refresh = 10 * time.Minute, time.Minute
	f := newFixture(t, verify.Config{TTL: ttl, Refresh: refresh})
	ctx := t.Context()
	secrets := make([]string, verify.MaxRefreshes+1)
	for i := range secrets {
		_, secrets[i] = f.key(t)
		if res, err := f.verifier.Check(ctx, secrets[i], verify.Requirements{}); err != nil || !res.Valid {
			t.Fatal(res.Code, err)
		}
	}
	g := newGate()
	f.store.gate.Store(g)
	f.advance(refresh)
	for _, s := range secrets {
		if res, err := f.verifier.Check(ctx, s, verify.Requirements{}); err != nil || !res.Valid {
			t.Fatal(res.Code, err)
		}
	}
	if st := f.verifier.Stats(); st.RefreshesDeferred != 1 {
		t.Errorf("deferred = %d, want 1 (%d keys due, %d refreshes at most)", st.RefreshesDeferred, len(secrets), verify.MaxRefreshes)
	}
	f.store.gate.Store(nil)
	close(g.release)
	waitStats(t, f.verifier, "the running refreshes", func(s verify.Stats) bool { return s.Refreshes == verify.MaxRefreshes })
	last := secrets[len(secrets)-1]
	if res, err := f.verifier.Check(ctx, last, verify.Requirements{}); err != nil || !res.Valid {
		t.Fatal(res.Code, err)
	}
	waitStats(t, f.verifier, "the deferred key's refresh", func(s verify.Stats) bool { return s.Refreshes == verify.MaxRefreshes+1 })
}
