package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

func testUserRoundTrip(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	r := newRole(t, s, a.ID)
	want := &keyward.User{
		ID:         keyward.NewID(),
		AccountID:  a.ID,
		Issuer:     "https://accounts.example.com/realms/acme",
		Subject:    "248289761001",
		Email:      "jane@example.com",
		Name:       "Jane Doe",
		RoleID:     r.ID,
		DisabledAt: at(time.Hour),
		CreatedAt:  base,
	}
	want.Subject += keyward.NewID() // unique in a shared store
	if err := s.CreateUser(ctx, want); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}

	got, err := s.User(ctx, a.ID, want.ID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	wantSame(t, "User", got, want)
	if got.CreatedAt.Location() != time.UTC || got.DisabledAt.Location() != time.UTC {
		t.Errorf("User: got times %v and %v, want UTC", got.CreatedAt, got.DisabledAt)
	}

	got, err = s.UserBySubject(ctx, want.Issuer, want.Subject)
	if err != nil {
		t.Fatalf("UserBySubject: %v", err)
	}
	wantSame(t, "UserBySubject", got, want)

	listed, err := s.ListUsers(ctx, a.ID, "", 10)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	wantSame(t, "ListUsers", listed, []*keyward.User{want})
}

// testUserOptionalFieldsUnset stores users not linked to an OIDC provider: any number of them
// may exist, and none can be found by an empty issuer and subject.
func testUserOptionalFieldsUnset(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	var want []*keyward.User
	for range 2 {
		u := &keyward.User{ID: keyward.NewID(), AccountID: a.ID, CreatedAt: base}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser of an unlinked user: %v", err)
		}
		got, err := s.User(ctx, a.ID, u.ID)
		if err != nil {
			t.Fatalf("User: %v", err)
		}
		wantSame(t, "User", got, u)
		want = append(want, u)
	}
	_, err := s.UserBySubject(ctx, "", "")
	wantCode(t, "UserBySubject with no issuer and subject", err, keyward.ENotFound)

	listed, err := s.ListUsers(ctx, a.ID, "", 10)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	slices.SortFunc(want, func(x, y *keyward.User) int { return strings.Compare(x.ID, y.ID) })
	wantSame(t, "ListUsers", listed, want)
}

func testUserSubjectTaken(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	first := newUser(t, s, a.ID, nil)

	tests := []struct {
		name            string
		accountID       string
		issuer, subject string
		want            keyward.Code
	}{
		{"same account", a.ID, first.Issuer, first.Subject, keyward.EConflict},
		{"another account", b.ID, first.Issuer, first.Subject, keyward.EConflict},
		{"same subject at another issuer", a.ID, "https://other.example.com", first.Subject, ""},
		{"another subject at the same issuer", a.ID, first.Issuer, "subject " + keyward.NewID(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := &keyward.User{ID: keyward.NewID(), AccountID: tt.accountID, Issuer: tt.issuer, Subject: tt.subject, CreatedAt: base}
			wantCode(t, "CreateUser", s.CreateUser(ctx, u), tt.want)
		})
	}
	got, err := s.UserBySubject(ctx, first.Issuer, first.Subject)
	if err != nil {
		t.Fatalf("UserBySubject: %v", err)
	}
	wantSame(t, "UserBySubject after the conflicts", got, first)
}

func testUserNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	u := newUser(t, s, a.ID, nil)
	tests := []struct {
		name string
		do   func() error
	}{
		{"User of an unknown id", func() error { _, err := s.User(ctx, a.ID, keyward.NewID()); return err }},
		{"User of another account's", func() error { _, err := s.User(ctx, b.ID, u.ID); return err }},
		{"UserBySubject of an unknown subject", func() error {
			_, err := s.UserBySubject(ctx, u.Issuer, "subject "+keyward.NewID())
			return err
		}},
		{"UserBySubject at another issuer", func() error {
			_, err := s.UserBySubject(ctx, "https://other.example.com", u.Subject)
			return err
		}},
		{"UpdateUser of an unknown id", func() error {
			in := *u
			in.ID, in.Name = keyward.NewID(), "changed"
			return s.UpdateUser(ctx, &in)
		}},
		{"UpdateUser of another account's", func() error {
			in := *u
			in.AccountID, in.Name = b.ID, "changed"
			return s.UpdateUser(ctx, &in)
		}},
		{"CreateUser in an unknown account", func() error {
			return s.CreateUser(ctx, &keyward.User{ID: keyward.NewID(), AccountID: keyward.NewID(), CreatedAt: base})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.name, tt.do(), keyward.ENotFound)
		})
	}
	got, err := s.User(ctx, a.ID, u.ID)
	if err != nil {
		t.Fatalf("User: %v", err)
	}
	wantSame(t, "User after the refused updates", got, u)
}

func testListUsers(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	ids, createOrder := idsOutOfOrder(7)
	byID := map[string]*keyward.User{}
	for i, id := range createOrder {
		byID[id] = newUser(t, s, a.ID, func(u *keyward.User) {
			u.ID = id
			u.Name = fmt.Sprintf("user %d", i)
			u.CreatedAt = base.Add(time.Duration(i) * time.Minute)
		})
	}
	newUser(t, s, b.ID, nil)

	list := func(after string, limit int) ([]*keyward.User, error) {
		return s.ListUsers(ctx, a.ID, after, limit)
	}
	wantSame(t, "pages of 3", pages(t, 3, func(u *keyward.User) string { return u.ID }, list), chunk(ids, 3))

	all, err := list("", 100)
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	var want []*keyward.User
	for _, id := range ids {
		want = append(want, byID[id])
	}
	wantSame(t, "ListUsers", all, want)

	wantNone(t, "ListUsers of an unknown account", func() (int, error) {
		got, err := s.ListUsers(ctx, keyward.NewID(), "", 100)
		return len(got), err
	})
}

func testUpdateUser(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	r := newRole(t, s, a.ID)
	tests := []struct {
		name    string
		mutable func(u *keyward.User) // what UpdateUser must write
	}{
		{"change every mutable field", func(u *keyward.User) {
			u.Email = "new@example.com"
			u.Name = "New Name"
			u.RoleID = r.ID
			u.DisabledAt = at(time.Hour)
		}},
		{"clear every optional mutable field", func(u *keyward.User) {
			u.Email = ""
			u.Name = ""
			u.RoleID = ""
			u.DisabledAt = nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUser(t, s, a.ID, func(u *keyward.User) { u.DisabledAt = at(time.Minute) })
			want := *u
			tt.mutable(&want)

			in := want
			// Every other field changes too, and UpdateUser must leave all of them as stored.
			in.Issuer = "https://changed.example.com"
			in.Subject = "changed " + keyward.NewID()
			in.CreatedAt = base.Add(time.Hour)
			if err := s.UpdateUser(ctx, &in); err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			got, err := s.User(ctx, a.ID, u.ID)
			if err != nil {
				t.Fatalf("User: %v", err)
			}
			wantSame(t, "User after UpdateUser", got, &want)
		})
	}
}
