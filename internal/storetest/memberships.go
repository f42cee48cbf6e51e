package storetest

import (
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

func testMembershipRoundTrip(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	r := newRole(t, s, a.ID)
	u := newUser(t, s, a.ID, nil)
	k := newKey(t, s, p, nil)
	tests := []struct {
		name          string
		userID, keyID string
		roleID        string
	}{
		{"a user's, with a custom role", u.ID, "", r.ID},
		{"a key's, with a built-in role", "", k.ID, viewer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := &keyward.Membership{
				ID:        keyward.NewID(),
				AccountID: a.ID,
				ProjectID: p.ID,
				UserID:    tt.userID,
				KeyID:     tt.keyID,
				RoleID:    tt.roleID,
				CreatedAt: base,
			}
			if err := s.CreateMembership(ctx, want); err != nil {
				t.Fatalf("CreateMembership: %v", err)
			}
			got, err := s.Membership(ctx, a.ID, want.ID)
			if err != nil {
				t.Fatalf("Membership: %v", err)
			}
			wantSame(t, "Membership", got, want)
			if got.CreatedAt.Location() != time.UTC {
				t.Errorf("Membership: CreatedAt: got location %v, want UTC", got.CreatedAt.Location())
			}
		})
	}

	// A key's membership is one of its project accesses.
	got, err := s.Key(ctx, a.ID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	wantSame(t, "Key's project accesses", got.ProjectAccesses, []keyward.ProjectAccess{{ProjectID: p.ID, RoleID: viewer}})
}

func testMembershipTaken(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p, other := newProject(t, s, a.ID), newProject(t, s, a.ID)
	u := newUser(t, s, a.ID, nil)
	k := newKey(t, s, p, nil)
	withAccess := newKey(t, s, p, func(k *keyward.Key) {
		k.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: p.ID, RoleID: viewer}}
	})
	first := []*keyward.Membership{
		newMembership(t, s, p, u.ID, "", viewer),
		newMembership(t, s, p, "", k.ID, viewer),
	}

	tests := []struct {
		name          string
		project       *keyward.Project
		userID, keyID string
		want          keyward.Code
	}{
		{"same user, same project", p, u.ID, "", keyward.EConflict},
		{"same key, same project", p, "", k.ID, keyward.EConflict},
		{"key with that project access already", p, "", withAccess.ID, keyward.EConflict},
		{"same user, another project", other, u.ID, "", ""},
		{"same key, another project", other, "", k.ID, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &keyward.Membership{ID: keyward.NewID(), AccountID: a.ID, ProjectID: tt.project.ID, UserID: tt.userID, KeyID: tt.keyID, RoleID: member, CreatedAt: base}
			wantCode(t, "CreateMembership", s.CreateMembership(ctx, m), tt.want)
		})
	}
	for _, want := range first {
		got, err := s.Membership(ctx, a.ID, want.ID)
		if err != nil {
			t.Fatalf("Membership: %v", err)
		}
		wantSame(t, "Membership after the conflicts", got, want)
	}
}

func testMembershipReferencesNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	p, pb := newProject(t, s, a.ID), newProject(t, s, b.ID)
	u, ub := newUser(t, s, a.ID, nil), newUser(t, s, b.ID, nil)
	k, kb := newKey(t, s, p, nil), newKey(t, s, pb, nil)
	tests := []struct {
		name          string
		projectID     string
		userID, keyID string
	}{
		{"project of another account", pb.ID, u.ID, ""},
		{"unknown project", keyward.NewID(), "", k.ID},
		{"user of another account", p.ID, ub.ID, ""},
		{"unknown user", p.ID, keyward.NewID(), ""},
		{"key of another account", p.ID, "", kb.ID},
		{"unknown key", p.ID, "", keyward.NewID()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &keyward.Membership{ID: keyward.NewID(), AccountID: a.ID, ProjectID: tt.projectID, UserID: tt.userID, KeyID: tt.keyID, RoleID: viewer, CreatedAt: base}
			wantCode(t, "CreateMembership", s.CreateMembership(ctx, m), keyward.ENotFound)
			_, err := s.Membership(ctx, a.ID, m.ID)
			wantCode(t, "Membership of the refused membership", err, keyward.ENotFound)
		})
	}
}

func testMembershipNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	p := newProject(t, s, a.ID)
	m := newMembership(t, s, p, newUser(t, s, a.ID, nil).ID, "", viewer)
	changed := func(accountID, id string) *keyward.Membership {
		in := *m
		in.AccountID, in.ID, in.RoleID = accountID, id, member
		return &in
	}
	tests := []struct {
		name string
		do   func() error
	}{
		{"Membership of an unknown id", func() error { _, err := s.Membership(ctx, a.ID, keyward.NewID()); return err }},
		{"Membership of another account's", func() error { _, err := s.Membership(ctx, b.ID, m.ID); return err }},
		{"UpdateMembership of an unknown id", func() error { return s.UpdateMembership(ctx, changed(a.ID, keyward.NewID())) }},
		{"UpdateMembership of another account's", func() error { return s.UpdateMembership(ctx, changed(b.ID, m.ID)) }},
		{"DeleteMembership of an unknown id", func() error { return s.DeleteMembership(ctx, a.ID, keyward.NewID()) }},
		{"DeleteMembership of another account's", func() error { return s.DeleteMembership(ctx, b.ID, m.ID) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.name, tt.do(), keyward.ENotFound)
		})
	}
	got, err := s.Membership(ctx, a.ID, m.ID)
	if err != nil {
		t.Fatalf("Membership: %v", err)
	}
	wantSame(t, "Membership after the refused changes", got, m)
}

func testListMemberships(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p1, p2 := newProject(t, s, a.ID), newProject(t, s, a.ID)
	u1, u2 := newUser(t, s, a.ID, nil), newUser(t, s, a.ID, nil)
	k1 := newKey(t, s, p1, nil)
	k2 := newKey(t, s, p1, func(k *keyward.Key) {
		// Created with the key: these are memberships like any other.
		k.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: p1.ID, RoleID: viewer}, {ProjectID: p2.ID, RoleID: member}}
	})
	// Another account's membership, which no listing of a's may show.
	pb := newProject(t, s, newAccount(t, s).ID)
	newMembership(t, s, pb, newUser(t, s, pb.AccountID, nil).ID, "", viewer)

	made := map[string]*keyward.Membership{
		"p1 u1": newMembership(t, s, p1, u1.ID, "", viewer),
		"p2 u1": newMembership(t, s, p2, u1.ID, "", member),
		"p1 u2": newMembership(t, s, p1, u2.ID, "", member),
		"p2 k1": newMembership(t, s, p2, "", k1.ID, viewer),
	}
	fromKey, err := s.ListMemberships(ctx, keyward.MembershipFilter{AccountID: a.ID, KeyID: k2.ID})
	if err != nil {
		t.Fatalf("ListMemberships of k2: %v", err)
	}
	for _, m := range fromKey {
		switch m.ProjectID {
		case p1.ID:
			made["p1 k2"] = m
		case p2.ID:
			made["p2 k2"] = m
		}
	}
	if len(made) != 6 {
		t.Fatalf("ListMemberships of k2: got %d memberships, want one in each project", len(fromKey))
	}
	// CreateKey makes them in the key's account, at the key's creation time.
	for _, c := range []struct {
		name    string
		project *keyward.Project
		roleID  string
	}{{"p1 k2", p1, viewer}, {"p2 k2", p2, member}} {
		want := &keyward.Membership{ID: made[c.name].ID, AccountID: a.ID, ProjectID: c.project.ID, KeyID: k2.ID, RoleID: c.roleID, CreatedAt: k2.CreatedAt}
		wantSame(t, "the membership CreateKey made", made[c.name], want)
	}

	// inIDOrder returns the named memberships in the order a listing must give them.
	inIDOrder := func(names ...string) []*keyward.Membership {
		var out []*keyward.Membership
		for _, n := range names {
			out = append(out, made[n])
		}
		sortByID(out, func(m *keyward.Membership) string { return m.ID })
		return out
	}
	tests := []struct {
		name   string
		filter keyward.MembershipFilter
		want   []*keyward.Membership
	}{
		{"everything", keyward.MembershipFilter{}, inIDOrder("p1 u1", "p2 u1", "p1 u2", "p2 k1", "p1 k2", "p2 k2")},
		{"project", keyward.MembershipFilter{ProjectID: p1.ID}, inIDOrder("p1 u1", "p1 u2", "p1 k2")},
		{"user", keyward.MembershipFilter{UserID: u1.ID}, inIDOrder("p1 u1", "p2 u1")},
		{"key", keyward.MembershipFilter{KeyID: k1.ID}, inIDOrder("p2 k1")},
		{"project and user", keyward.MembershipFilter{ProjectID: p2.ID, UserID: u1.ID}, inIDOrder("p2 u1")},
		{"project and key", keyward.MembershipFilter{ProjectID: p2.ID, KeyID: k2.ID}, inIDOrder("p2 k2")},
		{"user without memberships in the project", keyward.MembershipFilter{ProjectID: p2.ID, UserID: u2.ID}, nil},
		{"limited", keyward.MembershipFilter{Limit: 2}, inIDOrder("p1 u1", "p2 u1", "p1 u2", "p2 k1", "p1 k2", "p2 k2")[:2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.filter.AccountID = a.ID
			got, err := s.ListMemberships(ctx, tt.filter)
			if err != nil {
				t.Fatalf("ListMemberships(%+v): %v", tt.filter, err)
			}
			wantSame(t, "ListMemberships", got, tt.want)
		})
	}

	all := inIDOrder("p1 u1", "p2 u1", "p1 u2", "p2 k1", "p1 k2", "p2 k2")
	var ids []string
	for _, m := range all {
		ids = append(ids, m.ID)
	}
	got := pages(t, 4, func(m *keyward.Membership) string { return m.ID },
		func(after string, limit int) ([]*keyward.Membership, error) {
			return s.ListMemberships(ctx, keyward.MembershipFilter{AccountID: a.ID, After: after, Limit: limit})
		})
	wantSame(t, "pages of 4", got, chunk(ids, 4))

	wantNone(t, "ListMemberships of an unknown account", func() (int, error) {
		got, err := s.ListMemberships(ctx, keyward.MembershipFilter{AccountID: keyward.NewID()})
		return len(got), err
	})
	wantNone(t, "ListMemberships of another account's project", func() (int, error) {
		got, err := s.ListMemberships(ctx, keyward.MembershipFilter{AccountID: a.ID, ProjectID: pb.ID})
		return len(got), err
	})
}

func testUpdateMembership(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p, other := newProject(t, s, a.ID), newProject(t, s, a.ID)
	r := newRole(t, s, a.ID)
	k := newKey(t, s, p, nil)
	m := newMembership(t, s, p, "", k.ID, viewer)
	want := *m
	want.RoleID = r.ID

	in := want
	// Every other field changes too, and UpdateMembership must leave all of them as stored.
	in.ProjectID = other.ID
	in.KeyID = newKey(t, s, p, nil).ID
	in.CreatedAt = base.Add(time.Hour)
	if err := s.UpdateMembership(ctx, &in); err != nil {
		t.Fatalf("UpdateMembership: %v", err)
	}
	got, err := s.Membership(ctx, a.ID, m.ID)
	if err != nil {
		t.Fatalf("Membership: %v", err)
	}
	wantSame(t, "Membership after UpdateMembership", got, &want)

	key, err := s.Key(ctx, a.ID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	wantSame(t, "Key's project accesses after UpdateMembership", key.ProjectAccesses, []keyward.ProjectAccess{{ProjectID: p.ID, RoleID: r.ID}})
}

func testDeleteMembership(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p1, p2 := newProject(t, s, a.ID), newProject(t, s, a.ID)
	k := newKey(t, s, p1, func(k *keyward.Key) {
		k.ProjectAccesses = sortedAccesses(
			keyward.ProjectAccess{ProjectID: p1.ID, RoleID: viewer},
			keyward.ProjectAccess{ProjectID: p2.ID, RoleID: member})
	})
	ms, err := s.ListMemberships(ctx, keyward.MembershipFilter{AccountID: a.ID, KeyID: k.ID, ProjectID: p1.ID})
	if err != nil || len(ms) != 1 {
		t.Fatalf("ListMemberships: got %v, %v; want one membership", ms, err)
	}
	if err := s.DeleteMembership(ctx, a.ID, ms[0].ID); err != nil {
		t.Fatalf("DeleteMembership: %v", err)
	}
	_, err = s.Membership(ctx, a.ID, ms[0].ID)
	wantCode(t, "Membership of the deleted membership", err, keyward.ENotFound)
	wantCode(t, "DeleteMembership again", s.DeleteMembership(ctx, a.ID, ms[0].ID), keyward.ENotFound)

	got, err := s.Key(ctx, a.ID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	wantSame(t, "Key's project accesses after DeleteMembership", got.ProjectAccesses, []keyward.ProjectAccess{{ProjectID: p2.ID, RoleID: member}})

	// The key may join the project again.
	newMembership(t, s, p1, "", k.ID, member)
}
