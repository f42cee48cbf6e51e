package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// testUnitCommits: what a unit writes is there once it returns nil, and reads inside it see
// its own writes.
func testUnitCommits(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := &keyward.Account{ID: keyward.NewID(), Name: "unit " + keyward.NewID(), KeyPrefix: "kw", CreatedAt: base}
	var p *keyward.Project
	err := s.InTx(ctx, func(tx keyward.Store) error {
		if err := tx.CreateAccount(ctx, a); err != nil {
			return err
		}
		if _, err := tx.Account(ctx, a.ID); err != nil {
			return fmt.Errorf("reading the unit's own account: %w", err)
		}
		p = newProject(t, tx, a.ID)
		got, err := tx.ListProjects(ctx, a.ID, "", 10)
		if err != nil || len(got) != 1 {
			return fmt.Errorf("listing the unit's own project = %d, %v", len(got), err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("InTx: %v", err)
	}
	if _, err := s.Account(ctx, a.ID); err != nil {
		t.Errorf("account after the unit: %v", err)
	}
	if _, err := s.Project(ctx, a.ID, p.ID); err != nil {
		t.Errorf("project after the unit: %v", err)
	}
}

// testUnitRollsBack: a unit whose function fails leaves nothing behind, and InTx returns the
// function's error as it is.
func testUnitRollsBack(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	k := newKey(t, s, p, nil)
	failure := keyward.Errorf(keyward.EConflict, "the function says no")
	var made *keyward.Project
	err := s.InTx(ctx, func(tx keyward.Store) error {
		made = newProject(t, tx, a.ID)
		if _, err := tx.RevokeKey(ctx, a.ID, k.ID, base.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.RecordAudit(ctx, &keyward.AuditEvent{ID: keyward.NewID(), AccountID: a.ID, At: base, Action: "rolled-back", Outcome: keyward.OutcomeSuccess}); err != nil {
			return err
		}
		return failure
	})
	if err != failure {
		t.Fatalf("InTx = %v, want the function's own error", err)
	}
	wantCode(t, "the rolled-back project", errOf(s.Project(ctx, a.ID, made.ID)), keyward.ENotFound)
	got, err := s.Key(ctx, a.ID, k.ID)
	if err != nil || got.RevokedAt != nil {
		t.Errorf("key after the rolled-back revocation = %+v, %v; want it live", got, err)
	}
	events, err := s.ListAuditEvents(ctx, keyward.AuditFilter{AccountID: a.ID, Limit: 10})
	if err != nil || len(events) != 0 {
		t.Errorf("audit events after the rolled-back unit = %d, %v; want none", len(events), err)
	}
}

// testUnitFailedWrite: a write that fails inside a unit ends the unit; what it wrote before
// the failure is gone too.
func testUnitFailedWrite(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	taken := newProject(t, s, a.ID)
	var first *keyward.Project
	err := s.InTx(ctx, func(tx keyward.Store) error {
		first = newProject(t, tx, a.ID)
		dup := &keyward.Project{ID: keyward.NewID(), AccountID: a.ID, Name: taken.Name, KeyPrefix: "kw", CreatedAt: base}
		return tx.CreateProject(ctx, dup)
	})
	wantCode(t, "a unit whose write conflicts", err, keyward.EConflict)
	wantCode(t, "the project written before the failure", errOf(s.Project(ctx, a.ID, first.ID)), keyward.ENotFound)
}

// testUnitNested: InTx on a unit's store runs in that unit: the outer failure undoes the
// inner function's writes.
func testUnitNested(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	var inner *keyward.Project
	err := s.InTx(ctx, func(tx keyward.Store) error {
		if err := tx.InTx(ctx, func(tx2 keyward.Store) error {
			inner = newProject(t, tx2, a.ID)
			return nil
		}); err != nil {
			return err
		}
		if _, err := tx.Project(ctx, a.ID, inner.ID); err != nil {
			return fmt.Errorf("the inner write, read in the outer unit: %w", err)
		}
		return errors.New("outer failure")
	})
	if err == nil || err.Error() != "outer failure" {
		t.Fatalf("InTx = %v, want the outer failure", err)
	}
	wantCode(t, "the inner unit's project", errOf(s.Project(ctx, a.ID, inner.ID)), keyward.ENotFound)
}

// testUnitsSerialise: units that read a value and write it back changed take effect one after
// another, as if they ran in turn: none overwrites another's change with what it read before
// that change committed.
func testUnitsSerialise(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	p := newProject(t, s, a.ID)
	k := newKey(t, s, p, func(k *keyward.Key) { k.Metadata = map[string]any{"n": float64(0)} })
	const n = 8
	// Each unit's first run waits, after its read, until every unit has read (or a moment
	// has passed: on a store whose units take turns the others cannot read meanwhile), so
	// that the runs overlap as they would under load.
	var read sync.WaitGroup
	read.Add(n)
	allRead := make(chan struct{})
	go func() { read.Wait(); close(allRead) }()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			first := true
			errs <- s.InTx(ctx, func(tx keyward.Store) error {
				cur, err := tx.Key(ctx, a.ID, k.ID)
				if err != nil {
					return err
				}
				if first {
					first = false
					read.Done()
					select {
					case <-allRead:
					case <-time.After(100 * time.Millisecond):
					}
				}
				cur.Metadata["n"] = cur.Metadata["n"].(float64) + 1
				return tx.UpdateKey(ctx, cur)
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("InTx: %v", err)
		}
	}
	got, err := s.Key(ctx, a.ID, k.ID)
	if err != nil {
		t.Fatalf("Key: %v", err)
	}
	if got.Metadata["n"] != float64(n) {
		t.Errorf("after %d concurrent increments n = %v, want %d", n, got.Metadata["n"], n)
	}
}

// testUnitReachesEveryPart calls a method of every part of the store inside one unit, so that
// a store whose method bypasses the unit's transaction (and would deadlock on SQLite's one
// writer, or miss the unit's writes) fails here.
func testUnitReachesEveryPart(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	err := s.InTx(ctx, func(tx keyward.Store) error {
		p := newProject(t, tx, a.ID)
		env := newEnvironment(t, tx, p)
		u := newUser(t, tx, a.ID, nil)
		r := newRole(t, tx, a.ID)
		k := newKey(t, tx, p, func(k *keyward.Key) {
			k.EnvironmentID, k.UserID, k.RoleID = env.ID, u.ID, r.ID
			k.Credits = &keyward.Credits{Remaining: 5, Version: 1}
		})
		newMembership(t, tx, p, u.ID, "", viewer)
		steps := []struct {
			name string
			err  error
		}{
			{"AccountByName", errOf(tx.AccountByName(ctx, a.Name))},
			{"ListAccounts", errOf(tx.ListAccounts(ctx, "", 1))},
			{"Environment", errOf(tx.Environment(ctx, a.ID, env.ID))},
			{"ListEnvironments", errOf(tx.ListEnvironments(ctx, a.ID, p.ID, "", 10))},
			{"KeyByHash", errOf(tx.KeyByHash(ctx, k.Hash))},
			{"ListKeys", errOf(tx.ListKeys(ctx, keyward.KeyFilter{AccountID: a.ID, Limit: 10}))},
			{"UpdateKey", tx.UpdateKey(ctx, k)},
			{"SetCredits", tx.SetCredits(ctx, a.ID, k.ID, &keyward.Credits{Remaining: 9, Version: 2})},
			{"SpendCredits", errOf(tx.SpendCredits(ctx, k.ID, 1, base))},
			{"MirrorCredits", tx.MirrorCredits(ctx, []keyward.CreditMirror{{LineageID: k.ID, Remaining: 3, Version: 2}})},
			{"TouchKeys", tx.TouchKeys(ctx, []keyward.KeyUse{{KeyID: k.ID, At: base.Add(time.Minute)}})},
			{"User", errOf(tx.User(ctx, a.ID, u.ID))},
			{"UserBySubject", errOf(tx.UserBySubject(ctx, u.Issuer, u.Subject))},
			{"ListUsers", errOf(tx.ListUsers(ctx, a.ID, "", 10))},
			{"UpdateUser", tx.UpdateUser(ctx, u)},
			{"Role", errOf(tx.Role(ctx, a.ID, r.ID))},
			{"ListRoles", errOf(tx.ListRoles(ctx, a.ID, "", 10))},
			{"UpdateRole", tx.UpdateRole(ctx, r)},
			{"ListMemberships", errOf(tx.ListMemberships(ctx, keyward.MembershipFilter{AccountID: a.ID}))},
			{"RecordAudit", tx.RecordAudit(ctx, &keyward.AuditEvent{ID: keyward.NewID(), AccountID: a.ID, At: base, Action: "unit", Outcome: keyward.OutcomeSuccess})},
			{"ListAuditEvents", errOf(tx.ListAuditEvents(ctx, keyward.AuditFilter{AccountID: a.ID, Limit: 10}))},
			{"DenyTokens", tx.DenyTokens(ctx, &keyward.TokenDenial{KeyID: k.ID, From: base, ExpiresAt: base.Add(time.Hour)})},
			{"TokenDenials", errOf(tx.TokenDenials(ctx, 0, base, 10))},
			{"SigningKeys", errOf(tx.SigningKeys(ctx, base))},
			{"CreateRateLimitTier", tx.CreateRateLimitTier(ctx, &keyward.RateLimitTier{AccountID: a.ID, Name: "unit", Limit: keyward.RateLimit{Rate: 1, Period: time.Second, Burst: 1}, FailMode: keyward.FailOpen, CreatedAt: base, UpdatedAt: base})},
			{"ListRateLimitTiers", errOf(tx.ListRateLimitTiers(ctx, a.ID))},
			{"CreateTierRequest", tx.CreateTierRequest(ctx, &keyward.TierRequest{ID: keyward.NewID(), AccountID: a.ID, KeyID: k.ID, Tier: "unit", Status: keyward.TierRequestPending, RequestedBy: "t", CreatedAt: base})},
			{"ListTierRequests", errOf(tx.ListTierRequests(ctx, keyward.TierRequestFilter{AccountID: a.ID, Limit: 10}))},
			{"AddUsage", tx.AddUsage(ctx, []keyward.UsageCount{{KeyID: k.ID, AccountID: a.ID, ProjectID: p.ID, Minute: base, Outcome: keyward.VerifyValid, Count: 1}})},
			{"Usage", errOf(tx.Usage(ctx, keyward.UsageFilter{AccountID: a.ID, From: base.Add(-time.Hour), To: base.Add(time.Hour), Granularity: time.Hour}))},
			{"AdminKeys", errOf(tx.AdminKeys(ctx))},
			{"CountAdminKeys", errOf(tx.CountAdminKeys(ctx))},
			{"AuditAccountIDs", errOf(tx.AuditAccountIDs(ctx, "", 10))},
			{"ListUsageCounts", errOf(tx.ListUsageCounts(ctx, keyward.UsageCountFilter{AccountID: a.ID, Limit: 10}))},
			{"Inventory", errOf(tx.Inventory(ctx))},
		}
		for _, st := range steps {
			if st.err != nil {
				return fmt.Errorf("%s inside a unit: %w", st.name, st.err)
			}
		}
		next := nextKey(t, k, base.Add(time.Hour))
		if _, err := tx.RotateKey(ctx, a.ID, k.ID, next, nil); err != nil {
			return fmt.Errorf("RotateKey inside a unit: %w", err)
		}
		if _, err := tx.RevokeKey(ctx, a.ID, next.ID, base.Add(2*time.Hour)); err != nil {
			return fmt.Errorf("RevokeKey inside a unit: %w", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// errOf keeps the error of a call that returns a value too.
func errOf[T any](_ T, err error) error { return err }
