package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// leaseKey is the advisory lock the lease tests take, with both 32-bit halves set so that a
// lease that dropped either half would be caught by holderPID. The tests' databases are their
// own, and advisory locks are per database, so no other test meets it.
const leaseKey int64 = 0x4b657977_61726401

// TestLease runs two nodes' leases on one key through a sequence of steps: one holds it at a
// time, a release hands it over, and a holder whose connection is ended learns it on its next
// call while the other takes over.
func TestLease(t *testing.T) {
	dsn := testDatabase(t)
	ctx := t.Context()
	leases := map[string]*Lease{"a": NewLease(dsn, leaseKey), "b": NewLease(dsn, leaseKey)}
	t.Cleanup(func() {
		for _, l := range leases {
			ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
			l.Release(ctx)
			cancel()
		}
	})
	admin := session(t, dsn)

	acquire := func(name string, want bool) {
		t.Helper()
		got, err := leases[name].Acquire(ctx)
		if err != nil || got != want {
			t.Fatalf("%s.Acquire: got %v, %v; want %v", name, got, err, want)
		}
	}
	steps := []struct {
		what string
		do   func()
	}{
		{"a takes the lease", func() { acquire("a", true) }},
		{"b finds it taken", func() { acquire("b", false) }},
		// Held already, a only checks its connection: it takes the lock no second time,
		// which one Release would not undo.
		{"a holds it still", func() { acquire("a", true) }},
		{"b finds it taken still", func() { acquire("b", false) }},
		{"a releases it", func() {
			if err := leases["a"].Release(ctx); err != nil {
				t.Fatalf("a.Release: %v", err)
			}
		}},
		{"b takes it", func() { acquire("b", true) }},
		{"a, connecting again, finds it taken", func() { acquire("a", false) }},
		{"another key is another lease", func() {
			other := NewLease(dsn, leaseKey+1)
			defer other.Release(ctx)
			if got, err := other.Acquire(ctx); err != nil || !got {
				t.Fatalf("Acquire of another key: got %v, %v; want true", got, err)
			}
		}},
		{"b's session is ended from outside", func() {
			var ended bool
			// With a timeout, pg_terminate_backend waits for the session to be gone, and the
			// lock with it.
			if err := admin.QueryRow(ctx, `SELECT pg_terminate_backend($1, $2)`,
				holderPID(t, admin), adminTimeout.Milliseconds()).Scan(&ended); err != nil || !ended {
				t.Fatalf("pg_terminate_backend: got %v, %v; want true", ended, err)
			}
		}},
		{"b learns it lost the lease", func() {
			got, err := leases["b"].Acquire(ctx)
			if got || err == nil {
				t.Fatalf("b.Acquire after its session ended: got %v, %v; want false and the error", got, err)
			}
		}},
		{"a takes it", func() { acquire("a", true) }},
		{"b, connecting again, finds it taken", func() { acquire("b", false) }},
	}
	for _, st := range steps {
		t.Logf("step: %s", st.what)
		st.do()
	}
}

// TestLeaseUnreachable: a lease on a server that is not there is not held, and says why.
func TestLeaseUnreachable(t *testing.T) {
	// Port 1 on the loopback address: nothing listens there, and the refusal is immediate.
	l := NewLease("postgres://keyward@127.0.0.1:1/keyward?sslmode=disable&connect_timeout=5", leaseKey)
	got, err := l.Acquire(t.Context())
	if got || err == nil {
		t.Fatalf("Acquire: got %v, %v; want false and an error", got, err)
	}
	if err := l.Release(t.Context()); err != nil {
		t.Errorf("Release of a lease never held: %v", err)
	}
}

// holderPID returns the process id of the session that holds the lease key in the test's
// database, failing the test unless exactly one does. A bigint advisory key is kept as two
// 32-bit halves: classid the high, objid the low, with objsubid 1.
func holderPID(t *testing.T, c *pgx.Conn) int32 {
	t.Helper()
	rows, err := c.Query(t.Context(), `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
			AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
			AND classid = $1::bigint::oid AND objid = $2::bigint::oid`,
		leaseKey>>32, leaseKey&0xffffffff)
	if err != nil {
		t.Fatalf("reading pg_locks: %v", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		t.Fatalf("reading pg_locks: %v", err)
	}
	if len(pids) != 1 {
		t.Fatalf("sessions holding the lease key: got %v, want one", pids)
	}
	return pids[0]
}

// TestLeaseHeldOnce acquires a held lease again and again: its session takes the lock once,
// so that the one unlock of Release frees it at once, not only when the session ends.
func TestLeaseHeldOnce(t *testing.T) {
	dsn := testDatabase(t)
	ctx := t.Context()
	l := NewLease(dsn, leaseKey)
	defer l.Release(ctx)
	for i := range 3 {
		if got, err := l.Acquire(ctx); err != nil || !got {
			t.Fatalf("Acquire #%d: got %v, %v; want true", i+1, got, err)
		}
	}
	var unlocked bool
	if err := l.conn.QueryRow(ctx, `SELECT pg_advisory_unlock($1)`, leaseKey).Scan(&unlocked); err != nil || !unlocked {
		t.Fatalf("pg_advisory_unlock on the lease's session: got %v, %v; want true", unlocked, err)
	}
	admin := session(t, dsn)
	var held bool
	if err := admin.QueryRow(ctx, `SELECT NOT pg_try_advisory_lock($1)`, leaseKey).Scan(&held); err != nil {
		t.Fatalf("pg_try_advisory_lock: %v", err)
	}
	if held {
		t.Errorf("after one unlock the lease's session still holds the lock: it took it more than once")
	}
}
