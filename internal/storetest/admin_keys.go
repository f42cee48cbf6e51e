package storetest

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// adminKeyIn returns an admin key of the account, not yet stored.
func adminKeyIn(t *testing.T, accountID string) *keyward.AdminKey {
	t.Helper()
	return &keyward.AdminKey{
		ID:         keyward.NewID(),
		AccountID:  accountID,
		Name:       "bootstrap",
		Prefix:     keyward.AdminKeyPrefix + "_3f9a0c12",
		Last4:      "Qw7e",
		Hash:       randomHash(t),
		HashScheme: "hmac-sha256:1",
		CreatedAt:  base,
	}
}

func testAdminKeyRoundTrip(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	revoked := adminKeyIn(t, a.ID)
	revoked.RevokedAt = at(time.Hour)
	for _, want := range []*keyward.AdminKey{adminKeyIn(t, a.ID), revoked} {
		if err := s.CreateAdminKey(ctx, want); err != nil {
			t.Fatalf("CreateAdminKey: %v", err)
		}
		got, err := s.AdminKeyByHash(ctx, want.Hash)
		if err != nil {
			t.Fatalf("AdminKeyByHash: %v", err)
		}
		wantSame(t, "AdminKeyByHash", got, want)
		if got.CreatedAt.Location() != time.UTC || got.RevokedAt != nil && got.RevokedAt.Location() != time.UTC {
			t.Errorf("AdminKeyByHash: got times %v and %v, want UTC", got.CreatedAt, got.RevokedAt)
		}
	}
}

func testAdminKeyHashTaken(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	first := adminKeyIn(t, a.ID)
	if err := s.CreateAdminKey(ctx, first); err != nil {
		t.Fatalf("CreateAdminKey: %v", err)
	}
	for _, accountID := range []string{a.ID, b.ID} {
		k := adminKeyIn(t, accountID)
		k.Hash = slices.Clone(first.Hash)
		wantCode(t, "CreateAdminKey with a taken hash", s.CreateAdminKey(ctx, k), keyward.EConflict)
	}
	got, err := s.AdminKeyByHash(ctx, first.Hash)
	if err != nil {
		t.Fatalf("AdminKeyByHash: %v", err)
	}
	wantSame(t, "AdminKeyByHash after the conflicts", got, first)
}

func testAdminKeyNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	if err := s.CreateAdminKey(ctx, adminKeyIn(t, newAccount(t, s).ID)); err != nil {
		t.Fatalf("CreateAdminKey: %v", err)
	}
	_, err := s.AdminKeyByHash(ctx, randomHash(t))
	wantCode(t, "AdminKeyByHash of an unknown hash", err, keyward.ENotFound)
}

// testCountAdminKeys counts relative to the start, so that the suite can share a database.
func testCountAdminKeys(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	count := func() int {
		t.Helper()
		n, err := s.CountAdminKeys(ctx)
		if err != nil {
			t.Fatalf("CountAdminKeys: %v", err)
		}
		return n
	}
	before := count()
	revoked := adminKeyIn(t, newAccount(t, s).ID)
	revoked.RevokedAt = at(time.Hour)
	for _, k := range []*keyward.AdminKey{adminKeyIn(t, newAccount(t, s).ID), revoked} {
		if err := s.CreateAdminKey(ctx, k); err != nil {
			t.Fatalf("CreateAdminKey: %v", err)
		}
	}
	if got, want := count(), before+2; got != want {
		t.Errorf("CountAdminKeys: got %d, want %d (revoked keys count too)", got, want)
	}
}

// testBootstrapAdminKey bootstraps the store from eight goroutines at once: at most one may
// succeed, and exactly one when the store held no admin key (a store shared with other
// subtests may hold some already, and then none may).
func testBootstrapAdminKey(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	before, err := s.CountAdminKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	name := "bootstrap " + keyward.NewID()
	const n = 8
	keys := make([]*keyward.AdminKey, n)
	created := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		a := &keyward.Account{ID: keyward.NewID(), Name: name, KeyPrefix: "kw", CreatedAt: base}
		keys[i] = adminKeyIn(t, a.ID)
		wg.Go(func() { created[i], errs[i] = s.BootstrapAdminKey(ctx, a, keys[i]) })
	}
	wg.Wait()
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("BootstrapAdminKey: %v", errs[i])
		}
		_, err := s.AdminKeyByHash(ctx, keys[i].Hash)
		switch {
		case created[i]:
			winners++
			if err != nil {
				t.Errorf("the bootstrapped key: %v", err)
			}
			acct, err := s.AccountByName(ctx, name)
			if err != nil || acct.ID != keys[i].AccountID {
				t.Errorf("the bootstrapped key's account: %v, %v; want the account %q", acct, err, name)
			}
		default:
			wantCode(t, "AdminKeyByHash of a key not bootstrapped", err, keyward.ENotFound)
		}
	}
	want := 0
	if before == 0 {
		want = 1
	}
	if winners != want {
		t.Errorf("%d of %d bootstraps succeeded with %d admin keys before, want %d", winners, n, before, want)
	}
	// Once bootstrapped, never again.
	a := &keyward.Account{ID: keyward.NewID(), Name: "late " + keyward.NewID(), KeyPrefix: "kw", CreatedAt: base}
	if ok, err := s.BootstrapAdminKey(ctx, a, adminKeyIn(t, a.ID)); ok || err != nil {
		t.Errorf("BootstrapAdminKey of a bootstrapped store = %t, %v; want false", ok, err)
	}
}

func testRevokeAdminKey(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	k, other := adminKeyIn(t, a.ID), adminKeyIn(t, a.ID)
	for _, x := range []*keyward.AdminKey{k, other} {
		if err := s.CreateAdminKey(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.RevokeAdminKey(ctx, k.ID, *at(time.Hour))
	if err != nil {
		t.Fatalf("RevokeAdminKey: %v", err)
	}
	want := *k
	want.RevokedAt = at(time.Hour)
	wantSame(t, "RevokeAdminKey", got, &want)
	stored, err := s.AdminKeyByHash(ctx, k.Hash)
	if err != nil {
		t.Fatal(err)
	}
	wantSame(t, "AdminKeyByHash after revocation", stored, &want)

	_, err = s.RevokeAdminKey(ctx, k.ID, *at(2 * time.Hour))
	wantCode(t, "RevokeAdminKey of a revoked key", err, keyward.EConflict)
	_, err = s.RevokeAdminKey(ctx, keyward.NewID(), *at(time.Hour))
	wantCode(t, "RevokeAdminKey of an unknown key", err, keyward.ENotFound)

	// The list holds both, the other one untouched, in id order.
	all, err := s.AdminKeys(ctx)
	if err != nil {
		t.Fatalf("AdminKeys: %v", err)
	}
	var mine []*keyward.AdminKey
	for i, x := range all {
		if i > 0 && all[i-1].ID >= x.ID {
			t.Errorf("AdminKeys not in id order: %s before %s", all[i-1].ID, x.ID)
		}
		if x.AccountID == a.ID {
			mine = append(mine, x)
		}
	}
	wantMine := []*keyward.AdminKey{&want, other}
	slices.SortFunc(wantMine, func(x, y *keyward.AdminKey) int { return strings.Compare(x.ID, y.ID) })
	wantSame(t, "AdminKeys of the account", mine, wantMine)
}
