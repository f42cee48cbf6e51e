package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// newTier returns a tier of the account with every field set, not yet stored.
func newTier(accountID, name string) *keyward.RateLimitTier {
	return &keyward.RateLimitTier{
		AccountID:        accountID,
		Name:             name,
		Description:      "600 a minute, 10,000 a day",
		Limit:            keyward.RateLimit{Rate: 600, Period: time.Minute, Burst: 20, QuotaLimit: 10_000, QuotaWindow: 24 * time.Hour},
		RequiresApproval: true,
		FailMode:         keyward.FailClosed,
		CreatedAt:        base,
		UpdatedAt:        base.Add(time.Minute),
	}
}

func testRateLimitTierRoundTrip(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	tests := []struct {
		name string
		tier *keyward.RateLimitTier
	}{
		{"every field set", newTier(a.ID, "gold")},
		// A built-in tier the account has changed is stored like any other.
		{"a built-in tier, unset fields zero", keyward.BuiltinTiers(a.ID, base)[0]},
		{"no quota, fail open", &keyward.RateLimitTier{AccountID: a.ID, Name: "bronze",
			Limit: keyward.RateLimit{Rate: 1, Period: 24 * time.Hour, Burst: 1}, FailMode: keyward.FailOpen,
			CreatedAt: base, UpdatedAt: base}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.CreateRateLimitTier(ctx, tt.tier); err != nil {
				t.Fatalf("CreateRateLimitTier: %v", err)
			}
			got, err := s.RateLimitTier(ctx, a.ID, tt.tier.Name)
			if err != nil {
				t.Fatalf("RateLimitTier: %v", err)
			}
			wantSame(t, "RateLimitTier", got, tt.tier)
			if got.CreatedAt.Location() != time.UTC || got.UpdatedAt.Location() != time.UTC {
				t.Errorf("RateLimitTier: got times in %v and %v, want UTC", got.CreatedAt.Location(), got.UpdatedAt.Location())
			}
		})
	}
	t.Run("a fraction of a second", func(t *testing.T) {
		tier := newTier(a.ID, "fraction")
		tier.Limit.Period = 1500 * time.Millisecond
		wantCode(t, "CreateRateLimitTier", s.CreateRateLimitTier(ctx, tier), keyward.EValidation)
	})
}

func testRateLimitTierTaken(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	first := newTier(a.ID, "gold")
	if err := s.CreateRateLimitTier(ctx, first); err != nil {
		t.Fatalf("CreateRateLimitTier: %v", err)
	}
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
			tier := newTier(tt.accountID, "gold")
			tier.Description = "another"
			wantCode(t, "CreateRateLimitTier", s.CreateRateLimitTier(ctx, tier), tt.want)
		})
	}
	got, err := s.RateLimitTier(ctx, a.ID, "gold")
	if err != nil {
		t.Fatalf("RateLimitTier: %v", err)
	}
	wantSame(t, "RateLimitTier after the conflict", got, first)
}

func testRateLimitTierNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	tier := newTier(a.ID, "gold")
	if err := s.CreateRateLimitTier(ctx, tier); err != nil {
		t.Fatalf("CreateRateLimitTier: %v", err)
	}
	tests := []struct {
		name string
		do   func() error
	}{
		{"RateLimitTier of an unknown name", func() error { _, err := s.RateLimitTier(ctx, a.ID, "platinum"); return err }},
		{"RateLimitTier of another account's", func() error { _, err := s.RateLimitTier(ctx, b.ID, "gold"); return err }},
		{"RateLimitTier of a built-in tier not stored", func() error { _, err := s.RateLimitTier(ctx, a.ID, keyward.TierStandard); return err }},
		{"UpdateRateLimitTier of an unknown name", func() error { return s.UpdateRateLimitTier(ctx, newTier(a.ID, "platinum")) }},
		{"UpdateRateLimitTier of another account's", func() error {
			changed := newTier(b.ID, "gold")
			changed.Description = "changed"
			return s.UpdateRateLimitTier(ctx, changed)
		}},
		{"CreateRateLimitTier in an unknown account", func() error { return s.CreateRateLimitTier(ctx, newTier(keyward.NewID(), "gold")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.name, tt.do(), keyward.ENotFound)
		})
	}
	got, err := s.RateLimitTier(ctx, a.ID, "gold")
	if err != nil {
		t.Fatalf("RateLimitTier: %v", err)
	}
	wantSame(t, "RateLimitTier after the refused changes", got, tier)
}

func testListRateLimitTiers(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	// Created out of order; the punctuation catches an order other than Go's, byte by byte.
	for _, name := range []string{"silver", "a_b", "standard", "ab", "a-b", "gold"} {
		if err := s.CreateRateLimitTier(ctx, newTier(a.ID, name)); err != nil {
			t.Fatalf("CreateRateLimitTier %s: %v", name, err)
		}
	}
	if err := s.CreateRateLimitTier(ctx, newTier(b.ID, "bronze")); err != nil {
		t.Fatalf("CreateRateLimitTier: %v", err)
	}
	got, err := s.ListRateLimitTiers(ctx, a.ID)
	if err != nil {
		t.Fatalf("ListRateLimitTiers: %v", err)
	}
	var names []string
	for _, tier := range got {
		names = append(names, tier.Name)
	}
	wantSame(t, "ListRateLimitTiers", names, []string{"a-b", "a_b", "ab", "gold", "silver", "standard"})
	if len(got) > 0 {
		wantSame(t, "ListRateLimitTiers: the first tier", got[0], newTier(a.ID, "a-b"))
	}

	none, err := s.ListRateLimitTiers(ctx, newAccount(t, s).ID)
	if err != nil {
		t.Fatalf("ListRateLimitTiers of an account without tiers: %v", err)
	}
	if len(none) != 0 {
		t.Errorf("ListRateLimitTiers of an account without tiers: got %d, want none", len(none))
	}
}

func testUpdateRateLimitTier(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	tier := newTier(a.ID, "gold")
	if err := s.CreateRateLimitTier(ctx, tier); err != nil {
		t.Fatalf("CreateRateLimitTier: %v", err)
	}
	in := *tier
	in.Description = ""
	in.Limit = keyward.RateLimit{Rate: 5, Period: time.Second, Burst: 5}
	in.RequiresApproval = false
	in.FailMode = keyward.FailOpen
	in.UpdatedAt = base.Add(time.Hour)
	in.CreatedAt = base.Add(2 * time.Hour) // not written
	if err := s.UpdateRateLimitTier(ctx, &in); err != nil {
		t.Fatalf("UpdateRateLimitTier: %v", err)
	}
	want := in
	want.CreatedAt = tier.CreatedAt
	got, err := s.RateLimitTier(ctx, a.ID, "gold")
	if err != nil {
		t.Fatalf("RateLimitTier: %v", err)
	}
	wantSame(t, "RateLimitTier after UpdateRateLimitTier", got, &want)
}

// newTierRequest stores a pending request for the key, first letting edit change it (edit
// may be nil).
func newTierRequest(t *testing.T, s keyward.Store, k *keyward.Key, edit func(r *keyward.TierRequest)) *keyward.TierRequest {
	t.Helper()
	r := &keyward.TierRequest{
		ID:          keyward.NewID(),
		AccountID:   k.AccountID,
		KeyID:       k.ID,
		Tier:        keyward.TierHigh,
		Status:      keyward.TierRequestPending,
		RequestedBy: keyward.NewID(),
		CreatedAt:   base,
	}
	if edit != nil {
		edit(r)
	}
	if err := s.CreateTierRequest(t.Context(), r); err != nil {
		t.Fatalf("CreateTierRequest: %v", err)
	}
	return r
}

func testTierRequestRoundTrip(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	k := newKey(t, s, newProject(t, s, newAccount(t, s).ID), nil)
	tests := []struct {
		name string
		edit func(r *keyward.TierRequest)
	}{
		{"pending", nil},
		// As a copy from another store holds it.
		{"decided", func(r *keyward.TierRequest) {
			r.Status = keyward.TierRequestRejected
			r.DecidedBy = keyward.NewID()
			r.DecidedAt = at(time.Hour)
			r.Reason = "not this quarter"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTierRequest(t, s, k, tt.edit)
			got, err := s.TierRequest(ctx, k.AccountID, r.ID)
			if err != nil {
				t.Fatalf("TierRequest: %v", err)
			}
			wantSame(t, "TierRequest", got, r)
			if got.CreatedAt.Location() != time.UTC || (got.DecidedAt != nil && got.DecidedAt.Location() != time.UTC) {
				t.Errorf("TierRequest: got times not in UTC: %v, %v", got.CreatedAt, got.DecidedAt)
			}
		})
	}
	t.Run("id taken", func(t *testing.T) {
		r := newTierRequest(t, s, k, nil)
		again := *r
		again.Tier = "gold"
		wantCode(t, "CreateTierRequest", s.CreateTierRequest(ctx, &again), keyward.EConflict)
	})
}

func testTierRequestNotFound(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	k := newKey(t, s, newProject(t, s, a.ID), nil)
	kb := newKey(t, s, newProject(t, s, b.ID), nil)
	r := newTierRequest(t, s, k, nil)
	request := func(accountID, keyID string) *keyward.TierRequest {
		return &keyward.TierRequest{ID: keyward.NewID(), AccountID: accountID, KeyID: keyID, Tier: keyward.TierHigh,
			Status: keyward.TierRequestPending, CreatedAt: base}
	}
	tests := []struct {
		name string
		do   func() error
	}{
		{"CreateTierRequest for an unknown key", func() error { return s.CreateTierRequest(ctx, request(a.ID, keyward.NewID())) }},
		{"CreateTierRequest for another account's key", func() error { return s.CreateTierRequest(ctx, request(a.ID, kb.ID)) }},
		{"TierRequest of an unknown id", func() error { _, err := s.TierRequest(ctx, a.ID, keyward.NewID()); return err }},
		{"TierRequest of another account's", func() error { _, err := s.TierRequest(ctx, b.ID, r.ID); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantCode(t, tt.name, tt.do(), keyward.ENotFound)
		})
	}
}

func testListTierRequests(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	k1, k2 := newKey(t, s, p, nil), newKey(t, s, p, nil)
	ids, createOrder := idsOutOfOrder(7)
	byID := map[string]*keyward.TierRequest{}
	for i, id := range createOrder {
		byID[id] = newTierRequest(t, s, k1, func(r *keyward.TierRequest) {
			r.ID = id
			r.CreatedAt = base.Add(time.Duration(i) * time.Minute)
			if i%3 == 0 {
				r.KeyID = k2.ID
			}
			if i%2 == 0 {
				r.Status = keyward.TierRequestApproved
				r.DecidedBy = "approver"
				r.DecidedAt = at(time.Hour)
			}
		})
	}
	// Another account's request, which must never be listed.
	newTierRequest(t, s, newKey(t, s, newProject(t, s, newAccount(t, s).ID), nil), nil)

	list := func(f keyward.TierRequestFilter) func(after string, limit int) ([]*keyward.TierRequest, error) {
		return func(after string, limit int) ([]*keyward.TierRequest, error) {
			f.AccountID, f.After, f.Limit = a.ID, after, limit
			return s.ListTierRequests(ctx, f)
		}
	}
	id := func(r *keyward.TierRequest) string { return r.ID }
	wantSame(t, "pages of 3", pages(t, 3, id, list(keyward.TierRequestFilter{})), chunk(ids, 3))

	matching := func(keep func(r *keyward.TierRequest) bool) []string {
		var out []string
		for _, id := range ids {
			if keep(byID[id]) {
				out = append(out, id)
			}
		}
		return out
	}
	tests := []struct {
		name   string
		filter keyward.TierRequestFilter
		want   []string
	}{
		{"pending", keyward.TierRequestFilter{Status: keyward.TierRequestPending},
			matching(func(r *keyward.TierRequest) bool { return r.Status == keyward.TierRequestPending })},
		{"approved", keyward.TierRequestFilter{Status: keyward.TierRequestApproved},
			matching(func(r *keyward.TierRequest) bool { return r.Status == keyward.TierRequestApproved })},
		{"rejected", keyward.TierRequestFilter{Status: keyward.TierRequestRejected}, nil},
		{"key", keyward.TierRequestFilter{KeyID: k2.ID},
			matching(func(r *keyward.TierRequest) bool { return r.KeyID == k2.ID })},
		{"key, pending", keyward.TierRequestFilter{KeyID: k1.ID, Status: keyward.TierRequestPending},
			matching(func(r *keyward.TierRequest) bool {
				return r.KeyID == k1.ID && r.Status == keyward.TierRequestPending
			})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantSame(t, "pages of 2", pages(t, 2, id, list(tt.filter)), chunk(tt.want, 2))
		})
	}

	all, err := list(keyward.TierRequestFilter{})("", 100)
	if err != nil {
		t.Fatalf("ListTierRequests: %v", err)
	}
	var want []*keyward.TierRequest
	for _, id := range ids {
		want = append(want, byID[id])
	}
	wantSame(t, "ListTierRequests", all, want)
}

func testDecideTierRequest(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	p := newProject(t, s, newAccount(t, s).ID)
	tests := []struct {
		name     string
		status   keyward.TierRequestStatus
		wantTier string // the key's tier after the decision
	}{
		{"approve sets the key's tier", keyward.TierRequestApproved, keyward.TierHigh},
		{"reject leaves the key's tier", keyward.TierRequestRejected, keyward.TierStandard},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKey(t, s, p, func(k *keyward.Key) { k.RateLimitTier = keyward.TierStandard })
			bystander := newKey(t, s, p, func(k *keyward.Key) { k.RateLimitTier = keyward.TierStandard })
			r := newTierRequest(t, s, k, nil)
			want := *r
			want.Status = tt.status
			want.DecidedBy = keyward.NewID()
			want.DecidedAt = at(time.Hour)
			want.Reason = "needed for the launch"

			in := want
			if err := s.DecideTierRequest(ctx, &in); err != nil {
				t.Fatalf("DecideTierRequest: %v", err)
			}
			wantSame(t, "the decided request", &in, &want)
			got, err := s.TierRequest(ctx, r.AccountID, r.ID)
			if err != nil {
				t.Fatalf("TierRequest: %v", err)
			}
			wantSame(t, "TierRequest after the decision", got, &want)

			wantKey := cloneKey(k)
			wantKey.RateLimitTier = tt.wantTier
			gotKey, err := s.Key(ctx, k.AccountID, k.ID)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			wantSame(t, "Key after the decision", gotKey, wantKey)
			gotKey, err = s.Key(ctx, bystander.AccountID, bystander.ID)
			if err != nil {
				t.Fatalf("Key of another key: %v", err)
			}
			wantSame(t, "Key of another key after the decision", gotKey, bystander)
		})
	}
}

func testDecideTierRequestRefused(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := newAccount(t, s), newAccount(t, s)
	p := newProject(t, s, a.ID)
	decision := func(r *keyward.TierRequest, accountID string, status keyward.TierRequestStatus) *keyward.TierRequest {
		return &keyward.TierRequest{ID: r.ID, AccountID: accountID, KeyID: r.KeyID, Tier: r.Tier, Status: status,
			DecidedBy: "decider", DecidedAt: at(2 * time.Hour), Reason: "late"}
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, r *keyward.TierRequest) // brings the request to the state under test
		// decide returns the refused decision
		decide func(r *keyward.TierRequest) *keyward.TierRequest
		want   keyward.Code
	}{
		{"decide twice", func(t *testing.T, r *keyward.TierRequest) {
			if err := s.DecideTierRequest(ctx, decision(r, a.ID, keyward.TierRequestRejected)); err != nil {
				t.Fatalf("DecideTierRequest: %v", err)
			}
		}, func(r *keyward.TierRequest) *keyward.TierRequest {
			return decision(r, a.ID, keyward.TierRequestApproved)
		}, keyward.EConflict},
		{"approve twice", func(t *testing.T, r *keyward.TierRequest) {
			if err := s.DecideTierRequest(ctx, decision(r, a.ID, keyward.TierRequestApproved)); err != nil {
				t.Fatalf("DecideTierRequest: %v", err)
			}
		}, func(r *keyward.TierRequest) *keyward.TierRequest {
			return decision(r, a.ID, keyward.TierRequestApproved)
		}, keyward.EConflict},
		{"another account's", nil, func(r *keyward.TierRequest) *keyward.TierRequest {
			return decision(r, b.ID, keyward.TierRequestApproved)
		}, keyward.ENotFound},
		{"unknown id", nil, func(r *keyward.TierRequest) *keyward.TierRequest {
			d := decision(r, a.ID, keyward.TierRequestApproved)
			d.ID = keyward.NewID()
			return d
		}, keyward.ENotFound},
		{"back to pending", nil, func(r *keyward.TierRequest) *keyward.TierRequest {
			return decision(r, a.ID, keyward.TierRequestPending)
		}, keyward.EValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := newKey(t, s, p, func(k *keyward.Key) { k.RateLimitTier = keyward.TierStandard })
			r := newTierRequest(t, s, k, nil)
			if tt.setup != nil {
				tt.setup(t, r)
			}
			before, err := s.TierRequest(ctx, a.ID, r.ID)
			if err != nil {
				t.Fatalf("TierRequest: %v", err)
			}
			keyBefore, err := s.Key(ctx, a.ID, k.ID)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}

			wantCode(t, "DecideTierRequest", s.DecideTierRequest(ctx, tt.decide(r)), tt.want)

			// A refused decision changes nothing.
			got, err := s.TierRequest(ctx, a.ID, r.ID)
			if err != nil {
				t.Fatalf("TierRequest: %v", err)
			}
			wantSame(t, "TierRequest after the refused decision", got, before)
			gotKey, err := s.Key(ctx, a.ID, k.ID)
			if err != nil {
				t.Fatalf("Key: %v", err)
			}
			wantSame(t, "Key after the refused decision", gotKey, keyBefore)
		})
	}
}

// testDecideTierRequestConcurrently races an approval and a rejection of one request, many
// times over: exactly one decides it, and the key's tier follows the winner.
func testDecideTierRequestConcurrently(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	p := newProject(t, s, newAccount(t, s).ID)
	for round := range 10 {
		k := newKey(t, s, p, func(k *keyward.Key) { k.RateLimitTier = keyward.TierStandard })
		r := newTierRequest(t, s, k, nil)
		var (
			statuses = [2]keyward.TierRequestStatus{keyward.TierRequestApproved, keyward.TierRequestRejected}
			errs     [2]error
			start    = make(chan struct{})
			wg       sync.WaitGroup
		)
		for i, status := range statuses {
			wg.Go(func() {
				<-start
				d := *r
				d.Status, d.DecidedBy, d.DecidedAt = status, fmt.Sprint(i), at(time.Hour)
				errs[i] = s.DecideTierRequest(ctx, &d)
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			if err == nil {
				if winner >= 0 {
					t.Fatalf("round %d: both decisions succeeded", round)
				}
				winner = i
				continue
			}
			wantCode(t, fmt.Sprintf("round %d: the losing decision", round), err, keyward.EConflict)
		}
		if winner < 0 {
			t.Fatalf("round %d: no decision succeeded: %v, %v", round, errs[0], errs[1])
		}
		got, err := s.TierRequest(ctx, r.AccountID, r.ID)
		if err != nil {
			t.Fatalf("round %d: TierRequest: %v", round, err)
		}
		if got.Status != statuses[winner] || got.DecidedBy != fmt.Sprint(winner) {
			t.Errorf("round %d: got status %q by %q, want the winner's %q by %d", round, got.Status, got.DecidedBy, statuses[winner], winner)
		}
		wantTier := keyward.TierStandard
		if statuses[winner] == keyward.TierRequestApproved {
			wantTier = keyward.TierHigh
		}
		gotKey, err := s.Key(ctx, k.AccountID, k.ID)
		if err != nil {
			t.Fatalf("round %d: Key: %v", round, err)
		}
		if gotKey.RateLimitTier != wantTier {
			t.Errorf("round %d: key's tier: got %q, want %q", round, gotKey.RateLimitTier, wantTier)
		}
	}
}
