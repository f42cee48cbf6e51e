package storetest

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

func testAccountRoundTrip(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	want := &keyward.Account{ID: keyward.NewID(), Name: "account " + keyward.NewID(), KeyPrefix: "raff", CreatedAt: base,
		AllowedIPs: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}
	if err := s.CreateAccount(ctx, want); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}

	got, err := s.Account(ctx, want.ID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	wantSame(t, "Account", got, want)
	if got.CreatedAt.Location() != time.UTC {
		t.Errorf("Account: CreatedAt: got location %v, want UTC", got.CreatedAt.Location())
	}

	got, err = s.AccountByName(ctx, want.Name)
	if err != nil {
		t.Fatalf("AccountByName: %v", err)
	}
	wantSame(t, "AccountByName", got, want)
}

func testAccountNameTaken(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	first := newAccount(t, s)
	err := s.CreateAccount(ctx, &keyward.Account{ID: keyward.NewID(), Name: first.Name, CreatedAt: base})
	wantCode(t, "CreateAccount with a taken name", err, keyward.EConflict)

	got, err := s.AccountByName(ctx, first.Name)
	if err != nil {
		t.Fatalf("AccountByName: %v", err)
	}
	wantSame(t, "AccountByName after the conflict", got, first)
}

func testAccountNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	newAccount(t, s) // so that the store is not empty
	_, err := s.Account(ctx, keyward.NewID())
	wantCode(t, "Account of an unknown id", err, keyward.ENotFound)
	_, err = s.AccountByName(ctx, "account "+keyward.NewID())
	wantCode(t, "AccountByName of an unknown name", err, keyward.ENotFound)
}

// testListAccounts lists every account, since accounts are listed across the store: it
// checks the order of all of them and finds its own among them, whatever else the store holds.
func testListAccounts(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	ids, createOrder := idsOutOfOrder(7)
	byID := map[string]*keyward.Account{}
	for i, id := range createOrder {
		a := &keyward.Account{ID: id, Name: "account " + keyward.NewID(), KeyPrefix: "kw", CreatedAt: base.Add(time.Duration(i) * time.Minute)}
		if err := s.CreateAccount(ctx, a); err != nil {
			t.Fatalf("CreateAccount: %v", err)
		}
		byID[id] = a
	}

	const limit = 3
	var (
		all   []string
		mine  []*keyward.Account
		after string
	)
	for {
		page, err := s.ListAccounts(ctx, after, limit)
		if err != nil {
			t.Fatalf("ListAccounts after %q: %v", after, err)
		}
		if len(page) > limit {
			t.Fatalf("ListAccounts: got %d accounts, want at most %d", len(page), limit)
		}
		for _, a := range page {
			all = append(all, a.ID)
			if byID[a.ID] != nil {
				mine = append(mine, a)
			}
		}
		if len(page) < limit {
			break
		}
		after = page[len(page)-1].ID
	}
	if !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != len(all) {
		t.Errorf("ListAccounts: pages are not in strictly rising id order")
	}
	var want []*keyward.Account
	for _, id := range ids {
		want = append(want, byID[id])
	}
	wantSame(t, "ListAccounts, this test's accounts", mine, want)

	got, err := s.ListAccounts(ctx, ids[0], 2)
	if err != nil {
		t.Fatalf("ListAccounts: %v", err)
	}
	if len(got) != 2 || got[0].ID <= ids[0] {
		t.Errorf("ListAccounts after %s: got %d accounts starting at %v, want 2 after it", ids[0], len(got), got)
	}
}

func testUpdateAccount(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	want := *a
	want.Name = "renamed " + keyward.NewID()
	want.KeyPrefix = "raff"
	want.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}

	in := want
	in.CreatedAt = base.Add(time.Hour) // not written: only the name, key prefix and networks are
	if err := s.UpdateAccount(ctx, &in); err != nil {
		t.Fatalf("UpdateAccount: %v", err)
	}
	got, err := s.Account(ctx, a.ID)
	if err != nil {
		t.Fatalf("Account: %v", err)
	}
	wantSame(t, "Account after UpdateAccount", got, &want)
	got, err = s.AccountByName(ctx, want.Name)
	if err != nil {
		t.Fatalf("AccountByName of the new name: %v", err)
	}
	wantSame(t, "AccountByName of the new name", got, &want)
	_, err = s.AccountByName(ctx, a.Name)
	wantCode(t, "AccountByName of the old name", err, keyward.ENotFound)

	// Keeping its own name is no conflict.
	if err := s.UpdateAccount(ctx, &want); err != nil {
		t.Errorf("UpdateAccount with its own name: %v", err)
	}
}

func testUpdateAccountRefused(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	tests := []struct {
		name string
		edit func(in *keyward.Account)
		want keyward.Code
	}{
		{"name taken", func(in *keyward.Account) { in.Name = b.Name }, keyward.EConflict},
		{"unknown id", func(in *keyward.Account) { in.ID = keyward.NewID(); in.Name = "account " + keyward.NewID() }, keyward.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := *a
			in.KeyPrefix = "changed"
			tt.edit(&in)
			wantCode(t, "UpdateAccount", s.UpdateAccount(ctx, &in), tt.want)
		})
	}
	for _, want := range []*keyward.Account{a, b} {
		got, err := s.Account(ctx, want.ID)
		if err != nil {
			t.Fatalf("Account: %v", err)
		}
		wantSame(t, "Account after the refused updates", got, want)
	}
}
