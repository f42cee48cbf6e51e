package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// ClaimOutbox reaches every account's messages, so on a store whose subtests share one
// database a claim could hand out what an earlier subtest left. The outbox subtests claim
// only at times near base (the prune test decades before it), and every account they make
// parks its pending messages at parked when the subtest ends: no later claim finds them due.
var parked = base.AddDate(100, 0, 0)

// lease is how long the outbox tests' claims hold messages, unless a test says otherwise.
const lease = time.Minute

// Outcomes of an attempt, for FinishOutbox.
var (
	delivered = keyward.OutboxOutcome{Delivered: true}
	abandoned = keyward.OutboxOutcome{Abandon: true}
)

// retryAt is the outcome of an attempt that failed for now: try again at t.
func retryAt(t time.Time) keyward.OutboxOutcome { return keyward.OutboxOutcome{RetryAt: t} }

// outboxAccount makes an account for an outbox test and parks its pending messages when the
// test ends (see parked).
func outboxAccount(t *testing.T, s keyward.Store) *keyward.Account {
	t.Helper()
	a := newAccount(t, s)
	t.Cleanup(func() {
		ctx := context.Background() // the test's own context is done by now
		msgs, err := s.ListOutbox(ctx, keyward.OutboxFilter{AccountID: a.ID, Pending: true, Limit: 1000})
		if err != nil {
			t.Errorf("parking the outbox: ListOutbox: %v", err)
			return
		}
		for _, m := range msgs {
			if err := s.RetryOutbox(ctx, a.ID, m.ID, parked); err != nil {
				t.Errorf("parking the outbox: RetryOutbox: %v", err)
			}
		}
	})
	return a
}

// destination returns a destination no other test sends to, so that no other test's message
// orders this test's.
func destination() string { return "endpoint " + keyward.NewID() }

// outboxMessage returns a message of the account, created and due at base, not yet stored.
func outboxMessage(accountID, id, destination, orderKey string) *keyward.OutboxMessage {
	return &keyward.OutboxMessage{
		ID:          id,
		AccountID:   accountID,
		Topic:       "api_key.rotated",
		Destination: destination,
		OrderKey:    orderKey,
		Payload:     []byte(`{"type":"api_key.rotated","id":"` + id + `"}`),
		CreatedAt:   base,
	}
}

// enqueue stores the messages, failing the test on an error.
func enqueue(t *testing.T, s keyward.Store, msgs ...*keyward.OutboxMessage) {
	t.Helper()
	if err := s.EnqueueOutbox(t.Context(), msgs...); err != nil {
		t.Fatalf("EnqueueOutbox: %v", err)
	}
}

// claim claims up to limit messages for owner at now for lease, failing the test on an error.
func claim(t *testing.T, s keyward.Store, owner string, now time.Time, limit int) []*keyward.OutboxMessage {
	t.Helper()
	got, err := s.ClaimOutbox(t.Context(), owner, now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimOutbox(%s, %v): %v", owner, now, err)
	}
	return got
}

// claimOne claims at now for owner and fails the test unless it gets exactly the message id.
func claimOne(t *testing.T, s keyward.Store, owner string, now time.Time, id string) *keyward.OutboxMessage {
	t.Helper()
	got := claim(t, s, owner, now, 10)
	if len(got) != 1 || got[0].ID != id {
		t.Fatalf("ClaimOutbox(%s, %v): got %v, want [%s]", owner, now, messageIDs(got), id)
	}
	return got[0]
}

// attemptAt returns the attempt that m's holder made at the time, as m's claim counted it.
func attemptAt(m *keyward.OutboxMessage, at time.Time, status int, errText string) *keyward.OutboxAttempt {
	return &keyward.OutboxAttempt{
		MessageID:  m.ID,
		Attempt:    m.Attempts,
		At:         at,
		Duration:   1234567 * time.Microsecond,
		StatusCode: status,
		Error:      errText,
	}
}

// finish records the attempt and the outcome, failing the test on an error.
func finish(t *testing.T, s keyward.Store, owner string, a *keyward.OutboxAttempt, out keyward.OutboxOutcome) {
	t.Helper()
	if err := s.FinishOutbox(t.Context(), owner, a, out); err != nil {
		t.Fatalf("FinishOutbox(%s, attempt %d at %s): %v", owner, a.Attempt, a.MessageID, err)
	}
}

// readMessage reads the account's message, failing the test on an error.
func readMessage(t *testing.T, s keyward.Store, accountID, id string) *keyward.OutboxMessage {
	t.Helper()
	m, err := s.OutboxMessage(t.Context(), accountID, id)
	if err != nil {
		t.Fatalf("OutboxMessage %s: %v", id, err)
	}
	return m
}

// readAttempts reads the attempts at the account's message, failing the test on an error.
func readAttempts(t *testing.T, s keyward.Store, accountID, id string) []*keyward.OutboxAttempt {
	t.Helper()
	got, err := s.OutboxAttempts(t.Context(), accountID, id)
	if err != nil {
		t.Fatalf("OutboxAttempts %s: %v", id, err)
	}
	return got
}

func messageIDs(msgs []*keyward.OutboxMessage) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

// wantOutboxUTC fails the test unless every time the message holds is in UTC, as the Store
// interface promises (a comparison by cmp would not notice: it compares times with Equal).
func wantOutboxUTC(t *testing.T, what string, m *keyward.OutboxMessage) {
	t.Helper()
	for name, tm := range map[string]*time.Time{
		"CreatedAt": &m.CreatedAt, "NextAttemptAt": &m.NextAttemptAt, "LeaseUntil": m.LeaseUntil,
		"DeliveredAt": m.DeliveredAt, "AbandonedAt": m.AbandonedAt,
	} {
		if tm != nil && tm.Location() != time.UTC {
			t.Errorf("%s: %s: got location %v, want UTC", what, name, tm.Location())
		}
	}
}

// testOutboxRoundTrip enqueues messages and reads them back as the store keeps them: due at
// NextAttemptAt or else CreatedAt, with a delivery state of the store's own.
func testOutboxRoundTrip(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := outboxAccount(t, s)
	dest := destination()
	ids, _ := idsOutOfOrder(3)

	full := outboxMessage(a.ID, ids[0], dest, "key "+keyward.NewID())
	full.Sealed = []byte("sealed secret")
	full.NextAttemptAt = base.Add(time.Minute)
	plain := outboxMessage(a.ID, ids[1], dest, "")
	plain.CreatedAt = base.Add(time.Second)
	// Delivery state given to EnqueueOutbox is not written: a message starts pending, with no
	// attempts, lease or error.
	stale := outboxMessage(a.ID, ids[2], dest, "")
	stale.Attempts, stale.LeaseOwner, stale.LeaseUntil = 3, "someone", at(time.Hour)
	stale.DeliveredAt, stale.AbandonedAt, stale.LastError = at(time.Hour), at(time.Hour), "stale"

	enqueue(t, s, full, plain)
	enqueue(t, s, stale)
	if err := s.EnqueueOutbox(ctx); err != nil {
		t.Errorf("EnqueueOutbox of none: %v", err)
	}

	wantPlain := *plain
	wantPlain.NextAttemptAt = plain.CreatedAt
	wantStale := *outboxMessage(a.ID, ids[2], dest, "")
	wantStale.NextAttemptAt = base
	for _, want := range []*keyward.OutboxMessage{full, &wantPlain, &wantStale} {
		got := readMessage(t, s, a.ID, want.ID)
		wantSame(t, "OutboxMessage "+want.ID, got, want)
		wantOutboxUTC(t, "OutboxMessage "+want.ID, got)
		if !got.Pending() {
			t.Errorf("OutboxMessage %s: not pending after EnqueueOutbox", want.ID)
		}
	}

	dup := outboxMessage(a.ID, full.ID, destination(), "")
	wantCode(t, "EnqueueOutbox of a taken id", s.EnqueueOutbox(ctx, dup), keyward.EConflict)
	wantSame(t, "OutboxMessage after the refused duplicate", readMessage(t, s, a.ID, full.ID), full)
}

// testListOutbox lists an account's messages newest first, with each filter.
func testListOutbox(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := outboxAccount(t, s)
	destA, destB := destination(), destination()
	k1, k2 := "key "+keyward.NewID(), "key "+keyward.NewID()
	fixtures := []struct {
		name, dest, key string
		out             *keyward.OutboxOutcome // what the first claim's attempt comes to; nil: left to wait
	}{
		{"m1", destA, k1, nil},
		{"m2", destA, k2, &delivered},
		{"m3", destB, k1, &abandoned},
		{"m4", destB, "", nil},
		{"m5", destA, k1, nil}, // behind m1, so not claimed
	}
	ids, createOrder := idsOutOfOrder(len(fixtures))
	names := map[string]string{}
	byName := map[string]string{}
	for i, f := range fixtures {
		names[ids[i]] = f.name
		byName[f.name] = ids[i]
	}
	for _, id := range createOrder {
		f := fixtures[slices.Index(ids, id)]
		enqueue(t, s, outboxMessage(a.ID, id, f.dest, f.key))
	}
	for _, m := range claim(t, s, "lister", base, 10) {
		out := retryAt(base) // pending still, and free
		if f := fixtures[slices.Index(ids, m.ID)]; f.out != nil {
			out = *f.out
		}
		finish(t, s, "lister", attemptAt(m, base, 500, "failed"), out)
	}
	// Another account's message that every filter would match: it must never be listed.
	other := outboxAccount(t, s)
	enqueue(t, s, outboxMessage(other.ID, keyward.NewID(), destA, k1))

	tests := []struct {
		name   string
		filter keyward.OutboxFilter
		want   []string
	}{
		{"everything", keyward.OutboxFilter{}, []string{"m5", "m4", "m3", "m2", "m1"}},
		{"destination", keyward.OutboxFilter{Destination: destA}, []string{"m5", "m2", "m1"}},
		{"order key", keyward.OutboxFilter{OrderKey: k1}, []string{"m5", "m3", "m1"}},
		{"destination and order key", keyward.OutboxFilter{Destination: destA, OrderKey: k1}, []string{"m5", "m1"}},
		{"pending", keyward.OutboxFilter{Pending: true}, []string{"m5", "m4", "m1"}},
		{"pending, destination", keyward.OutboxFilter{Pending: true, Destination: destB}, []string{"m4"}},
		{"before", keyward.OutboxFilter{Before: byName["m4"]}, []string{"m3", "m2", "m1"}},
		{"before, pending", keyward.OutboxFilter{Before: byName["m4"], Pending: true}, []string{"m1"}},
		{"limited", keyward.OutboxFilter{Limit: 2}, []string{"m5", "m4"}},
		{"nothing matches", keyward.OutboxFilter{Destination: destB, OrderKey: k2}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.filter
			f.AccountID = a.ID
			if f.Limit == 0 {
				f.Limit = 100
			}
			got, err := s.ListOutbox(ctx, f)
			if err != nil {
				t.Fatalf("ListOutbox(%+v): %v", f, err)
			}
			var gotNames []string
			for _, m := range got {
				gotNames = append(gotNames, names[m.ID])
			}
			wantSame(t, "ListOutbox", gotNames, tt.want)
		})
	}

	newest := slices.Clone(ids)
	slices.Reverse(newest)
	got := pages(t, 2, func(m *keyward.OutboxMessage) string { return m.ID },
		func(before string, limit int) ([]*keyward.OutboxMessage, error) {
			return s.ListOutbox(ctx, keyward.OutboxFilter{AccountID: a.ID, Before: before, Limit: limit})
		})
	wantSame(t, "pages of 2", got, chunk(newest, 2))
}

// testOutboxClaimDue claims the messages that are due, oldest first, up to the limit, and
// leases them: each claim counts an attempt.
func testOutboxClaimDue(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := outboxAccount(t, s)
	dest := destination()
	ids, createOrder := idsOutOfOrder(4)
	due := map[string]time.Time{ // zero: due at CreatedAt, base
		ids[0]: base.Add(-time.Minute),
		ids[2]: base.Add(time.Hour),
	}
	for _, id := range createOrder {
		m := outboxMessage(a.ID, id, dest, "")
		m.NextAttemptAt = due[id]
		enqueue(t, s, m)
	}
	const hold = 2 * time.Hour // outlasts every claim below
	claimAt := func(owner string, now time.Time, limit int) []*keyward.OutboxMessage {
		t.Helper()
		got, err := s.ClaimOutbox(ctx, owner, now, hold, limit)
		if err != nil {
			t.Fatalf("ClaimOutbox(%s, %v): %v", owner, now, err)
		}
		return got
	}

	if got := claimAt("w1", base, 0); len(got) != 0 {
		t.Errorf("ClaimOutbox with limit 0: got %v, want none", messageIDs(got))
	}
	first := claimAt("w1", base, 2)
	wantSame(t, "the first claim, limit 2", messageIDs(first), ids[:2])
	for _, m := range first {
		want := outboxMessage(a.ID, m.ID, dest, "")
		want.NextAttemptAt = base
		if d, ok := due[m.ID]; ok {
			want.NextAttemptAt = d
		}
		want.Attempts, want.LeaseOwner, want.LeaseUntil = 1, "w1", at(hold)
		wantSame(t, "claimed message "+m.ID, m, want)
		wantOutboxUTC(t, "claimed message "+m.ID, m)
		wantSame(t, "claimed message read back "+m.ID, readMessage(t, s, a.ID, m.ID), want)
	}
	wantSame(t, "the second claim, at the same time", messageIDs(claimAt("w2", base, 10)), ids[3:])
	wantSame(t, "a claim an hour later", messageIDs(claimAt("w2", base.Add(time.Hour), 10)), ids[2:3])
	if got := claimAt("w3", base.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("a claim with everything leased: got %v, want none", messageIDs(got))
	}
}

// testOutboxClaimOrder: of the messages of one destination and order key, only the oldest
// pending one is handed out; the next one once the first is delivered or abandoned, not
// while it waits for a retry.
func testOutboxClaimOrder(t *testing.T, s keyward.Store) {
	tests := []struct {
		name string
		out  keyward.OutboxOutcome
		// wantSecond says whether the second message is handed out once the first's attempt
		// has come to out.
		wantSecond bool
	}{
		{"first delivered", delivered, true},
		{"first abandoned", abandoned, true},
		{"first to be retried", retryAt(base.Add(time.Hour)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := outboxAccount(t, s)
			dest, key := destination(), "key "+keyward.NewID()
			ids, _ := idsOutOfOrder(2)
			first, second := outboxMessage(a.ID, ids[0], dest, key), outboxMessage(a.ID, ids[1], dest, key)
			enqueue(t, s, second, first) // the id orders them, not the insertion

			m := claimOne(t, s, "w1", base, first.ID)
			if got := claim(t, s, "w2", base, 10); len(got) != 0 {
				t.Fatalf("a claim while the first is leased: got %v, want none", messageIDs(got))
			}
			now := base.Add(time.Second)
			finish(t, s, "w1", attemptAt(m, now, 500, "failed"), tt.out)
			got := claim(t, s, "w2", now, 10)
			if !tt.wantSecond {
				if len(got) != 0 {
					t.Fatalf("a claim while the first waits for its retry: got %v, want none", messageIDs(got))
				}
				// Due again, the first goes before the second.
				m := claimOne(t, s, "w2", base.Add(time.Hour), first.ID)
				if m.Attempts != 2 {
					t.Errorf("the first's Attempts on its second claim: got %d, want 2", m.Attempts)
				}
				return
			}
			wantSame(t, "a claim once the first is done", messageIDs(got), []string{second.ID})
		})
	}

	t.Run("scope", func(t *testing.T) {
		// Only one destination and order key together order messages; "" orders nothing.
		a := outboxAccount(t, s)
		dest, key := destination(), "key "+keyward.NewID()
		fixtures := []struct {
			name, dest, key string
		}{
			{"first of the pair", dest, key},
			{"second of the pair", dest, key},
			{"same key, other destination", destination(), key},
			{"same destination, other key", dest, "key " + keyward.NewID()},
			{"no key", dest, ""},
			{"no key again", dest, ""},
		}
		ids, _ := idsOutOfOrder(len(fixtures))
		names := map[string]string{}
		for i, f := range fixtures {
			names[ids[i]] = f.name
			enqueue(t, s, outboxMessage(a.ID, ids[i], f.dest, f.key))
		}
		var got []string
		for _, m := range claim(t, s, "w1", base, 10) {
			got = append(got, names[m.ID])
		}
		wantSame(t, "ClaimOutbox", got, []string{"first of the pair", "same key, other destination",
			"same destination, other key", "no key", "no key again"})
	})
}

// testOutboxClaimLeased: a leased message is not handed out again while its lease lasts, to
// anyone, its holder included.
func testOutboxClaimLeased(t *testing.T, s keyward.Store) {
	a := outboxAccount(t, s)
	m := outboxMessage(a.ID, keyward.NewID(), destination(), "")
	enqueue(t, s, m)
	claimOne(t, s, "w1", base, m.ID)
	for _, c := range []struct {
		owner string
		now   time.Time
	}{
		{"w2", base},
		{"w1", base},
		{"w2", base.Add(lease - time.Microsecond)},
	} {
		if got := claim(t, s, c.owner, c.now, 10); len(got) != 0 {
			t.Errorf("ClaimOutbox(%s, %v) with the lease to w1 until %v: got %v, want none",
				c.owner, c.now, base.Add(lease), messageIDs(got))
		}
	}
	got := readMessage(t, s, a.ID, m.ID)
	if got.Attempts != 1 || got.LeaseOwner != "w1" {
		t.Errorf("after the refused claims: Attempts %d, LeaseOwner %q; want 1, w1", got.Attempts, got.LeaseOwner)
	}
}

// testOutboxLeaseExpires: once a lease runs out another owner may claim the message, and the
// first holder can no longer finish it; a lease that ran out unclaimed still lets its holder
// finish.
func testOutboxLeaseExpires(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := outboxAccount(t, s)
	dest := destination()
	taken, kept := outboxMessage(a.ID, keyward.NewID(), dest, ""), outboxMessage(a.ID, keyward.NewID(), dest, "")
	enqueue(t, s, taken)

	m1 := claimOne(t, s, "w1", base, taken.ID)
	later := base.Add(lease)
	m2 := claimOne(t, s, "w2", later, taken.ID)
	if m2.Attempts != 2 || m2.LeaseOwner != "w2" || !m2.LeaseUntil.Equal(later.Add(lease)) {
		t.Errorf("reclaimed: Attempts %d, LeaseOwner %q, LeaseUntil %v; want 2, w2, %v",
			m2.Attempts, m2.LeaseOwner, m2.LeaseUntil, later.Add(lease))
	}
	err := s.FinishOutbox(ctx, "w1", attemptAt(m1, later, 200, ""), delivered)
	wantCode(t, "FinishOutbox by the holder whose lease was taken over", err, keyward.EConflict)
	wantSame(t, "the message after the refused finish", readMessage(t, s, a.ID, taken.ID), m2)
	wantSame(t, "attempts after the refused finish", readAttempts(t, s, a.ID, taken.ID), []*keyward.OutboxAttempt(nil))
	finish(t, s, "w2", attemptAt(m2, later, 200, ""), delivered)

	enqueue(t, s, kept)
	m := claimOne(t, s, "w1", base, kept.ID)
	finish(t, s, "w1", attemptAt(m, base.Add(2*lease), 200, ""), delivered)
	if got := readMessage(t, s, a.ID, kept.ID); got.DeliveredAt == nil {
		t.Errorf("a message finished after its lease ran out unclaimed: got %+v, want it delivered", got)
	}
}

// testOutboxClaimConcurrently has workers claim and deliver messages at once until none is
// left: each message is claimed exactly once, and the messages of one order key in order.
func testOutboxClaimConcurrently(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := outboxAccount(t, s)
	dest := destination()
	const (
		messages = 50
		unkeyed  = 20 // the rest share keys, three messages to a key
		keys     = 10
		workers  = 4
		// rounds bounds each worker's loop: with claims of three, 50 messages take 17 rounds
		// of one worker.
		rounds = 100
	)
	ids, createOrder := idsOutOfOrder(messages)
	keyOf := map[string]string{}
	for i, id := range ids {
		if i >= unkeyed {
			keyOf[id] = fmt.Sprintf("key %d", (i-unkeyed)%keys)
		}
	}
	var msgs []*keyward.OutboxMessage
	for _, id := range createOrder {
		msgs = append(msgs, outboxMessage(a.ID, id, dest, keyOf[id]))
	}
	enqueue(t, s, msgs...)

	var (
		mu      sync.Mutex
		claimed []string // in the order the claims returned them
		counts  = map[string]int{}
		wg      sync.WaitGroup
		errs    = make(chan error, workers)
	)
	for w := range workers {
		owner := fmt.Sprintf("worker %d", w)
		wg.Go(func() {
			for range rounds {
				got, err := s.ClaimOutbox(ctx, owner, base, time.Hour, 3)
				if err != nil {
					errs <- fmt.Errorf("%s: ClaimOutbox: %w", owner, err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					claimed = append(claimed, m.ID)
					counts[m.ID]++
				}
				mu.Unlock()
				for _, m := range got {
					if err := s.FinishOutbox(ctx, owner, attemptAt(m, base, 200, ""), delivered); err != nil {
						errs <- fmt.Errorf("%s: FinishOutbox %s: %w", owner, m.ID, err)
						return
					}
				}
			}
			errs <- fmt.Errorf("%s: still claiming after %d rounds", owner, rounds)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for _, id := range ids {
		if counts[id] != 1 {
			t.Errorf("message %s (key %q): claimed %d times, want 1", id, keyOf[id], counts[id])
		}
	}
	if len(counts) != len(ids) {
		t.Errorf("claimed %d distinct messages, want only this test's %d", len(counts), len(ids))
	}
	// A message of a key is claimed only once the one before it is delivered, which its
	// worker does after noting the claim, so the claims of one key are noted in id order.
	byKey := map[string][]string{}
	for _, id := range claimed {
		if k := keyOf[id]; k != "" {
			byKey[k] = append(byKey[k], id)
		}
	}
	for k, got := range byKey {
		if !slices.IsSorted(got) {
			t.Errorf("%s: claimed in the order %v, want id order", k, got)
		}
	}
	pending, err := s.ListOutbox(ctx, keyward.OutboxFilter{AccountID: a.ID, Pending: true, Limit: 100})
	if err != nil || len(pending) != 0 {
		t.Errorf("pending after the workers: got %v, %v; want none", messageIDs(pending), err)
	}
}

// testOutboxFinish records attempts and moves messages on: delivered and abandoned ones lose
// their sealed material and their lease, a retried one keeps it and is due at its retry time.
func testOutboxFinish(t *testing.T, s keyward.Store) {
	retry := base.Add(time.Hour)
	tests := []struct {
		name string
		out  keyward.OutboxOutcome
		// status and errText are what the second attempt met.
		status  int
		errText string
		// edit makes the message what the second attempt, at at, leaves it.
		edit func(want *keyward.OutboxMessage, at time.Time)
	}{
		{"delivered", delivered, 204, "", func(want *keyward.OutboxMessage, at time.Time) {
			want.DeliveredAt, want.Sealed, want.LastError = &at, nil, ""
		}},
		{"abandoned", abandoned, 410, "410 Gone", func(want *keyward.OutboxMessage, at time.Time) {
			want.AbandonedAt, want.Sealed, want.LastError = &at, nil, "410 Gone"
		}},
		{"retry", retryAt(retry), 0, "timeout", func(want *keyward.OutboxMessage, at time.Time) {
			want.NextAttemptAt, want.LastError = retry, "timeout"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := outboxAccount(t, s)
			m := outboxMessage(a.ID, keyward.NewID(), destination(), "key "+keyward.NewID())
			m.Sealed = []byte("sealed secret")
			enqueue(t, s, m)

			// A first attempt fails, and the message is retried a minute later.
			c1 := claimOne(t, s, "w1", base, m.ID)
			a1 := attemptAt(c1, base.Add(time.Second), 503, "503 Service Unavailable")
			finish(t, s, "w1", a1, retryAt(base.Add(time.Minute)))
			want := *m
			want.Attempts, want.NextAttemptAt, want.LastError = 1, base.Add(time.Minute), a1.Error
			wantSame(t, "after a retry", readMessage(t, s, a.ID, m.ID), &want)

			c2 := claimOne(t, s, "w2", base.Add(time.Minute), m.ID)
			at := base.Add(time.Minute + time.Second)
			a2 := attemptAt(c2, at, tt.status, tt.errText)
			finish(t, s, "w2", a2, tt.out)
			want.Attempts = 2
			tt.edit(&want, at)
			got := readMessage(t, s, a.ID, m.ID)
			wantSame(t, "after the second attempt", got, &want)
			wantOutboxUTC(t, "after the second attempt", got)

			attempts := readAttempts(t, s, a.ID, m.ID)
			wantSame(t, "OutboxAttempts", attempts, []*keyward.OutboxAttempt{a1, a2})
			for _, a := range attempts {
				if a.At.Location() != time.UTC {
					t.Errorf("attempt %d: At: got location %v, want UTC", a.Attempt, a.At.Location())
				}
			}
		})
	}
}

// testOutboxFinishRefused: a finish by someone who does not hold the message, of a message
// that is not there, or with an outcome that makes no sense, changes nothing.
func testOutboxFinishRefused(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		// setup stores what the case needs and returns the finish to try.
		setup func(t *testing.T, a *keyward.Account) (owner string, at *keyward.OutboxAttempt, out keyward.OutboxOutcome)
		want  keyward.Code
	}{
		{"no such message", func(t *testing.T, a *keyward.Account) (string, *keyward.OutboxAttempt, keyward.OutboxOutcome) {
			return "w1", &keyward.OutboxAttempt{MessageID: keyward.NewID(), Attempt: 1, At: base}, delivered
		}, keyward.ENotFound},
		{"never claimed", func(t *testing.T, a *keyward.Account) (string, *keyward.OutboxAttempt, keyward.OutboxOutcome) {
			m := outboxMessage(a.ID, keyward.NewID(), destination(), "")
			enqueue(t, s, m)
			return "w1", &keyward.OutboxAttempt{MessageID: m.ID, Attempt: 1, At: base}, delivered
		}, keyward.EConflict},
		{"held by another", func(t *testing.T, a *keyward.Account) (string, *keyward.OutboxAttempt, keyward.OutboxOutcome) {
			m := outboxMessage(a.ID, keyward.NewID(), destination(), "")
			enqueue(t, s, m)
			c := claimOne(t, s, "w1", base, m.ID)
			return "w2", attemptAt(c, base, 200, ""), delivered
		}, keyward.EConflict},
		{"finished already", func(t *testing.T, a *keyward.Account) (string, *keyward.OutboxAttempt, keyward.OutboxOutcome) {
			m := outboxMessage(a.ID, keyward.NewID(), destination(), "")
			enqueue(t, s, m)
			c := claimOne(t, s, "w1", base, m.ID)
			finish(t, s, "w1", attemptAt(c, base, 200, ""), delivered)
			return "w1", attemptAt(c, base, 200, ""), delivered
		}, keyward.EConflict},
		{"attempt recorded already", func(t *testing.T, a *keyward.Account) (string, *keyward.OutboxAttempt, keyward.OutboxOutcome) {
			m := outboxMessage(a.ID, keyward.NewID(), destination(), "")
			enqueue(t, s, m)
			c := claimOne(t, s, "w1", base, m.ID)
			finish(t, s, "w1", attemptAt(c, base, 500, "failed"), retryAt(base))
			claimOne(t, s, "w1", base, m.ID)
			return "w1", attemptAt(c, base, 200, ""), delivered // c's attempt number, 1, again
		}, keyward.EConflict},
		{"delivered and abandoned", func(t *testing.T, a *keyward.Account) (string, *keyward.OutboxAttempt, keyward.OutboxOutcome) {
			m := outboxMessage(a.ID, keyward.NewID(), destination(), "")
			enqueue(t, s, m)
			c := claimOne(t, s, "w1", base, m.ID)
			return "w1", attemptAt(c, base, 200, ""), keyward.OutboxOutcome{Delivered: true, Abandon: true}
		}, keyward.EValidation},
		{"retry at no time", func(t *testing.T, a *keyward.Account) (string, *keyward.OutboxAttempt, keyward.OutboxOutcome) {
			m := outboxMessage(a.ID, keyward.NewID(), destination(), "")
			enqueue(t, s, m)
			c := claimOne(t, s, "w1", base, m.ID)
			return "w1", attemptAt(c, base, 500, "failed"), keyward.OutboxOutcome{}
		}, keyward.EValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := outboxAccount(t, s)
			owner, at, out := tt.setup(t, a)
			before, errBefore := s.OutboxMessage(ctx, a.ID, at.MessageID)
			attemptsBefore, _ := s.OutboxAttempts(ctx, a.ID, at.MessageID)
			wantCode(t, "FinishOutbox", s.FinishOutbox(ctx, owner, at, out), tt.want)
			if errBefore != nil {
				return // nothing there to change
			}
			wantSame(t, "the message after the refused finish", readMessage(t, s, a.ID, at.MessageID), before)
			wantSame(t, "attempts after the refused finish", readAttempts(t, s, a.ID, at.MessageID), attemptsBefore)
		})
	}

	t.Run("claims", func(t *testing.T) {
		for _, c := range []struct {
			owner string
			lease time.Duration
		}{
			{"", time.Minute},
			{"w1", 0},
			{"w1", -time.Minute},
		} {
			_, err := s.ClaimOutbox(ctx, c.owner, base, c.lease, 10)
			wantCode(t, fmt.Sprintf("ClaimOutbox(owner %q, lease %v)", c.owner, c.lease), err, keyward.EValidation)
		}
	})
}

// testOutboxRetry requeues messages by hand: delivered, abandoned or leased, each is pending
// again, free, and due at the time given.
func testOutboxRetry(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	requeue := base.Add(time.Hour)
	tests := []struct {
		name string
		out  *keyward.OutboxOutcome // nil: left leased to w1
	}{
		{"delivered", &delivered},
		{"abandoned", &abandoned},
		{"leased", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := outboxAccount(t, s)
			m := outboxMessage(a.ID, keyward.NewID(), destination(), "")
			enqueue(t, s, m)
			c := claimOne(t, s, "w1", base, m.ID)
			if tt.out != nil {
				finish(t, s, "w1", attemptAt(c, base, 500, "failed"), *tt.out)
			}
			if err := s.RetryOutbox(ctx, a.ID, m.ID, requeue); err != nil {
				t.Fatalf("RetryOutbox: %v", err)
			}
			if tt.out == nil {
				// RetryOutbox released w1's lease: w1 holds nothing now.
				err := s.FinishOutbox(ctx, "w1", attemptAt(c, base, 200, ""), delivered)
				wantCode(t, "FinishOutbox by the holder before RetryOutbox", err, keyward.EConflict)
			}
			got := readMessage(t, s, a.ID, m.ID)
			if !got.Pending() || !got.NextAttemptAt.Equal(requeue) || got.LeaseOwner != "" || got.LeaseUntil != nil {
				t.Errorf("after RetryOutbox: got %+v, want it pending, free and due at %v", got, requeue)
			}
			if got := claim(t, s, "w2", requeue.Add(-time.Microsecond), 10); len(got) != 0 {
				t.Errorf("a claim before the message is due again: got %v, want none", messageIDs(got))
			}
			again := claimOne(t, s, "w2", requeue, m.ID)
			if again.Attempts != 2 {
				t.Errorf("Attempts on the claim after RetryOutbox: got %d, want 2", again.Attempts)
			}
			finish(t, s, "w2", attemptAt(again, requeue, 200, ""), delivered)
		})
	}

	a := outboxAccount(t, s)
	wantCode(t, "RetryOutbox of no message", s.RetryOutbox(ctx, a.ID, keyward.NewID(), requeue), keyward.ENotFound)
}

// testOutboxPrune deletes finished messages created before a time, with their attempts, and
// leaves pending and newer ones. PruneOutbox reaches every account: the messages are created
// decades before base, where no other test makes any, so the count is this test's alone.
func testOutboxPrune(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := outboxAccount(t, s)
	long := base.AddDate(-40, 0, 0)
	fixtures := []struct {
		name      string
		createdAt time.Time
		out       keyward.OutboxOutcome
		wantGone  bool
	}{
		{"old delivered", long, delivered, true},
		{"old abandoned", long, abandoned, true},
		{"old pending", long, retryAt(long.Add(time.Hour)), false},
		{"newer delivered", long.Add(2 * time.Hour), delivered, false},
	}
	ids, _ := idsOutOfOrder(len(fixtures))
	dest := destination()
	for i, f := range fixtures {
		m := outboxMessage(a.ID, ids[i], dest, "")
		m.CreatedAt = f.createdAt
		enqueue(t, s, m)
	}
	now := long.Add(2 * time.Hour)
	got := claim(t, s, "w1", now, 10)
	wantSame(t, "ClaimOutbox", messageIDs(got), ids)
	for i, m := range got {
		finish(t, s, "w1", attemptAt(m, now, 500, "failed"), fixtures[i].out)
	}

	n, err := s.PruneOutbox(ctx, long.Add(time.Hour))
	if err != nil {
		t.Fatalf("PruneOutbox: %v", err)
	}
	if n != 2 {
		t.Errorf("PruneOutbox: got %d messages pruned, want 2", n)
	}
	for i, f := range fixtures {
		_, errMessage := s.OutboxMessage(ctx, a.ID, ids[i])
		attempts, errAttempts := s.OutboxAttempts(ctx, a.ID, ids[i])
		if f.wantGone {
			wantCode(t, f.name+": OutboxMessage", errMessage, keyward.ENotFound)
			wantCode(t, f.name+": OutboxAttempts", errAttempts, keyward.ENotFound)
			continue
		}
		if errMessage != nil || errAttempts != nil || len(attempts) != 1 {
			t.Errorf("%s: got message error %v, %d attempts and error %v; want it kept with its attempt",
				f.name, errMessage, len(attempts), errAttempts)
		}
	}
	if n, err := s.PruneOutbox(ctx, long.Add(time.Hour)); err != nil || n != 0 {
		t.Errorf("PruneOutbox again: got %d, %v; want 0", n, err)
	}
}

// testOutboxOtherAccount: another account's message, or none, is not found, and is left as
// it was.
func testOutboxOtherAccount(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a, b := outboxAccount(t, s), outboxAccount(t, s)
	m := outboxMessage(a.ID, keyward.NewID(), destination(), "")
	enqueue(t, s, m)
	c := claimOne(t, s, "w1", base, m.ID)
	finish(t, s, "w1", attemptAt(c, base, 200, ""), delivered)
	want := readMessage(t, s, a.ID, m.ID)

	for _, id := range []string{m.ID, keyward.NewID()} {
		what := "another account's message"
		if id != m.ID {
			what = "no message"
		}
		tests := []struct {
			name string
			err  error
		}{
			{"OutboxMessage", errOf(s.OutboxMessage(ctx, b.ID, id))},
			{"OutboxAttempts", errOf(s.OutboxAttempts(ctx, b.ID, id))},
			{"RetryOutbox", s.RetryOutbox(ctx, b.ID, id, base)},
		}
		for _, tt := range tests {
			wantCode(t, tt.name+" of "+what, tt.err, keyward.ENotFound)
		}
	}
	wantSame(t, "the message after the other account's calls", readMessage(t, s, a.ID, m.ID), want)
	wantNone(t, "ListOutbox of the other account", func() (int, error) {
		got, err := s.ListOutbox(ctx, keyward.OutboxFilter{AccountID: b.ID, Limit: 100})
		return len(got), err
	})
}

// testOutboxInUnit: a message enqueued in a unit that fails is not there afterwards; every
// outbox method works inside a unit and commits with it.
func testOutboxInUnit(t *testing.T, s keyward.Store) {
	ctx := t.Context()
	a := outboxAccount(t, s)

	rolledBack := outboxMessage(a.ID, keyward.NewID(), destination(), "")
	failure := keyward.Errorf(keyward.EConflict, "the function says no")
	err := s.InTx(ctx, func(tx keyward.Store) error {
		if err := tx.EnqueueOutbox(ctx, rolledBack); err != nil {
			return err
		}
		if _, err := tx.OutboxMessage(ctx, a.ID, rolledBack.ID); err != nil {
			return fmt.Errorf("reading the unit's own message: %w", err)
		}
		return failure
	})
	if err != failure {
		t.Fatalf("InTx = %v, want the function's own error", err)
	}
	wantCode(t, "the rolled-back message", errOf(s.OutboxMessage(ctx, a.ID, rolledBack.ID)), keyward.ENotFound)
	if got := claim(t, s, "w1", base, 10); len(got) != 0 {
		t.Errorf("a claim after the rolled-back unit: got %v, want none", messageIDs(got))
	}

	m := outboxMessage(a.ID, keyward.NewID(), destination(), "")
	err = s.InTx(ctx, func(tx keyward.Store) error {
		if err := tx.EnqueueOutbox(ctx, m); err != nil {
			return fmt.Errorf("EnqueueOutbox inside a unit: %w", err)
		}
		got, err := tx.ClaimOutbox(ctx, "w1", base, lease, 10)
		if err != nil || len(got) != 1 || got[0].ID != m.ID {
			return fmt.Errorf("ClaimOutbox inside a unit = %v, %v; want [%s]", messageIDs(got), err, m.ID)
		}
		steps := []struct {
			name string
			err  error
		}{
			{"FinishOutbox", tx.FinishOutbox(ctx, "w1", attemptAt(got[0], base, 500, "failed"), retryAt(base.Add(time.Hour)))},
			{"OutboxMessage", errOf(tx.OutboxMessage(ctx, a.ID, m.ID))},
			{"ListOutbox", errOf(tx.ListOutbox(ctx, keyward.OutboxFilter{AccountID: a.ID, Limit: 10}))},
			{"OutboxAttempts", errOf(tx.OutboxAttempts(ctx, a.ID, m.ID))},
			{"RetryOutbox", tx.RetryOutbox(ctx, a.ID, m.ID, base.Add(2*time.Hour))},
			// Before any message of any test: it deletes nothing.
			{"PruneOutbox", errOf(tx.PruneOutbox(ctx, time.Date(1900, time.January, 1, 0, 0, 0, 0, time.UTC)))},
		}
		for _, st := range steps {
			if st.err != nil {
				return fmt.Errorf("%s inside a unit: %w", st.name, st.err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := readMessage(t, s, a.ID, m.ID)
	if got.Attempts != 1 || got.LastError != "failed" || !got.NextAttemptAt.Equal(base.Add(2*time.Hour)) {
		t.Errorf("after the unit: got %+v, want one failed attempt and due at %v", got, base.Add(2*time.Hour))
	}
	if attempts := readAttempts(t, s, a.ID, m.ID); len(attempts) != 1 {
		t.Errorf("attempts after the unit: got %d, want 1", len(attempts))
	}
}
