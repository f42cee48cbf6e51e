package storetest

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

func testAuditRoundTrip(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	ids, _ := idsOutOfOrder(2)
	full := &keyward.AuditEvent{
		ID:         ids[0],
		AccountID:  a.ID,
		At:         base,
		ActorKind:  keyward.KindAPIKey,
		ActorID:    keyward.NewID(),
		Action:     "api_key.create",
		TargetType: "api_key",
		TargetID:   keyward.NewID(),
		RemoteAddr: "203.0.113.7",
		Outcome:    keyward.OutcomeFailure,
		ErrorCode:  string(keyward.EForbidden),
	}
	// An unauthenticated caller's failure names no actor and no target.
	bare := &keyward.AuditEvent{
		ID:        ids[1],
		AccountID: a.ID,
		At:        base.Add(time.Second),
		Action:    "api_key.list",
		Outcome:   keyward.OutcomeSuccess,
	}
	for _, e := range []*keyward.AuditEvent{full, bare} {
		if err := s.RecordAudit(ctx, e); err != nil {
			t.Fatalf("RecordAudit: %v", err)
		}
	}
	got, err := s.ListAuditEvents(ctx, keyward.AuditFilter{AccountID: a.ID, Limit: 10})
	if err != nil {
		t.Fatalf("ListAuditEvents: %v", err)
	}
	wantSame(t, "ListAuditEvents", got, []*keyward.AuditEvent{bare, full})
	for _, e := range got {
		if e.At.Location() != time.UTC {
			t.Errorf("ListAuditEvents: At: got location %v, want UTC", e.At.Location())
		}
	}
}

func testListAuditEvents(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	alice, bob := keyward.NewID(), keyward.NewID()
	k1, k2, r1 := keyward.NewID(), keyward.NewID(), keyward.NewID()
	// The events' ids rise in this order; their times do not, so that a listing ordered by
	// time instead of by id is caught.
	fixtures := []struct {
		name          string
		actor, action string
		target        string
		outcome, code string
		after         time.Duration
	}{
		{"alice creates k1", alice, "api_key.create", k1, keyward.OutcomeSuccess, "", 0},
		{"alice fails to revoke k1", alice, "api_key.revoke", k1, keyward.OutcomeFailure, "forbidden", 3 * time.Hour},
		{"bob creates k2", bob, "api_key.create", k2, keyward.OutcomeSuccess, "", time.Hour},
		{"bob updates r1", bob, "role.update", r1, keyward.OutcomeSuccess, "", 2 * time.Hour},
		{"someone fails to create", "", "api_key.create", "", keyward.OutcomeFailure, "unauthenticated", 2 * time.Hour},
	}
	ids, _ := idsOutOfOrder(len(fixtures))
	events := map[string]*keyward.AuditEvent{}
	for i, f := range fixtures {
		e := &keyward.AuditEvent{
			ID: ids[i], AccountID: a.ID, At: base.Add(f.after), ActorID: f.actor, Action: f.action,
			TargetID: f.target, Outcome: f.outcome, ErrorCode: f.code,
		}
		if f.actor != "" {
			e.ActorKind = keyward.KindUser
		}
		if f.target != "" {
			e.TargetType = "api_key"
		}
		if err := s.RecordAudit(ctx, e); err != nil {
			t.Fatalf("RecordAudit: %v", err)
		}
		events[f.name] = e
	}
	// Another account's event that every filter would match: it must never be listed.
	other := newAccount(t, s)
	if err := s.RecordAudit(ctx, &keyward.AuditEvent{ID: keyward.NewID(), AccountID: other.ID, At: base.Add(time.Hour),
		ActorID: alice, Action: "api_key.create", TargetID: k1, Outcome: keyward.OutcomeSuccess}); err != nil {
		t.Fatalf("RecordAudit: %v", err)
	}

	// newestFirst returns the named events in the order a listing must give them.
	newestFirst := func(names ...string) []string {
		out := slices.Clone(names)
		slices.SortFunc(out, func(x, y string) int { return strings.Compare(events[y].ID, events[x].ID) })
		return out
	}
	tests := []struct {
		name   string
		filter keyward.AuditFilter
		want   []string
	}{
		{"everything", keyward.AuditFilter{}, newestFirst(
			"alice creates k1", "alice fails to revoke k1", "bob creates k2", "bob updates r1", "someone fails to create")},
		{"actor", keyward.AuditFilter{ActorID: alice}, newestFirst("alice creates k1", "alice fails to revoke k1")},
		{"action", keyward.AuditFilter{Action: "api_key.create"}, newestFirst(
			"alice creates k1", "bob creates k2", "someone fails to create")},
		{"target", keyward.AuditFilter{TargetID: k1}, newestFirst("alice creates k1", "alice fails to revoke k1")},
		{"outcome", keyward.AuditFilter{Outcome: keyward.OutcomeFailure}, newestFirst(
			"alice fails to revoke k1", "someone fails to create")},
		// From is inclusive, To exclusive: the two events at +2h are in [2h, …) and not in [… , 2h).
		{"from", keyward.AuditFilter{From: base.Add(2 * time.Hour)}, newestFirst(
			"alice fails to revoke k1", "bob updates r1", "someone fails to create")},
		{"to", keyward.AuditFilter{To: base.Add(2 * time.Hour)}, newestFirst("alice creates k1", "bob creates k2")},
		{"from and to", keyward.AuditFilter{From: base.Add(time.Hour), To: base.Add(3 * time.Hour)}, newestFirst(
			"bob creates k2", "bob updates r1", "someone fails to create")},
		{"before", keyward.AuditFilter{Before: events["bob updates r1"].ID}, newestFirst(
			"alice creates k1", "alice fails to revoke k1", "bob creates k2")},
		{"before, actor", keyward.AuditFilter{Before: events["bob creates k2"].ID, ActorID: alice}, newestFirst(
			"alice creates k1", "alice fails to revoke k1")},
		{"action and outcome", keyward.AuditFilter{Action: "api_key.create", Outcome: keyward.OutcomeSuccess}, newestFirst(
			"alice creates k1", "bob creates k2")},
		{"limited", keyward.AuditFilter{Limit: 2}, newestFirst("someone fails to create", "bob updates r1")},
		{"nothing matches", keyward.AuditFilter{ActorID: bob, Outcome: keyward.OutcomeFailure}, nil},
	}
	names := map[string]string{}
	for name, e := range events {
		names[e.ID] = name
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.filter
			f.AccountID = a.ID
			if f.Limit == 0 {
				f.Limit = 100
			}
			got, err := s.ListAuditEvents(ctx, f)
			if err != nil {
				t.Fatalf("ListAuditEvents(%+v): %v", f, err)
			}
			var gotNames []string
			for _, e := range got {
				gotNames = append(gotNames, names[e.ID])
			}
			wantSame(t, "ListAuditEvents", gotNames, tt.want)
		})
	}
}

// testListAuditEventsPages reads the log newest first, each page's last id the next page's
// Before.
func testListAuditEventsPages(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := newAccount(t, s)
	ids, createOrder := idsOutOfOrder(7)
	for i, id := range createOrder {
		e := &keyward.AuditEvent{ID: id, AccountID: a.ID, At: base.Add(time.Duration(i) * time.Minute), Action: "api_key.read", Outcome: keyward.OutcomeSuccess}
		if err := s.RecordAudit(ctx, e); err != nil {
			t.Fatalf("RecordAudit: %v", err)
		}
	}
	newest := slices.Clone(ids)
	slices.Reverse(newest)
	got := pages(t, 3, func(e *keyward.AuditEvent) string { return e.ID },
		func(before string, limit int) ([]*keyward.AuditEvent, error) {
			return s.ListAuditEvents(ctx, keyward.AuditFilter{AccountID: a.ID, Before: before, Limit: limit})
		})
	wantSame(t, "pages of 3", got, chunk(newest, 3))

	wantNone(t, "ListAuditEvents of an unknown account", func() (int, error) {
		got, err := s.ListAuditEvents(ctx, keyward.AuditFilter{AccountID: keyward.NewID(), Limit: 100})
		return len(got), err
	})
}

// testAuditAccountIDs pages through the accounts the log names, one of which the store does
// not hold: each comes once, in id order, whatever the page size.
func testAuditAccountIDs(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	held := newAccount(t, s).ID
	gone := keyward.NewID() // an account the store never held
	for _, id := range []string{held, held, gone, held} {
		e := &keyward.AuditEvent{ID: keyward.NewID(), AccountID: id, At: base, Action: "api_key.read", Outcome: keyward.OutcomeSuccess}
		if err := s.RecordAudit(ctx, e); err != nil {
			t.Fatalf("RecordAudit: %v", err)
		}
	}
	mine := []string{held, gone}
	slices.Sort(mine)

	for _, limit := range []int{1, 2, 1000} {
		var all []string
		after := ""
		// The store may hold other subtests' events: bounded, but not by a few pages.
		for range 10_000 {
			ids, err := s.AuditAccountIDs(ctx, after, limit)
			if err != nil {
				t.Fatalf("AuditAccountIDs(%q, %d): %v", after, limit, err)
			}
			if len(ids) > limit {
				t.Fatalf("AuditAccountIDs(%q, %d): got %d ids", after, limit, len(ids))
			}
			all = append(all, ids...)
			if len(ids) < limit {
				break
			}
			after = ids[len(ids)-1]
		}
		for i := 1; i < len(all); i++ {
			if all[i-1] >= all[i] {
				t.Fatalf("pages of %d: %q comes before %q: want each id once, in order", limit, all[i-1], all[i])
			}
		}
		got := slices.DeleteFunc(all, func(id string) bool { return !slices.Contains(mine, id) })
		wantSame(t, "the accounts of this test's events, in pages of "+strconv.Itoa(limit), got, mine)
	}
	wantNone(t, "AuditAccountIDs with limit 0", func() (int, error) {
		ids, err := s.AuditAccountIDs(ctx, "", 0)
		return len(ids), err
	})
}
