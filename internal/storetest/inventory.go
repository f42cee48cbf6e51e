package storetest

import (
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// inventory reads the store's inventory, failing the test on an error.
func inventory(t *testing.T, s keyward.Store) keyward.Inventory {
	t.Helper()
	inv, err := s.Inventory(t.Context())
	if err != nil {
		t.Fatalf("Inventory: %v", err)
	}
	return inv
}

// testInventory stores one or two of every kind and finds each count risen by as many, as a
// copy of the store would compare them. Counts are relative: the store may hold others'.
func testInventory(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	before := inventory(t, s)

	a := newAccount(t, s)
	p, other := newProject(t, s, a.ID), newProject(t, s, a.ID)
	env := newEnvironment(t, s, p)
	r := newRole(t, s, a.ID)
	u := newUser(t, s, a.ID, nil)
	newMembership(t, s, p, u.ID, "", r.ID)
	k := newKey(t, s, p, func(k *keyward.Key) {
		k.EnvironmentID = env.ID
		k.Credits = &keyward.Credits{Remaining: 5, Version: 1}
		k.ProjectAccesses = []keyward.ProjectAccess{{ProjectID: other.ID, RoleID: viewer}}
	})
	// The rotated key's successor shares its lineage's credits, and has its own access.
	if _, err := s.RotateKey(ctx, a.ID, k.ID, nextKey(t, k, base.Add(time.Hour)), nil); err != nil {
		t.Fatalf("RotateKey: %v", err)
	}
	if err := s.CreateAdminKey(ctx, adminKeyIn(t, a.ID)); err != nil {
		t.Fatalf("CreateAdminKey: %v", err)
	}
	// The log counts events of an account the store does not hold too.
	for _, accountID := range []string{a.ID, keyward.NewID()} {
		e := &keyward.AuditEvent{ID: keyward.NewID(), AccountID: accountID, At: base, Action: "api_key.create", Outcome: keyward.OutcomeSuccess}
		if err := s.RecordAudit(ctx, e); err != nil {
			t.Fatalf("RecordAudit: %v", err)
		}
	}
	if err := s.CreateSigningKey(ctx, signingKeyIn(t, generation(t), time.Hour)); err != nil {
		t.Fatalf("CreateSigningKey: %v", err)
	}
	// An expired denial still counts until it is pruned.
	if err := s.DenyTokens(ctx, &keyward.TokenDenial{KeyID: k.ID, From: base.Add(-2 * time.Hour), ExpiresAt: base.Add(-time.Hour)}); err != nil {
		t.Fatalf("DenyTokens: %v", err)
	}
	tier := &keyward.RateLimitTier{AccountID: a.ID, Name: "inventory", Limit: keyward.RateLimit{Rate: 1, Period: time.Second, Burst: 1},
		FailMode: keyward.FailOpen, CreatedAt: base, UpdatedAt: base}
	if err := s.CreateRateLimitTier(ctx, tier); err != nil {
		t.Fatalf("CreateRateLimitTier: %v", err)
	}
	req := &keyward.TierRequest{ID: keyward.NewID(), AccountID: a.ID, KeyID: k.ID, Tier: tier.Name,
		Status: keyward.TierRequestPending, RequestedBy: "inventory", CreatedAt: base}
	if err := s.CreateTierRequest(ctx, req); err != nil {
		t.Fatalf("CreateTierRequest: %v", err)
	}
	// Three counts in two rows: one key, minute and outcome is one row however often it is added to.
	addUsage(t, s, usageOf(k, minuteOf(10, 0), keyward.VerifyValid, 1), usageOf(k, minuteOf(10, 0), keyward.VerifyValid, 2),
		usageOf(k, minuteOf(10, 1), keyward.VerifyValid, 1))

	want := before
	want.Accounts++
	want.Projects += 2
	want.Environments++
	want.Roles++
	want.Users++
	want.Keys += 2
	want.Memberships += 3 // the user's, and each key's access
	want.AdminKeys++
	want.AuditEvents += 2
	want.SigningKeys++
	want.TokenDenials++
	want.Tiers++
	want.TierRequests++
	want.Credits++
	want.UsageCounts += 2
	wantSame(t, "Inventory", inventory(t, s), want)
}
