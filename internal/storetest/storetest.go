// Package storetest is the conformance suite for keyward.Store. Every store runs it against
// a real database, so that all of them keep the promises the interface's doc comments make
// and the rest of Keyward can be written against the interface alone.
package storetest

import (
	"crypto/rand"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/keyward"
)

// Run runs the conformance suite, one subtest per promise. open is called once per subtest
// and returns a working, migrated store; Run closes it when the subtest ends. The store need
// not be empty: every subtest works in accounts it creates under unique names, and counts
// across accounts only relative to what it found, so a store may share one database.
func Run(t *testing.T, open func(t *testing.T) keyward.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s keyward.Store)
	}{
		{"UnitCommits", testUnitCommits},
		{"UnitRollsBack", testUnitRollsBack},
		{"UnitFailedWrite", testUnitFailedWrite},
		{"UnitNested", testUnitNested},
		{"UnitsSerialise", testUnitsSerialise},
		{"UnitReachesEveryPart", testUnitReachesEveryPart},

		{"AccountRoundTrip", testAccountRoundTrip},
		{"AccountNameTaken", testAccountNameTaken},
		{"AccountNotFound", testAccountNotFound},
		{"ListAccounts", testListAccounts},
		{"UpdateAccount", testUpdateAccount},
		{"UpdateAccountRefused", testUpdateAccountRefused},

		{"ProjectRoundTrip", testProjectRoundTrip},
		{"ProjectNameTaken", testProjectNameTaken},
		{"ProjectNotFound", testProjectNotFound},
		{"ListProjects", testListProjects},
		{"EnvironmentRoundTrip", testEnvironmentRoundTrip},
		{"EnvironmentNameTaken", testEnvironmentNameTaken},
		{"EnvironmentNotFound", testEnvironmentNotFound},
		{"ListEnvironments", testListEnvironments},

		{"KeyRoundTrip", testKeyRoundTrip},
		{"KeyOptionalFieldsUnset", testKeyOptionalFieldsUnset},
		{"AccountKey", testAccountKey},
		{"KeyReferencesNotFound", testKeyReferencesNotFound},
		{"KeyAccessNamesProjectTwice", testKeyAccessNamesProjectTwice},
		{"KeyHashTaken", testKeyHashTaken},
		{"CreateKeys", testCreateKeys},
		{"KeyNotFound", testKeyNotFound},
		{"ListKeysPages", testListKeysPages},
		{"ListKeysFilters", testListKeysFilters},
		{"ListKeysProjectAccesses", testListKeysProjectAccesses},
		{"UpdateKey", testUpdateKey},
		{"UpdateKeyKeepsRevocation", testUpdateKeyKeepsRevocation},
		{"UpdateKeyNotFound", testUpdateKeyNotFound},
		{"RevokeKey", testRevokeKey},
		{"RevokeKeyNotFound", testRevokeKeyNotFound},
		{"RotateKey", testRotateKey},
		{"RotateKeyRefused", testRotateKeyRefused},
		{"RotateKeyConcurrently", testRotateKeyConcurrently},
		{"RotateKeyCopiesAccesses", testRotateKeyCopiesAccesses},
		{"TouchKeys", testTouchKeys},
		{"TouchKeysMany", testTouchKeysMany},
		{"KeyLineage", testKeyLineage},
		{"KeyRateLimitOverride", testKeyRateLimitOverride},

		{"SetCredits", testSetCredits},
		{"SetCreditsNotFound", testSetCreditsNotFound},
		{"SpendCredits", testSpendCredits},
		{"SpendCreditsNotFound", testSpendCreditsNotFound},
		{"SpendCreditsConcurrently", testSpendCreditsConcurrently},
		{"MirrorCredits", testMirrorCredits},

		{"AdminKeyRoundTrip", testAdminKeyRoundTrip},
		{"BootstrapAdminKey", testBootstrapAdminKey},
		{"RevokeAdminKey", testRevokeAdminKey},
		{"AdminKeyHashTaken", testAdminKeyHashTaken},
		{"AdminKeyNotFound", testAdminKeyNotFound},
		{"CountAdminKeys", testCountAdminKeys},

		{"UserRoundTrip", testUserRoundTrip},
		{"UserOptionalFieldsUnset", testUserOptionalFieldsUnset},
		{"UserSubjectTaken", testUserSubjectTaken},
		{"UserNotFound", testUserNotFound},
		{"ListUsers", testListUsers},
		{"UpdateUser", testUpdateUser},

		{"RoleRoundTrip", testRoleRoundTrip},
		{"RoleSlugTaken", testRoleSlugTaken},
		{"RoleNotFound", testRoleNotFound},
		{"ListRoles", testListRoles},
		{"UpdateRole", testUpdateRole},
		{"DeleteRole", testDeleteRole},
		{"DeleteRoleWhileHeld", testDeleteRoleWhileHeld},

		{"MembershipRoundTrip", testMembershipRoundTrip},
		{"MembershipTaken", testMembershipTaken},
		{"MembershipReferencesNotFound", testMembershipReferencesNotFound},
		{"MembershipNotFound", testMembershipNotFound},
		{"ListMemberships", testListMemberships},
		{"UpdateMembership", testUpdateMembership},
		{"DeleteMembership", testDeleteMembership},

		{"AuditRoundTrip", testAuditRoundTrip},
		{"ListAuditEvents", testListAuditEvents},
		{"ListAuditEventsPages", testListAuditEventsPages},
		{"AuditAccountIDs", testAuditAccountIDs},

		{"SigningKeyRoundTrip", testSigningKeyRoundTrip},
		{"SigningKeyGenerationTaken", testSigningKeyGenerationTaken},
		{"TokenDenials", testTokenDenials},
		{"PruneTokenDenials", testPruneTokenDenials},

		{"RateLimitTierRoundTrip", testRateLimitTierRoundTrip},
		{"RateLimitTierTaken", testRateLimitTierTaken},
		{"RateLimitTierNotFound", testRateLimitTierNotFound},
		{"ListRateLimitTiers", testListRateLimitTiers},
		{"UpdateRateLimitTier", testUpdateRateLimitTier},
		{"TierRequestRoundTrip", testTierRequestRoundTrip},
		{"TierRequestNotFound", testTierRequestNotFound},
		{"ListTierRequests", testListTierRequests},
		{"DecideTierRequest", testDecideTierRequest},
		{"DecideTierRequestRefused", testDecideTierRequestRefused},
		{"DecideTierRequestConcurrently", testDecideTierRequestConcurrently},

		{"AddUsageSums", testAddUsageSums},
		{"AddUsageDropsUnknownKeys", testAddUsageDropsUnknownKeys},
		{"AddUsageMany", testAddUsageMany},
		{"UsageBuckets", testUsageBuckets},
		{"UsageFilters", testUsageFilters},
		{"PruneUsage", testPruneUsage},
		{"ListUsageCounts", testListUsageCounts},

		{"Inventory", testInventory},

		{"OutboxRoundTrip", testOutboxRoundTrip},
		{"OutboxList", testListOutbox},
		{"OutboxClaimDue", testOutboxClaimDue},
		{"OutboxClaimOrder", testOutboxClaimOrder},
		{"OutboxClaimLeased", testOutboxClaimLeased},
		{"OutboxLeaseExpires", testOutboxLeaseExpires},
		{"OutboxClaimConcurrently", testOutboxClaimConcurrently},
		{"OutboxFinish", testOutboxFinish},
		{"OutboxFinishRefused", testOutboxFinishRefused},
		{"OutboxRetry", testOutboxRetry},
		{"OutboxPrune", testOutboxPrune},
		{"OutboxOtherAccount", testOutboxOtherAccount},
		{"OutboxInUnit", testOutboxInUnit},
	}
	tests = append(tests, webhookTests...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.run(t, s)
		})
	}
}

// base is the suite's reference time: UTC at microsecond precision, as stores keep times,
// and with a fraction of a second so that a store that drops it is caught.
var base = time.Date(2030, time.March, 14, 15, 9, 26, 535897000, time.UTC)

// at returns base moved by d, as a pointer for the optional time fields.
func at(d time.Duration) *time.Time {
	t := base.Add(d)
	return &t
}

func newAccount(t *testing.T, s keyward.Store) *keyward.Account {
	t.Helper()
	a := &keyward.Account{ID: keyward.NewID(), Name: "account " + keyward.NewID(), KeyPrefix: "kw", CreatedAt: base}
	if err := s.CreateAccount(t.Context(), a); err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	return a
}

func newProject(t *testing.T, s keyward.Store, accountID string) *keyward.Project {
	t.Helper()
	p := &keyward.Project{
		ID:        keyward.NewID(),
		AccountID: accountID,
		Name:      "project " + keyward.NewID(),
		KeyPrefix: "kw",
		CreatedAt: base,
	}
	if err := s.CreateProject(t.Context(), p); err != nil {
		t.Fatalf("CreateProject: %v", err)
	}
	return p
}

func newEnvironment(t *testing.T, s keyward.Store, p *keyward.Project) *keyward.Environment {
	t.Helper()
	e := &keyward.Environment{
		ID:        keyward.NewID(),
		AccountID: p.AccountID,
		ProjectID: p.ID,
		Name:      "environment " + keyward.NewID(),
		CreatedAt: base,
	}
	if err := s.CreateEnvironment(t.Context(), e); err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	return e
}

// keyIn returns a key of the project with the required fields set, not yet stored.
func keyIn(t *testing.T, p *keyward.Project) *keyward.Key {
	t.Helper()
	return &keyward.Key{
		ID:            keyward.NewID(),
		AccountID:     p.AccountID,
		ProjectID:     p.ID,
		Name:          "key",
		Prefix:        p.KeyPrefix + "_17d70fcf",
		Last4:         "x9Zq",
		Hash:          randomHash(t),
		HashScheme:    "hmac-sha256:1",
		Scopes:        []string{"read"},
		RateLimitTier: "standard",
		CreatedAt:     base,
	}
}

// newKey stores a key of the project, first letting edit change it (edit may be nil).
func newKey(t *testing.T, s keyward.Store, p *keyward.Project, edit func(k *keyward.Key)) *keyward.Key {
	t.Helper()
	k := keyIn(t, p)
	if edit != nil {
		edit(k)
	}
	if err := s.CreateKey(t.Context(), k); err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return k
}

// nextKey returns the key that would replace old in a rotation, not yet stored.
func nextKey(t *testing.T, old *keyward.Key, createdAt time.Time) *keyward.Key {
	t.Helper()
	next := cloneKey(old)
	next.ID = keyward.NewID()
	next.Hash = randomHash(t)
	next.Last4 = "n3Xt"
	next.CreatedAt = createdAt
	next.LastUsedAt = nil
	next.RevokedAt = nil
	next.ReplacedByKeyID = ""
	next.GraceExpiresAt = nil
	return next
}

// newUser stores a user of the account, first letting edit change it (edit may be nil).
func newUser(t *testing.T, s keyward.Store, accountID string, edit func(u *keyward.User)) *keyward.User {
	t.Helper()
	u := &keyward.User{
		ID:        keyward.NewID(),
		AccountID: accountID,
		Issuer:    "https://issuer.example.com",
		Subject:   "subject " + keyward.NewID(),
		Email:     "ada@example.com",
		Name:      "Ada",
		RoleID:    viewer,
		CreatedAt: base,
	}
	if edit != nil {
		edit(u)
	}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

// newRole stores a custom role of the account.
func newRole(t *testing.T, s keyward.Store, accountID string) *keyward.Role {
	t.Helper()
	r := &keyward.Role{
		ID:          keyward.NewID(),
		AccountID:   accountID,
		Name:        "Deployer",
		Slug:        "deployer-" + keyward.NewID(),
		Description: "Rotates keys.",
		Permissions: keyward.Permissions{"api_keys.read", "api_keys.rotate"},
		CreatedAt:   base,
	}
	if err := s.CreateRole(t.Context(), r); err != nil {
		t.Fatalf("CreateRole: %v", err)
	}
	return r
}

// newMembership stores a membership of the project for the user or the key (give one id,
// leave the other "").
func newMembership(t *testing.T, s keyward.Store, p *keyward.Project, userID, keyID, roleID string) *keyward.Membership {
	t.Helper()
	m := &keyward.Membership{
		ID:        keyward.NewID(),
		AccountID: p.AccountID,
		ProjectID: p.ID,
		UserID:    userID,
		KeyID:     keyID,
		RoleID:    roleID,
		CreatedAt: base,
	}
	if err := s.CreateMembership(t.Context(), m); err != nil {
		t.Fatalf("CreateMembership: %v", err)
	}
	return m
}

// Built-in role ids, which stores keep in role columns like any other but do not store as
// roles.
var (
	viewer = keyward.BuiltInRole(keyward.RoleViewer).ID
	member = keyward.BuiltInRole(keyward.RoleMember).ID
)

// sortedAccesses returns the accesses ordered by project id, as stores return them.
func sortedAccesses(pas ...keyward.ProjectAccess) []keyward.ProjectAccess {
	out := slices.Clone(pas)
	slices.SortFunc(out, func(x, y keyward.ProjectAccess) int { return strings.Compare(x.ProjectID, y.ProjectID) })
	return out
}

func randomHash(t *testing.T) []byte {
	t.Helper()
	h := make([]byte, 32)
	if _, err := rand.Read(h); err != nil {
		t.Fatalf("rand.Read: %v", err)
	}
	return h
}

// cloneKey copies k deeply enough that changing the copy's fields, slices, map entries or
// times leaves k as it was.
func cloneKey(k *keyward.Key) *keyward.Key {
	c := *k
	c.Hash = slices.Clone(k.Hash)
	c.Scopes = slices.Clone(k.Scopes)
	c.Metadata = maps.Clone(k.Metadata)
	c.ProjectAccesses = slices.Clone(k.ProjectAccesses)
	if k.RateLimitOverride != nil {
		l := *k.RateLimitOverride
		c.RateLimitOverride = &l
	}
	c.Credits = cloneCredits(k.Credits)
	for _, p := range []**time.Time{&c.ExpiresAt, &c.LastUsedAt, &c.RevokedAt, &c.GraceExpiresAt, &c.NextRotationAt} {
		if *p != nil {
			t := **p
			*p = &t
		}
	}
	return &c
}

// cloneCredits copies c deeply; nil stays nil.
func cloneCredits(c *keyward.Credits) *keyward.Credits {
	if c == nil {
		return nil
	}
	out := *c
	if c.Refill != nil {
		r := *c.Refill
		out.Refill = &r
	}
	return &out
}

// wantCode fails the test unless err carries the code.
func wantCode(t *testing.T, what string, err error, code keyward.Code) {
	t.Helper()
	if got := keyward.ErrorCode(err); got != code {
		t.Errorf("%s: got error %v (code %q), want code %q", what, err, got, code)
	}
}

// wantSame fails the test with a diff unless got equals want.
func wantSame(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpPrefixes); d != "" {
		t.Errorf("%s: mismatch (-want +got):\n%s", what, d)
	}
}

// cmpPrefixes compares networks by value: netip.Prefix keeps its fields unexported.
var cmpPrefixes = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })

// wantUTC fails the test unless every time the key holds is in UTC, as the Store interface
// promises.
func wantUTC(t *testing.T, what string, k *keyward.Key) {
	t.Helper()
	times := map[string]*time.Time{
		"CreatedAt":      &k.CreatedAt,
		"ExpiresAt":      k.ExpiresAt,
		"LastUsedAt":     k.LastUsedAt,
		"RevokedAt":      k.RevokedAt,
		"GraceExpiresAt": k.GraceExpiresAt,
		"NextRotationAt": k.NextRotationAt,
	}
	if k.Credits != nil && !k.Credits.RefilledAt.IsZero() {
		times["Credits.RefilledAt"] = &k.Credits.RefilledAt
	}
	for name, tm := range times {
		if tm != nil && tm.Location() != time.UTC {
			t.Errorf("%s: %s: got location %v, want UTC", what, name, tm.Location())
		}
	}
}

// pages lists through a collection limit items at a time, as a client would, and returns
// the ids of each page. It stops after the first page shorter than limit.
func pages[T any](t *testing.T, limit int, id func(T) string, list func(after string, limit int) ([]T, error)) [][]string {
	t.Helper()
	var out [][]string
	after := ""
	for range 100 {
		items, err := list(after, limit)
		if err != nil {
			t.Fatalf("list after %q: %v", after, err)
		}
		var ids []string
		for _, it := range items {
			ids = append(ids, id(it))
		}
		out = append(out, ids)
		if len(items) < limit {
			return out
		}
		after = ids[len(ids)-1]
	}
	t.Fatalf("listing did not end after 100 pages")
	return nil
}

// idsOutOfOrder returns n new ids, sorted, and the order to create their objects in: the
// reverse, with creation times rising, so that a listing ordered by insertion or by creation
// time instead of by id is caught.
func idsOutOfOrder(n int) (sorted []string, createOrder []string) {
	for range n {
		sorted = append(sorted, keyward.NewID())
	}
	slices.Sort(sorted)
	createOrder = slices.Clone(sorted)
	slices.Reverse(createOrder)
	return sorted, createOrder
}

// chunk splits ids into pages of size n, as pages should find them; a listing that fills its
// last page exactly ends with an empty one.
func chunk(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) >= n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	if len(ids) == 0 {
		return append(out, nil) // as pages reads an empty page
	}
	return append(out, ids)
}

// sortByID sorts items by the id that id returns.
func sortByID[T any](items []T, id func(T) string) {
	slices.SortFunc(items, func(x, y T) int { return strings.Compare(id(x), id(y)) })
}
