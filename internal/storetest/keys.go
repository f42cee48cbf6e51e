package storetest

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

func testKeyRoundTrip(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p, p2 := newProject(t, s, a.ID), newProject(t, s, a.ID)
	e := newEnvironment(t, s, p)
	u := newUser(t, s, a.ID, nil)
	r := newRole(t, s, a.ID)
	predecessor := newKey(t, s, p, nil)
	want := &keyward.Key{
		ID:            keyward.NewID(),
		AccountID:     a.ID,
		ProjectID:     p.ID,
		EnvironmentID: e.ID,
		UserID:        u.ID,
		RoleID:        r.ID,
		ProjectAccesses: sortedAccesses(
			keyward.ProjectAccess{ProjectID: p.ID, RoleID: r.ID},
			keyward.ProjectAccess{ProjectID: p2.ID, RoleID: viewer}),
		RateLimitTier: "high",
		Name:          "deploy bot",
		Prefix:        "kw_17d70fcf",
		Last4:         "Ab3x",
		Hash:          randomHash(t),
		HashScheme:    "sha256",
		Scopes:        []string{"keys:read", "projects/p1.write"},
		AllowedIPs:    []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24"), netip.MustParsePrefix("2001:db8::/32")},
		Metadata: map[string]any{
			"team":  "platform",
			"tier":  float64(3),
			"beta":  true,
			"none":  nil,
			"tags":  []any{"a", "b"},
			"owner": map[string]any{"id": "u_1", "weight": 0.5},
		},
		ExpiresAt:            at(90 * 24 * time.Hour),
		LastUsedAt:           at(time.Hour),
		CreatedAt:            base,
		RevokedAt:            at(2 * time.Hour),
		ReplacedByKeyID:      predecessor.ID,
		GraceExpiresAt:       at(3 * time.Hour),
		RotationIntervalDays: 30,
		NextRotationAt:       at(30 * 24 * time.Hour),
		RotationWebhookURL:   "https://hooks.example.com/rotate?src=keyward",
		CreatedBy:            keyward.NewID(),
		RateLimitOverride:    &keyward.RateLimit{Rate: 500, Period: time.Minute, Burst: 50, QuotaLimit: 100_000, QuotaWindow: 24 * time.Hour},
		LineageID:            predecessor.LineageID, // as a rotation would give it
	}
	// Given out of order, the accesses come back in project order.
	in := cloneKey(want)
	slices.Reverse(in.ProjectAccesses)
	if err := s.CreateKey(ctx, in); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}

	got, err := s.Key(ctx, a.ID, want.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	wantSame(t, "Key", got, want)
	wantUTC(t, "Key", got)

	got, err = s.KeyByHash(ctx, want.Hash)
	if err != nil {
		t.Fatalf("KeyByHash: %v", err)
	}
	wantSame(t, "KeyByHash", got, want)
	wantUTC(t, "KeyByHash", got)

	listed, err := s.ListKeys(ctx, keyward.KeyFilter{AccountID: a.ID, EnvironmentID: e.ID, Now: base, Limit: 10})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	wantSame(t, "ListKeys", listed, []*keyward.Key{want})
	listed, err = s.ListKeys(ctx, keyward.KeyFilter{AccountID: a.ID, UserID: u.ID, Now: base, Limit: 10})
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	wantSame(t, "ListKeys of the user", listed, []*keyward.Key{want})
}

func testKeyOptionalFieldsUnset(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	p := newProject(t, s, newAccount(t, s).ID)
	k := newKey(t, s, p, func(k *keyward.Key) {
		k.Scopes = nil
		k.Metadata = nil
		k.ProjectAccesses = []keyward.ProjectAccess{}
	})
	got, err := s.Key(ctx, p.AccountID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	want := cloneKey(k)
	want.Scopes = []string{}
	want.ProjectAccesses = nil // none reads back as nil, however it was given
	wantSame(t, "Key", got, want)
	if got.LineageID != k.ID {
		t.Errorf("Key: LineageID: got %q, want the key's own id %q", got.LineageID, k.ID)
	}
	if got.RateLimitOverride != nil {
		t.Errorf("Key: RateLimitOverride: got %+v, want nil", got.RateLimitOverride)
	}
	if got.Credits != nil {
		t.Errorf("Key: Credits: got %+v, want nil", got.Credits)
	}
	if got.Scopes == nil {
		t.Errorf("Key: Scopes: got nil, want an empty slice")
	}
	if got.Metadata != nil {
		t.Errorf("Key: Metadata: got %#v, want nil", got.Metadata)
	}
	if got.ProjectAccesses != nil {
		t.Errorf("Key: ProjectAccesses: got %#v, want nil", got.ProjectAccesses)
	}
}

// testAccountKey stores keys that belong to no project, as seed 003's account keys do.
func testAccountKey(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	u := newUser(t, s, a.ID, nil)
	projectKey := newKey(t, s, p, nil)
	want := newKey(t, s, p, func(k *keyward.Key) {
		k.ProjectID = ""
		k.Prefix = a.KeyPrefix + "_17d70fcf"
		k.UserID = u.ID
		k.RoleID = member
		k.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: p.ID, RoleID: viewer}}
	})

	got, err := s.Key(ctx, a.ID, want.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	wantSame(t, "Key", got, want)
	got, err = s.KeyByHash(ctx, want.Hash)
	if err != nil {
		t.Fatalf("KeyByHash: %v", err)
	}
	wantSame(t, "KeyByHash", got, want)

	list := func(f keyward.KeyFilter) []*keyward.Key {
		t.Helper()
		f.AccountID, f.Now, f.Limit = a.ID, base, 10
		got, err := s.ListKeys(ctx, f)
		if err != nil {
			t.Fatalf("ListKeys(%+v): %v", f, err)
		}
		return got
	}
	wantSame(t, "ListKeys, account keys only", list(keyward.KeyFilter{AccountOnly: true}), []*keyward.Key{want})
	wantSame(t, "ListKeys of the project", list(keyward.KeyFilter{ProjectID: p.ID}), []*keyward.Key{projectKey})
	wantSame(t, "ListKeys of the project, account keys only", list(keyward.KeyFilter{ProjectID: p.ID, AccountOnly: true}), []*keyward.Key(nil))

	next := nextKey(t, want, *at(time.Hour))
	old, err := s.RotateKey(ctx, a.ID, want.ID, next, at(2*time.Hour))
	if err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if old.ProjectID != "" {
		t.Errorf("RotateKey: ProjectID: got %q, want none", old.ProjectID)
	}
	got, err = s.Key(ctx, a.ID, next.ID)
	if err != nil {
		t.Fatalf("Key of the new key: %v", err)
	}
	wantSame(t, "Key of the new key", got, next)
}

// testKeyReferencesNotFound creates keys that refer to what is absent or another account's,
// and checks that nothing of them is stored.
func testKeyReferencesNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	p, other, pb := newProject(t, s, a.ID), newProject(t, s, a.ID), newProject(t, s, b.ID)
	ub := newUser(t, s, b.ID, nil)
	tests := []struct {
		name string
		edit func(k *keyward.Key)
	}{
		{"project of another account", func(k *keyward.Key) { k.ProjectID = pb.ID }},
		{"unknown project", func(k *keyward.Key) { k.ProjectID = keyward.NewID() }},
		{"environment of another project", func(k *keyward.Key) { k.EnvironmentID = newEnvironment(t, s, other).ID }},
		{"environment of another account", func(k *keyward.Key) { k.EnvironmentID = newEnvironment(t, s, pb).ID }},
		{"user of another account", func(k *keyward.Key) { k.UserID = ub.ID }},
		{"unknown user", func(k *keyward.Key) { k.UserID = keyward.NewID() }},
		{"account key of an unknown account", func(k *keyward.Key) { k.AccountID, k.ProjectID = keyward.NewID(), "" }},
		{"access to another account's project", func(k *keyward.Key) {
			k.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: p.ID, RoleID: viewer}, {ProjectID: pb.ID, RoleID: viewer}}
		}},
		{"access to an unknown project", func(k *keyward.Key) {
			k.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: keyward.NewID(), RoleID: viewer}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := keyIn(t, p)
			tt.edit(k)
			wantCode(t, "CreateKey", s.CreateKey(ctx, k), keyward.ENotFound)
			_, err := s.KeyByHash(ctx, k.Hash)
			wantCode(t, "KeyByHash of the refused key", err, keyward.ENotFound)
			wantNone(t, "ListMemberships of the refused key", func() (int, error) {
				got, err := s.ListMemberships(ctx, keyward.MembershipFilter{AccountID: a.ID, KeyID: k.ID})
				return len(got), err
			})
		})
	}
}

func testKeyAccessNamesProjectTwice(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p, other := newProject(t, s, a.ID), newProject(t, s, a.ID)
	k := keyIn(t, p)
	k.ProjectAccesses = []keyward.ProjectAccess{
		{ProjectID: p.ID, RoleID: viewer},
		{ProjectID: other.ID, RoleID: viewer},
		{ProjectID: p.ID, RoleID: member},
	}
	wantCode(t, "CreateKey", s.CreateKey(ctx, k), keyward.EConflict)
	_, err := s.Key(ctx, a.ID, k.ID)
	wantCode(t, "Key of the refused key", err, keyward.ENotFound)
	wantNone(t, "ListMemberships of the refused key", func() (int, error) {
		got, err := s.ListMemberships(ctx, keyward.MembershipFilter{AccountID: a.ID, KeyID: k.ID})
		return len(got), err
	})
}

func testKeyHashTaken(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	pa, pb := newProject(t, s, a.ID), newProject(t, s, b.ID)
	first := newKey(t, s, pa, nil)

	tests := []struct {
		name    string
		project *keyward.Project
	}{
		{"same account", pa},
		{"another account", pb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := keyIn(t, tt.project)
			k.Hash = slices.Clone(first.Hash)
			wantCode(t, "CreateKey with a taken hash", s.CreateKey(ctx, k), keyward.EConflict)
			_, err := s.Key(ctx, k.AccountID, k.ID)
			wantCode(t, "Key of the refused key", err, keyward.ENotFound)
		})
	}
	got, err := s.KeyByHash(ctx, first.Hash)
	if err != nil {
		t.Fatalf("KeyByHash: %v", err)
	}
	wantSame(t, "KeyByHash after the conflicts", got, first)
}

func testCreateKeys(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	var batch []*keyward.Key
	for i := range 3 {
		k := keyIn(t, p)
		k.Name = fmt.Sprintf("bulk %d", i)
		batch = append(batch, k)
	}
	if err := s.CreateKeys(ctx, batch); err != nil {
		t.Fatalf("CreateKeys: %v", err)
	}
	for _, k := range batch {
		got, err := s.KeyByHash(ctx, k.Hash)
		if err != nil {
			t.Fatalf("KeyByHash of a bulk key: %v", err)
		}
		wantSame(t, "a bulk key", got, k)
	}

	// One bad key refuses the whole batch: the good keys before it are not stored either.
	good, clash := keyIn(t, p), keyIn(t, p)
	clash.Hash = slices.Clone(batch[0].Hash)
	wantCode(t, "CreateKeys with a taken hash", s.CreateKeys(ctx, []*keyward.Key{good, clash}), keyward.EConflict)
	_, err := s.Key(ctx, a.ID, good.ID)
	wantCode(t, "Key of a key in the refused batch", err, keyward.ENotFound)
	if err := s.CreateKeys(ctx, nil); err != nil {
		t.Errorf("CreateKeys of none: %v", err)
	}
}

func testKeyNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	k := newKey(t, s, newProject(t, s, a.ID), nil)
	tests := []struct {
		name string
		get  func() (*keyward.Key, error)
	}{
		{"unknown id", func() (*keyward.Key, error) { return s.Key(ctx, a.ID, keyward.NewID()) }},
		{"another account's", func() (*keyward.Key, error) { return s.Key(ctx, b.ID, k.ID) }},
		{"unknown hash", func() (*keyward.Key, error) { return s.KeyByHash(ctx, randomHash(t)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.get()
			wantCode(t, "lookup", err, keyward.ENotFound)
		})
	}
}

func testListKeysPages(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	ids, createOrder := idsOutOfOrder(7)
	byID := map[string]*keyward.Key{}
	for i, id := range createOrder {
		byID[id] = newKey(t, s, p, func(k *keyward.Key) {
			k.ID = id
			k.CreatedAt = base.Add(time.Duration(i) * time.Minute)
		})
	}
	newKey(t, s, newProject(t, s, newAccount(t, s).ID), nil)

	list := func(after string, limit int) ([]*keyward.Key, error) {
		return s.ListKeys(ctx, keyward.KeyFilter{AccountID: a.ID, Now: base, After: after, Limit: limit})
	}
	id := func(k *keyward.Key) string { return k.ID }
	wantSame(t, "pages of 3", pages(t, 3, id, list), chunk(ids, 3))

	all, err := list("", 100)
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	var want []*keyward.Key
	for _, id := range ids {
		want = append(want, byID[id])
	}
	wantSame(t, "ListKeys", all, want)
}

func testListKeysFilters(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p1, p2 := newProject(t, s, a.ID), newProject(t, s, a.ID)
	e1, e2 := newEnvironment(t, s, p1), newEnvironment(t, s, p1)
	now := base.Add(24 * time.Hour)
	when := func(d time.Duration) *time.Time { t := now.Add(d); return &t }

	// Each key is named for what it is at now. The expiries and revocations exactly at now
	// check the boundary: a deadline that has arrived has passed.
	u1 := newUser(t, s, a.ID, nil)
	fixtures := []struct {
		name string
		proj *keyward.Project // nil for an account key
		env  *keyward.Environment
		edit func(k *keyward.Key)
	}{
		{"p1/e1 active", p1, e1, nil},
		{"p1/e2 active, expires later", p1, e2, func(k *keyward.Key) { k.ExpiresAt = when(time.Hour) }},
		{"p1 expired", p1, nil, func(k *keyward.Key) { k.ExpiresAt = when(-time.Hour) }},
		{"p1 expired at now", p1, nil, func(k *keyward.Key) { k.ExpiresAt = when(0) }},
		{"p1/e1 revoked", p1, e1, func(k *keyward.Key) { k.RevokedAt = when(-time.Hour) }},
		{"p1/e1 revoked, expired too", p1, e1, func(k *keyward.Key) {
			k.RevokedAt = when(-2 * time.Hour)
			k.ExpiresAt = when(-3 * time.Hour)
		}},
		{"p2 revoked at now", p2, nil, func(k *keyward.Key) { k.RevokedAt = when(0) }},
		{"p2 expired, revoked later", p2, nil, func(k *keyward.Key) {
			k.RevokedAt = when(time.Hour)
			k.ExpiresAt = when(-time.Hour)
		}},
		{"p2 active in grace", p2, nil, func(k *keyward.Key) { k.GraceExpiresAt = when(30 * time.Minute) }},
		{"p2 grace over", p2, nil, func(k *keyward.Key) { k.GraceExpiresAt = when(-time.Minute) }},
		{"account key", nil, nil, nil},
		{"account key of u1, revoked", nil, nil, func(k *keyward.Key) {
			k.UserID = u1.ID
			k.RevokedAt = when(-time.Hour)
		}},
		{"p2 key of u1", p2, nil, func(k *keyward.Key) { k.UserID = u1.ID }},
	}
	var keys []*keyward.Key
	names := map[string]string{} // key id to fixture name, for readable failures
	for _, f := range fixtures {
		proj := f.proj
		if proj == nil {
			proj = p1
		}
		k := newKey(t, s, proj, func(k *keyward.Key) {
			if f.proj == nil {
				k.ProjectID = ""
			}
			if f.env != nil {
				k.EnvironmentID = f.env.ID
			}
			if f.edit != nil {
				f.edit(k)
			}
		})
		keys = append(keys, k)
		names[k.ID] = f.name
	}
	slices.SortFunc(keys, func(x, y *keyward.Key) int { return strings.Compare(x.ID, y.ID) })
	// Another account's key that every filter would match: it must never be listed.
	newKey(t, s, newProject(t, s, newAccount(t, s).ID), nil)

	list := func(t *testing.T, f keyward.KeyFilter) []string {
		t.Helper()
		f.AccountID = a.ID
		if f.Limit == 0 {
			f.Limit = 100
		}
		got, err := s.ListKeys(ctx, f)
		if err != nil {
			t.Fatalf("ListKeys(%+v): %v", f, err)
		}
		var out []string
		for _, k := range got {
			out = append(out, names[k.ID])
		}
		return out
	}
	// inIDOrder puts fixture names in the order ListKeys must return their keys.
	inIDOrder := func(want ...string) []string {
		var out []string
		for _, k := range keys {
			if slices.Contains(want, names[k.ID]) {
				out = append(out, names[k.ID])
			}
		}
		if len(out) != len(want) {
			t.Fatalf("inIDOrder(%q): some of these name no fixture", want)
		}
		return out
	}

	tests := []struct {
		name   string
		filter keyward.KeyFilter
		want   []string
	}{
		{"everything", keyward.KeyFilter{}, inIDOrder(
			"p1/e1 active", "p1/e2 active, expires later", "p1 expired", "p1 expired at now",
			"p1/e1 revoked", "p1/e1 revoked, expired too", "p2 revoked at now",
			"p2 expired, revoked later", "p2 active in grace", "p2 grace over",
			"account key", "account key of u1, revoked", "p2 key of u1")},
		{"active", keyward.KeyFilter{Status: keyward.StatusActive}, inIDOrder(
			"p1/e1 active", "p1/e2 active, expires later", "p2 active in grace", "account key", "p2 key of u1")},
		{"revoked", keyward.KeyFilter{Status: keyward.StatusRevoked}, inIDOrder(
			"p1/e1 revoked", "p1/e1 revoked, expired too", "p2 revoked at now", "account key of u1, revoked")},
		{"expired", keyward.KeyFilter{Status: keyward.StatusExpired}, inIDOrder(
			"p1 expired", "p1 expired at now", "p2 expired, revoked later", "p2 grace over")},
		{"project", keyward.KeyFilter{ProjectID: p2.ID}, inIDOrder(
			"p2 revoked at now", "p2 expired, revoked later", "p2 active in grace", "p2 grace over", "p2 key of u1")},
		{"project, active", keyward.KeyFilter{ProjectID: p1.ID, Status: keyward.StatusActive}, inIDOrder(
			"p1/e1 active", "p1/e2 active, expires later")},
		{"environment", keyward.KeyFilter{EnvironmentID: e1.ID}, inIDOrder(
			"p1/e1 active", "p1/e1 revoked", "p1/e1 revoked, expired too")},
		{"project and environment, revoked", keyward.KeyFilter{ProjectID: p1.ID, EnvironmentID: e1.ID, Status: keyward.StatusRevoked}, inIDOrder(
			"p1/e1 revoked", "p1/e1 revoked, expired too")},
		{"environment of another project", keyward.KeyFilter{ProjectID: p2.ID, EnvironmentID: e1.ID}, nil},
		{"unused environment", keyward.KeyFilter{EnvironmentID: newEnvironment(t, s, p2).ID}, nil},
		{"user", keyward.KeyFilter{UserID: u1.ID}, inIDOrder("account key of u1, revoked", "p2 key of u1")},
		{"user, active", keyward.KeyFilter{UserID: u1.ID, Status: keyward.StatusActive}, inIDOrder("p2 key of u1")},
		{"user and project", keyward.KeyFilter{UserID: u1.ID, ProjectID: p2.ID}, inIDOrder("p2 key of u1")},
		{"user without keys", keyward.KeyFilter{UserID: newUser(t, s, a.ID, nil).ID}, nil},
		{"account keys", keyward.KeyFilter{AccountOnly: true}, inIDOrder("account key", "account key of u1, revoked")},
		{"account keys, revoked", keyward.KeyFilter{AccountOnly: true, Status: keyward.StatusRevoked}, inIDOrder("account key of u1, revoked")},
		{"account keys of a project", keyward.KeyFilter{AccountOnly: true, ProjectID: p1.ID}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.filter.Now = now
			wantSame(t, "ListKeys", list(t, tt.filter), tt.want)
		})
	}

	// At every moment, each status lists exactly the keys that Key.Status gives it.
	for _, moment := range []time.Duration{-4 * time.Hour, -90 * time.Minute, 0, 45 * time.Minute, 2 * time.Hour} {
		for _, status := range []keyward.Status{keyward.StatusActive, keyward.StatusRevoked, keyward.StatusExpired} {
			offset := moment.String()
			if moment >= 0 {
				offset = "+" + offset
			}
			t.Run(fmt.Sprintf("%s at now%s", status, offset), func(t *testing.T) {
				instant := now.Add(moment)
				var want []string
				for _, k := range keys {
					if k.Status(instant) == status {
						want = append(want, names[k.ID])
					}
				}
				wantSame(t, "ListKeys", list(t, keyward.KeyFilter{Status: status, Now: instant}), want)
			})
		}
	}

	t.Run("pages of a filtered listing", func(t *testing.T) {
		var want []string
		for _, k := range keys {
			if k.Status(now) == keyward.StatusExpired {
				want = append(want, k.ID)
			}
		}
		got := pages(t, 3, func(k *keyward.Key) string { return k.ID },
			func(after string, limit int) ([]*keyward.Key, error) {
				return s.ListKeys(ctx, keyward.KeyFilter{AccountID: a.ID, Status: keyward.StatusExpired, Now: now, After: after, Limit: limit})
			})
		wantSame(t, "pages of 3", got, chunk(want, 3))
	})
}

func testUpdateKey(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p, other := newProject(t, s, a.ID), newProject(t, s, a.ID)
	e := newEnvironment(t, s, p)
	u, otherUser := newUser(t, s, a.ID, nil), newUser(t, s, a.ID, nil)
	r := newRole(t, s, a.ID)
	predecessor := newKey(t, s, p, nil)
	full := func(k *keyward.Key) {
		k.EnvironmentID = e.ID
		k.UserID = u.ID
		k.RoleID = r.ID
		k.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: p.ID, RoleID: r.ID}}
		k.RateLimitTier = "standard"
		k.Name = "before"
		k.Scopes = []string{"read"}
		k.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		k.Metadata = map[string]any{"v": float64(1)}
		k.ExpiresAt = at(48 * time.Hour)
		k.LastUsedAt = at(time.Hour)
		k.GraceExpiresAt = at(72 * time.Hour)
		k.ReplacedByKeyID = predecessor.ID
		k.RotationIntervalDays = 7
		k.NextRotationAt = at(7 * 24 * time.Hour)
		k.RotationWebhookURL = "https://hooks.example.com/before"
		k.CreatedBy = "admin-1"
		k.RateLimitOverride = &keyward.RateLimit{Rate: 10, Period: time.Second, Burst: 10}
	}

	tests := []struct {
		name    string
		mutable func(k *keyward.Key) // what UpdateKey must write
	}{
		{"change every mutable field", func(k *keyward.Key) {
			k.Name = "after"
			k.Scopes = []string{"write", "admin"}
			k.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("::1/128")}
			k.Metadata = map[string]any{"v": float64(2), "new": "yes"}
			k.ExpiresAt = at(96 * time.Hour)
			k.RotationIntervalDays = 30
			k.NextRotationAt = at(30 * 24 * time.Hour)
			k.RotationWebhookURL = "https://hooks.example.com/after"
			k.RoleID = viewer
			k.RateLimitTier = "high"
			k.RateLimitOverride = &keyward.RateLimit{Rate: 60, Period: time.Minute, Burst: 5,
				QuotaLimit: 1000, QuotaWindow: time.Hour}
		}},
		{"clear every optional mutable field", func(k *keyward.Key) {
			k.RoleID = ""
			k.Scopes = []string{}
			k.AllowedIPs = nil
			k.Metadata = nil
			k.ExpiresAt = nil
			k.RotationIntervalDays = 0
			k.NextRotationAt = nil
			k.RotationWebhookURL = ""
			k.RateLimitOverride = nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKey(t, s, p, full)
			credits := &keyward.Credits{Remaining: 7, Version: 1}
			if err := s.SetCredits(ctx, a.ID, k.LineageID, credits); err != nil {
				t.Fatalf("SetCredits: %v", err)
			}
			k.Credits = credits
			want := cloneKey(k)
			tt.mutable(want)

			in := cloneKey(want)
			// Every other field changes too, and UpdateKey must leave all of them as stored.
			in.ProjectID = other.ID
			in.EnvironmentID = ""
			in.Prefix = "kw_changed0"
			in.Last4 = "zzzz"
			in.Hash = randomHash(t)
			in.HashScheme = "changed"
			in.LastUsedAt = at(5 * time.Hour)
			in.CreatedAt = base.Add(time.Minute)
			in.RevokedAt = at(time.Minute)
			in.ReplacedByKeyID = ""
			in.GraceExpiresAt = nil
			in.CreatedBy = "someone else"
			in.UserID = otherUser.ID
			in.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: other.ID, RoleID: viewer}}
			in.LineageID = predecessor.LineageID
			in.Credits = &keyward.Credits{Remaining: 1000, Version: 2}
			if err := s.UpdateKey(ctx, in); err != nil {
				t.Fatalf("UpdateKey: %v", err)
			}
			got, err := s.Key(ctx, a.ID, k.ID)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			wantSame(t, "Key after UpdateKey", got, want)
		})
	}
}

// testUpdateKeyKeepsRevocation updates from a copy read before a revocation, as a request
// racing a revoke does: the revocation stands.
func testUpdateKeyKeepsRevocation(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	p := newProject(t, s, newAccount(t, s).ID)
	stale := newKey(t, s, p, nil)
	revoked, err := s.RevokeKey(ctx, p.AccountID, stale.ID, *at(time.Hour))
	if err != nil {
		t.Fatalf("RevokeKey: %v", err)
	}
	stale.Name = "renamed"
	if err := s.UpdateKey(ctx, stale); err != nil {
		t.Fatalf("UpdateKey: %v", err)
	}
	got, err := s.Key(ctx, p.AccountID, stale.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	want := cloneKey(revoked)
	want.Name = "renamed"
	wantSame(t, "Key after UpdateKey", got, want)
}

func testUpdateKeyNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	k := newKey(t, s, newProject(t, s, a.ID), nil)
	tests := []struct {
		name      string
		accountID string
		id        string
	}{
		{"unknown id", a.ID, keyward.NewID()},
		{"another account's", b.ID, k.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := cloneKey(k)
			in.AccountID, in.ID, in.Name = tt.accountID, tt.id, "changed"
			wantCode(t, "UpdateKey", s.UpdateKey(ctx, in), keyward.ENotFound)
		})
	}
	got, err := s.Key(ctx, a.ID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	wantSame(t, "Key after the refused updates", got, k)
}

func testRevokeKey(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	p := newProject(t, s, newAccount(t, s).ID)
	k := newKey(t, s, p, func(k *keyward.Key) {
		k.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: p.ID, RoleID: viewer}}
	})
	want := cloneKey(k)
	want.RevokedAt = at(time.Hour)

	// The second revocation, later, changes nothing: the first time stands.
	for i, when := range []time.Time{*at(time.Hour), *at(2 * time.Hour)} {
		got, err := s.RevokeKey(ctx, p.AccountID, k.ID, when)
		if err != nil {
			t.Fatalf("RevokeKey #%d: %v", i+1, err)
		}
		wantSame(t, fmt.Sprintf("RevokeKey #%d", i+1), got, want)
		wantUTC(t, fmt.Sprintf("RevokeKey #%d", i+1), got)
	}
	got, err := s.Key(ctx, p.AccountID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	wantSame(t, "Key after RevokeKey", got, want)
}

func testRevokeKeyNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	k := newKey(t, s, newProject(t, s, a.ID), nil)
	tests := []struct {
		name, accountID, id string
	}{
		{"unknown id", a.ID, keyward.NewID()},
		{"another account's", b.ID, k.ID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.RevokeKey(ctx, tt.accountID, tt.id, base)
			wantCode(t, "RevokeKey", err, keyward.ENotFound)
		})
	}
	got, err := s.Key(ctx, a.ID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	wantSame(t, "Key after the refused revocations", got, k)
}

func testRotateKey(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	p := newProject(t, s, newAccount(t, s).ID)
	e := newEnvironment(t, s, p)
	rotatedAt := *at(time.Hour)

	tests := []struct {
		name       string
		graceUntil *time.Time
		old        func(old, next *keyward.Key) // how the old key must end up
	}{
		{"with grace", at(25 * time.Hour), func(old, next *keyward.Key) {
			old.ReplacedByKeyID = next.ID
			old.GraceExpiresAt = at(25 * time.Hour)
		}},
		{"without grace", nil, func(old, next *keyward.Key) {
			old.ReplacedByKeyID = next.ID
			old.RevokedAt = &next.CreatedAt
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := newKey(t, s, p, func(k *keyward.Key) {
				k.EnvironmentID = e.ID
				k.Metadata = map[string]any{"team": "platform"}
				k.ExpiresAt = at(48 * time.Hour)
				k.LastUsedAt = at(time.Minute)
				k.RotationIntervalDays = 30
				k.NextRotationAt = at(30 * 24 * time.Hour)
				k.RotationWebhookURL = "https://hooks.example.com/rotate"
			})
			next := nextKey(t, old, rotatedAt)
			next.ExpiresAt = at(49 * time.Hour)
			next.NextRotationAt = at(31 * 24 * time.Hour)
			wantOld := cloneKey(old)
			tt.old(wantOld, next)

			got, err := s.RotateKey(ctx, p.AccountID, old.ID, next, tt.graceUntil)
			if err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
			wantSame(t, "RotateKey", got, wantOld)
			wantUTC(t, "RotateKey", got)

			got, err = s.Key(ctx, p.AccountID, old.ID)
			if err != nil {
				t.Fatalf("Key of the old key: %v", err)
			}
			wantSame(t, "Key of the old key", got, wantOld)
			got, err = s.KeyByHash(ctx, next.Hash)
			if err != nil {
				t.Fatalf("KeyByHash of the new key: %v", err)
			}
			wantSame(t, "KeyByHash of the new key", got, next)
		})
	}
}

func testRotateKeyRefused(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	p, pb := newProject(t, s, a.ID), newProject(t, s, b.ID)
	taken := newKey(t, s, p, nil)

	tests := []struct {
		name      string
		accountID string
		missing   bool                               // rotate an id that no key has
		setup     func(t *testing.T, k *keyward.Key) // brings the key to the state under test
		edit      func(next *keyward.Key)
		want      keyward.Code
	}{
		{name: "revoked", accountID: a.ID, want: keyward.EConflict,
			setup: func(t *testing.T, k *keyward.Key) {
				if _, err := s.RevokeKey(ctx, a.ID, k.ID, base); err != nil {
					t.Fatalf("RevokeKey: %v", err)
				}
			}},
		{name: "rotated with grace", accountID: a.ID, want: keyward.EConflict,
			setup: func(t *testing.T, k *keyward.Key) {
				if _, err := s.RotateKey(ctx, a.ID, k.ID, nextKey(t, k, base), at(time.Hour)); err != nil {
					t.Fatalf("RotateKey: %v", err)
				}
			}},
		{name: "rotated without grace", accountID: a.ID, want: keyward.EConflict,
			setup: func(t *testing.T, k *keyward.Key) {
				if _, err := s.RotateKey(ctx, a.ID, k.ID, nextKey(t, k, base), nil); err != nil {
					t.Fatalf("RotateKey: %v", err)
				}
			}},
		{name: "new key's hash taken", accountID: a.ID, want: keyward.EConflict,
			edit: func(next *keyward.Key) { next.Hash = slices.Clone(taken.Hash) }},
		{name: "new key's access to another account's project", accountID: a.ID, want: keyward.ENotFound,
			edit: func(next *keyward.Key) {
				next.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: pb.ID, RoleID: viewer}}
			}},
		{name: "new key's accesses name a project twice", accountID: a.ID, want: keyward.EConflict,
			edit: func(next *keyward.Key) {
				next.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: p.ID, RoleID: viewer}, {ProjectID: p.ID, RoleID: member}}
			}},
		{name: "missing", accountID: a.ID, missing: true, want: keyward.ENotFound},
		{name: "another account's", accountID: b.ID, want: keyward.ENotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKey(t, s, p, nil)
			if tt.setup != nil {
				tt.setup(t, k)
			}
			before, err := s.Key(ctx, a.ID, k.ID)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			oldID := k.ID
			if tt.missing {
				oldID = keyward.NewID()
			}
			next := nextKey(t, k, *at(time.Hour))
			if tt.edit != nil {
				tt.edit(next)
			}

			_, err = s.RotateKey(ctx, tt.accountID, oldID, next, at(2*time.Hour))
			wantCode(t, "RotateKey", err, tt.want)

			// A refused rotation changes nothing: the old key is as it was, the new one
			// does not exist.
			got, err := s.Key(ctx, a.ID, k.ID)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			wantSame(t, "Key after the refused rotation", got, before)
			_, err = s.Key(ctx, a.ID, next.ID)
			wantCode(t, "Key of the refused new key", err, keyward.ENotFound)
		})
	}
}

// testRotateKeyConcurrently races two rotations of one key, many times over: exactly one
// may win, or a key would have two successors.
func testRotateKeyConcurrently(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	p := newProject(t, s, newAccount(t, s).ID)
	for round := range 20 {
		old := newKey(t, s, p, nil)
		var (
			nexts = [2]*keyward.Key{nextKey(t, old, *at(time.Hour)), nextKey(t, old, *at(time.Hour))}
			errs  [2]error
			start = make(chan struct{})
			wg    sync.WaitGroup
		)
		for i := range nexts {
			wg.Go(func() {
				<-start
				_, errs[i] = s.RotateKey(ctx, p.AccountID, old.ID, nexts[i], at(2*time.Hour))
			})
		}
		close(start)
		wg.Wait()

		var winner, loser int
		switch {
		case errs[0] == nil && errs[1] != nil:
			winner, loser = 0, 1
		case errs[1] == nil && errs[0] != nil:
			winner, loser = 1, 0
		default:
			t.Fatalf("round %d: got errors %v and %v, want exactly one nil", round, errs[0], errs[1])
		}
		wantCode(t, fmt.Sprintf("round %d: the losing rotation", round), errs[loser], keyward.EConflict)

		got, err := s.Key(ctx, p.AccountID, old.ID)
		if err != nil {
			t.Fatalf("round %d: Key: %v", round, err)
		}
		if got.ReplacedByKeyID != nexts[winner].ID {
			t.Errorf("round %d: ReplacedByKeyID: got %q, want the winner's %q", round, got.ReplacedByKeyID, nexts[winner].ID)
		}
		_, err = s.KeyByHash(ctx, nexts[loser].Hash)
		wantCode(t, fmt.Sprintf("round %d: KeyByHash of the losing new key", round), err, keyward.ENotFound)
	}
}

func testTouchKeys(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	pa := newProject(t, s, newAccount(t, s).ID)
	pb := newProject(t, s, newAccount(t, s).ID)
	never := newKey(t, s, pa, nil)
	used := newKey(t, s, pa, func(k *keyward.Key) { k.LastUsedAt = at(5 * time.Minute) })
	elsewhere := newKey(t, s, pb, nil)

	steps := []struct {
		name string
		uses []keyward.KeyUse
		want map[*keyward.Key]*time.Time // the keys' last use after the step
	}{
		{"empty batch", nil, map[*keyward.Key]*time.Time{
			never: nil, used: at(5 * time.Minute), elsewhere: nil,
		}},
		{"batch across accounts, out of order, with an unknown key", []keyward.KeyUse{
			{KeyID: never.ID, At: *at(3 * time.Minute)},
			{KeyID: used.ID, At: *at(2 * time.Minute)}, // older than its last use: ignored
			{KeyID: keyward.NewID(), At: *at(9 * time.Minute)},
			{KeyID: never.ID, At: *at(time.Minute)}, // older than the batch's first use of it
			{KeyID: elsewhere.ID, At: *at(4 * time.Minute)},
		}, map[*keyward.Key]*time.Time{
			never: at(3 * time.Minute), used: at(5 * time.Minute), elsewhere: at(4 * time.Minute),
		}},
		{"later uses", []keyward.KeyUse{
			{KeyID: used.ID, At: *at(7 * time.Minute)},
			{KeyID: never.ID, At: *at(3 * time.Minute)}, // the same time again
		}, map[*keyward.Key]*time.Time{
			never: at(3 * time.Minute), used: at(7 * time.Minute), elsewhere: at(4 * time.Minute),
		}},
	}
	for _, step := range steps {
		if err := s.TouchKeys(ctx, step.uses); err != nil {
			t.Fatalf("%s: TouchKeys: %v", step.name, err)
		}
		for k, lastUsed := range step.want {
			got, err := s.Key(ctx, k.AccountID, k.ID)
			if err != nil {
				t.Fatalf("%s: Key: %v", step.name, err)
			}
			want := cloneKey(k)
			want.LastUsedAt = lastUsed
			wantSame(t, step.name+": Key", got, want)
		}
	}
}

// testTouchKeysMany touches more keys in one call than a store may in one statement (SQLite
// writes 200 to a statement), each at its own time, and reads every one back.
func testTouchKeysMany(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	p := newProject(t, s, newAccount(t, s).ID)
	keys := make([]*keyward.Key, 250)
	uses := make([]keyward.KeyUse, len(keys))
	for i := range keys {
		keys[i] = newKey(t, s, p, nil)
		uses[i] = keyward.KeyUse{KeyID: keys[i].ID, At: *at(time.Duration(i+1) * time.Second)}
	}
	if err := s.TouchKeys(ctx, uses); err != nil {
		t.Fatalf("TouchKeys: %v", err)
	}
	for i, k := range keys {
		got, err := s.Key(ctx, k.AccountID, k.ID)
		if err != nil {
			t.Fatalf("Key: %v", err)
		}
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(uses[i].At) {
			t.Errorf("key %d: last_used_at = %v, want %v", i, got.LastUsedAt, uses[i].At)
		}
	}
}

// testListKeysProjectAccesses lists keys with and without project accesses, in pages, and
// checks that each key gets its own.
func testListKeysProjectAccesses(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p1, p2, p3 := newProject(t, s, a.ID), newProject(t, s, a.ID), newProject(t, s, a.ID)
	r := newRole(t, s, a.ID)
	accesses := [][]keyward.ProjectAccess{
		nil,
		{{ProjectID: p1.ID, RoleID: viewer}},
		sortedAccesses(
			keyward.ProjectAccess{ProjectID: p1.ID, RoleID: r.ID},
			keyward.ProjectAccess{ProjectID: p2.ID, RoleID: member},
			keyward.ProjectAccess{ProjectID: p3.ID, RoleID: viewer}),
		nil,
		{{ProjectID: p3.ID, RoleID: r.ID}},
	}
	ids, _ := idsOutOfOrder(len(accesses))
	var want []*keyward.Key
	for i, pas := range accesses {
		want = append(want, newKey(t, s, p1, func(k *keyward.Key) {
			k.ID = ids[i]
			k.ProjectAccesses = pas
		}))
	}
	// Another account's key with an access, which must not leak into a's listing.
	pb := newProject(t, s, newAccount(t, s).ID)
	newKey(t, s, pb, func(k *keyward.Key) { k.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: pb.ID, RoleID: viewer}} })

	var got []*keyward.Key
	after := ""
	for {
		page, err := s.ListKeys(ctx, keyward.KeyFilter{AccountID: a.ID, Now: base, After: after, Limit: 2})
		if err != nil {
			t.Fatalf("ListKeys: %v", err)
		}
		got = append(got, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	wantSame(t, "ListKeys in pages of 2", got, want)
}

// testRotateKeyCopiesAccesses rotates keys with project accesses: the new key has the accesses
// it was given, and the old one keeps its own.
func testRotateKeyCopiesAccesses(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p1, p2 := newProject(t, s, a.ID), newProject(t, s, a.ID)
	u := newUser(t, s, a.ID, nil)
	r := newRole(t, s, a.ID)
	both := sortedAccesses(
		keyward.ProjectAccess{ProjectID: p1.ID, RoleID: r.ID},
		keyward.ProjectAccess{ProjectID: p2.ID, RoleID: viewer})

	tests := []struct {
		name string
		edit func(next *keyward.Key) // how next differs from a copy of the old key
	}{
		{"the same accesses", nil},
		{"fewer accesses", func(next *keyward.Key) { next.ProjectAccesses = both[1:] }},
		{"none", func(next *keyward.Key) { next.ProjectAccesses = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := newKey(t, s, p1, func(k *keyward.Key) {
				k.UserID = u.ID
				k.RoleID = r.ID
				k.RateLimitTier = "high"
				k.ProjectAccesses = both
			})
			next := nextKey(t, old, *at(time.Hour))
			if tt.edit != nil {
				tt.edit(next)
			}
			wantOld := cloneKey(old)
			wantOld.ReplacedByKeyID = next.ID
			wantOld.GraceExpiresAt = at(2 * time.Hour)

			got, err := s.RotateKey(ctx, a.ID, old.ID, next, at(2*time.Hour))
			if err != nil {
				t.Fatalf("RotateKey: %v", err)
			}
			wantSame(t, "RotateKey", got, wantOld)
			got, err = s.Key(ctx, a.ID, old.ID)
			if err != nil {
				t.Fatalf("Key of the old key: %v", err)
			}
			wantSame(t, "Key of the old key", got, wantOld)
			got, err = s.KeyByHash(ctx, next.Hash)
			if err != nil {
				t.Fatalf("KeyByHash of the new key: %v", err)
			}
			wantSame(t, "KeyByHash of the new key", got, next)

			// The new key's memberships are its own, made when it was.
			ms, err := s.ListMemberships(ctx, keyward.MembershipFilter{AccountID: a.ID, KeyID: next.ID})
			if err != nil {
				t.Fatalf("ListMemberships: %v", err)
			}
			if len(ms) != len(next.ProjectAccesses) {
				t.Fatalf("ListMemberships of the new key: got %d, want %d", len(ms), len(next.ProjectAccesses))
			}
			for _, m := range ms {
				if m.CreatedAt != next.CreatedAt || m.AccountID != a.ID {
					t.Errorf("membership of the new key: got created %v in account %s, want %v in %s", m.CreatedAt, m.AccountID, next.CreatedAt, a.ID)
				}
			}
		})
	}
}
