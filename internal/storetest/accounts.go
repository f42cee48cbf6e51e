package storetest

import (
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

func testAccountRoundTrip(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	want := newAccount(t, s)

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
