package verify_test

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/verify"
)

// Through an outage of the store, a key verified before it keeps verifying past the cache's
// TTL, up to the stale bound and never past it; a key the cache does not hold (unknown, or
// dropped by a revocation) has no verdict; a failure that is not an outage serves nothing
// stale; and once the store is back every key is read afresh.
func TestStaleBoundServesKeysThroughAnOutage(t *testing.T) {
	const ttl, bound = 10 * time.Second, 60 * time.Second
	f := newFixture(t, verify.Config{TTL: ttl, StaleBound: bound})
	ctx := t.Context()
	_, good := f.key(t)
	revoked, revokedSecret := f.key(t)
	_, unseen := f.key(t) // in the store, never verified on this node
	for _, s := range []string{good, revokedSecret} {
		if res, err := f.verifier.Check(ctx, s, verify.Requirements{}); err != nil || !res.Valid {
			t.Fatalf("before the outage: %v %v", res.Code, err)
		}
	}
	if _, err := f.svc.RevokeKey(ctx, f.owner, revoked.ID); err != nil {
		t.Fatal(err)
	}

	down := error(&keyward.Error{Code: keyward.EUnavailable, Message: "the database is unavailable", Cause: errors.New("connection refused")})
	f.store.lookupErr.Store(&down)
	f.advance(ttl + time.Second)
	if res, err := f.verifier.Check(ctx, good, verify.Requirements{}); err != nil || !res.Valid {
		t.Fatalf("past the TTL, within the bound: %v %v, want VALID from the stale entry", res.Code, err)
	}
	if n := f.verifier.Stats().StaleServed; n != 1 {
		t.Errorf("StaleServed = %d, want 1", n)
	}
	for name, s := range map[string]string{"revoked before the outage": revokedSecret, "never verified here": unseen} {
		if res, err := f.verifier.Check(ctx, s, verify.Requirements{}); !keyward.IsOutage(err) {
			t.Errorf("%s: %v %v, want the outage error and no verdict", name, res.Code, err)
		}
	}

	bug := errors.New("something else broke")
	f.store.lookupErr.Store(&bug)
	if res, err := f.verifier.Check(ctx, good, verify.Requirements{}); !errors.Is(err, bug) {
		t.Errorf("a failure that is not an outage: %v %v, want the error, nothing stale", res.Code, err)
	}

	f.store.lookupErr.Store(&down)
	f.advance(bound - ttl) // now exactly the bound after the key was read
	if res, err := f.verifier.Check(ctx, good, verify.Requirements{}); !keyward.IsOutage(err) {
		t.Fatalf("at the bound: %v %v, want the outage error: never served past the bound", res.Code, err)
	}
	if n := f.verifier.Stats().StaleServed; n != 1 {
		t.Errorf("StaleServed = %d, want still 1", n)
	}

	f.store.lookupErr.Store(nil)
	before := f.store.lookups.Load()
	if res, err := f.verifier.Check(ctx, good, verify.Requirements{}); err != nil || !res.Valid {
		t.Fatalf("after the outage: %v %v", res.Code, err)
	}
	if f.store.lookups.Load() == before {
		t.Error("after the outage the key was not read afresh")
	}
}

// Without a stale bound, an outage past the TTL has no verdict, as before.
func TestNoStaleBoundServesNothingStale(t *testing.T) {
	f := newFixture(t, verify.Config{TTL: 10 * time.Second})
	_, secret := f.key(t)
	if res, err := f.verifier.Check(t.Context(), secret, verify.Requirements{}); err != nil || !res.Valid {
		t.Fatal(res.Code, err)
	}
	down := error(&keyward.Error{Code: keyward.EUnavailable, Message: "down"})
	f.store.lookupErr.Store(&down)
	f.advance(11 * time.Second)
	if _, err := f.verifier.Check(t.Context(), secret, verify.Requirements{}); !keyward.IsOutage(err) {
		t.Errorf("err = %v, want the outage", err)
	}
}
