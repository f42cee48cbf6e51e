package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

func testRoleRoundTrip(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	tests := []struct {
		name string
		role *keyward.Role
		want func(r *keyward.Role) // how the role reads back, when not as written
	}{
		{"every field set", &keyward.Role{
			Name:        "Key rotator",
			Slug:        "key-rotator",
			Description: "Rotates keys in every project.",
			Permissions: keyward.Permissions{"api_keys.read", "api_keys.rotate", "projects.*.read"},
		}, nil},
		{"no description and no permissions", &keyward.Role{
			Name: "Nobody",
			Slug: "nobody",
		}, func(r *keyward.Role) { r.Permissions = keyward.Permissions{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.role
			r.ID, r.AccountID, r.CreatedAt = keyward.NewID(), a.ID, base
			if err := s.CreateRole(ctx, r); err != nil {
				t.Fatalf("CreateRole: %v", err)
			}
			want := *r
			if tt.want != nil {
				tt.want(&want)
			}
			got, err := s.Role(ctx, a.ID, r.ID)
			if err != nil {
				t.Fatalf("Role: %v", err)
			}
			wantSame(t, "Role", got, &want)
			if got.CreatedAt.Location() != time.UTC {
				t.Errorf("Role: CreatedAt: got location %v, want UTC", got.CreatedAt.Location())
			}
		})
	}
}

func testRoleSlugTaken(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	first := newRole(t, s, a.ID)
	tests := []struct {
		name      string
		accountID string
		want      keyward.Code
	}{
		{"same account", a.ID, keyward.EConflict},
		{"another account", b.ID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &keyward.Role{ID: keyward.NewID(), AccountID: tt.accountID, Name: "Other", Slug: first.Slug, CreatedAt: base}
			wantCode(t, "CreateRole", s.CreateRole(ctx, r), tt.want)
		})
	}
	got, err := s.Role(ctx, a.ID, first.ID)
	if err != nil {
		t.Fatalf("Role: %v", err)
	}
	wantSame(t, "Role after the conflict", got, first)
}

func testRoleNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	r := newRole(t, s, a.ID)
	changed := func(accountID, id string) *keyward.Role {
		in := *r
		in.AccountID, in.ID, in.Name, in.Permissions = accountID, id, "changed", keyward.Permissions{"*"}
		return &in
	}
	tests := []struct {
		name string
		do   func() error
	}{
		{"Role of an unknown id", func() error { _, err := s.Role(ctx, a.ID, keyward.NewID()); return err }},
		{"Role of another account's", func() error { _, err := s.Role(ctx, b.ID, r.ID); return err }},
		{"Role of a built-in role", func() error { _, err := s.Role(ctx, a.ID, viewer); return err }},
		{"UpdateRole of an unknown id", func() error { return s.UpdateRole(ctx, changed(a.ID, keyward.NewID())) }},
		{"UpdateRole of another account's", func() error { return s.UpdateRole(ctx, changed(b.ID, r.ID)) }},
		{"DeleteRole of an unknown id", func() error { return s.DeleteRole(ctx, a.ID, keyward.NewID()) }},
		{"DeleteRole of another account's", func() error { return s.DeleteRole(ctx, b.ID, r.ID) }},
		{"CreateRole in an unknown account", func() error {
			return s.CreateRole(ctx, &keyward.Role{ID: keyward.NewID(), AccountID: keyward.NewID(), Name: "x", Slug: "x", CreatedAt: base})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.name, tt.do(), keyward.ENotFound)
		})
	}
	got, err := s.Role(ctx, a.ID, r.ID)
	if err != nil {
		t.Fatalf("Role: %v", err)
	}
	wantSame(t, "Role after the refused changes", got, r)
}

func testListRoles(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	ids, createOrder := idsOutOfOrder(7)
	byID := map[string]*keyward.Role{}
	for i, id := range createOrder {
		r := &keyward.Role{
			ID: id, AccountID: a.ID, Name: fmt.Sprintf("role %d", i), Slug: fmt.Sprintf("role-%d", i),
			Permissions: keyward.Permissions{"keys.read"}, CreatedAt: base.Add(time.Duration(i) * time.Minute),
		}
		if err := s.CreateRole(ctx, r); err != nil {
			t.Fatalf("CreateRole: %v", err)
		}
		byID[id] = r
	}
	newRole(t, s, b.ID)

	list := func(after string, limit int) ([]*keyward.Role, error) {
		return s.ListRoles(ctx, a.ID, after, limit)
	}
	wantSame(t, "pages of 3", pages(t, 3, func(r *keyward.Role) string { return r.ID }, list), chunk(ids, 3))

	all, err := list("", 100)
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	var want []*keyward.Role
	for _, id := range ids {
		want = append(want, byID[id])
	}
	wantSame(t, "ListRoles", all, want)

	wantNone(t, "ListRoles of an unknown account", func() (int, error) {
		got, err := s.ListRoles(ctx, keyward.NewID(), "", 100)
		return len(got), err
	})
}

func testUpdateRole(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	tests := []struct {
		name    string
		mutable func(r *keyward.Role) // what UpdateRole must write
	}{
		{"change every mutable field", func(r *keyward.Role) {
			r.Name = "Renamed"
			r.Description = "Now reads only."
			r.Permissions = keyward.Permissions{"api_keys.read"}
		}},
		{"clear every optional mutable field", func(r *keyward.Role) {
			r.Description = ""
			r.Permissions = keyward.Permissions{}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRole(t, s, a.ID)
			want := *r
			tt.mutable(&want)

			in := want
			// Every other field changes too, and UpdateRole must leave all of them as stored.
			in.Slug = "changed-" + keyward.NewID()
			in.CreatedAt = base.Add(time.Hour)
			if err := s.UpdateRole(ctx, &in); err != nil {
				t.Fatalf("UpdateRole: %v", err)
			}
			got, err := s.Role(ctx, a.ID, r.ID)
			if err != nil {
				t.Fatalf("Role: %v", err)
			}
			wantSame(t, "Role after UpdateRole", got, &want)
		})
	}
}

func testDeleteRole(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	r, kept := newRole(t, s, a.ID), newRole(t, s, a.ID)
	if err := s.DeleteRole(ctx, a.ID, r.ID); err != nil {
		t.Fatalf("DeleteRole: %v", err)
	}
	_, err := s.Role(ctx, a.ID, r.ID)
	wantCode(t, "Role of the deleted role", err, keyward.ENotFound)
	wantCode(t, "DeleteRole again", s.DeleteRole(ctx, a.ID, r.ID), keyward.ENotFound)
	got, err := s.ListRoles(ctx, a.ID, "", 10)
	if err != nil {
		t.Fatalf("ListRoles: %v", err)
	}
	wantSame(t, "ListRoles after DeleteRole", got, []*keyward.Role{kept})

	// The slug is free again.
	again := &keyward.Role{ID: keyward.NewID(), AccountID: a.ID, Name: r.Name, Slug: r.Slug, Permissions: keyward.Permissions{}, CreatedAt: base}
	if err := s.CreateRole(ctx, again); err != nil {
		t.Errorf("CreateRole with the deleted role's slug: %v", err)
	}
}

// testDeleteRoleWhileHeld refuses to delete a role while anything holds it, and allows it once
// the holder lets go.
func testDeleteRoleWhileHeld(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	tests := []struct {
		name string
		hold func(t *testing.T, roleID string) (release func(t *testing.T))
	}{
		{"by a user", func(t *testing.T, roleID string) func(t *testing.T) {
			u := newUser(t, s, a.ID, func(u *keyward.User) { u.RoleID = roleID })
			return func(t *testing.T) {
				u.RoleID = viewer
				if err := s.UpdateUser(ctx, u); err != nil {
					t.Fatalf("UpdateUser: %v", err)
				}
			}
		}},
		{"by a key", func(t *testing.T, roleID string) func(t *testing.T) {
			k := newKey(t, s, p, func(k *keyward.Key) { k.RoleID = roleID })
			return func(t *testing.T) {
				k.RoleID = ""
				if err := s.UpdateKey(ctx, k); err != nil {
					t.Fatalf("UpdateKey: %v", err)
				}
			}
		}},
		{"by a key's project access", func(t *testing.T, roleID string) func(t *testing.T) {
			k := newKey(t, s, p, func(k *keyward.Key) {
				k.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: p.ID, RoleID: roleID}}
			})
			return func(t *testing.T) {
				ms, err := s.ListMemberships(ctx, keyward.MembershipFilter{AccountID: a.ID, KeyID: k.ID})
				if err != nil || len(ms) != 1 {
					t.Fatalf("ListMemberships of the key: got %v, %v; want one membership", ms, err)
				}
				ms[0].RoleID = member
				if err := s.UpdateMembership(ctx, ms[0]); err != nil {
					t.Fatalf("UpdateMembership: %v", err)
				}
			}
		}},
		{"by a user's membership", func(t *testing.T, roleID string) func(t *testing.T) {
			u := newUser(t, s, a.ID, nil)
			m := newMembership(t, s, p, u.ID, "", roleID)
			return func(t *testing.T) {
				if err := s.DeleteMembership(ctx, a.ID, m.ID); err != nil {
					t.Fatalf("DeleteMembership: %v", err)
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRole(t, s, a.ID)
			release := tt.hold(t, r.ID)
			wantCode(t, "DeleteRole while held", s.DeleteRole(ctx, a.ID, r.ID), keyward.EConflict)
			got, err := s.Role(ctx, a.ID, r.ID)
			if err != nil {
				t.Fatalf("Role after the refused delete: %v", err)
			}
			wantSame(t, "Role after the refused delete", got, r)

			release(t)
			if err := s.DeleteRole(ctx, a.ID, r.ID); err != nil {
				t.Errorf("DeleteRole once released: %v", err)
			}
		})
	}
}
