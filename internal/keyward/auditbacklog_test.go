package keyward_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/sqlite"
)

// outageStore is a real store that, while down, refuses every unit of work and every audit
// insert as an unavailable database does.
type outageStore struct {
	keyward.Store
	down atomic.Bool
}

var errDown = &keyward.Error{Code: keyward.EUnavailable, Message: "the database is unavailable; retry shortly"}

func (s *outageStore) InTx(ctx context.Context, fn func(tx keyward.Store) error) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.InTx(ctx, fn)
}

func (s *outageStore) RecordAudit(ctx context.Context, e *keyward.AuditEvent) error {
	if s.down.Load() {
		return errDown
	}
	return s.Store.RecordAudit(ctx, e)
}

// The attempts refused while the store was away are recorded once it is back, in their
// place in the log (their own ids and times); past the backlog's bound the loss is logged
// with its count; and nothing that succeeded is ever in the backlog, since its record commits
// with it.
func TestAuditCatchesUpAfterAnOutage(t *testing.T) {
	ctx := t.Context()
	inner, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	store := &outageStore{Store: inner}
	hasher, err := keyformat.NewHasher(keyformat.Secret{Version: 1, Value: bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	// A small backlog, so that filling it and writing it back costs the test little; the
	// default holds keyward.AuditBacklogSize.
	const size = 200
	svc := keyward.NewService(store, hasher, keyward.WithAuditBacklog(size), keyward.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	admin, _, err := svc.CreateAdminKey(ctx, "acme", "root")
	if err != nil {
		t.Fatal(err)
	}
	owner := keyward.Principal{AccountID: admin.AccountID, Kind: keyward.KindAdminKey, ID: admin.ID, Permissions: keyward.Permissions{"*"}}

	store.down.Store(true)
	const extra = 7
	attempts := size + extra
	for i := range attempts {
		_, err := svc.CreateProject(ctx, owner, keyward.CreateProjectInput{Name: fmt.Sprintf("p%d", i)})
		if keyward.ErrorCode(err) != keyward.EUnavailable {
			t.Fatalf("attempt %d during the outage: %v, want service_unavailable", i, err)
		}
	}
	if n := svc.AuditBacklog(); n != size {
		t.Fatalf("backlog = %d, want it full at %d", n, size)
	}
	if !strings.Contains(logs.String(), "audit backlog is full") {
		t.Error("the loss was not logged as it began")
	}
	if _, err := svc.FlushAuditBacklog(ctx); keyward.ErrorCode(err) != keyward.EUnavailable {
		t.Fatalf("flush during the outage: %v, want the outage", err)
	}
	if n := svc.AuditBacklog(); n != size {
		t.Fatalf("backlog after a failed flush = %d, want %d kept", n, size)
	}
	if !strings.Contains(logs.String(), fmt.Sprintf("lost=%d", extra)) {
		t.Errorf("the log does not say that %d records were lost:\n%s", extra, tail(logs.String()))
	}

	store.down.Store(false)
	written, err := svc.FlushAuditBacklog(ctx)
	if err != nil || written != size {
		t.Fatalf("flush after the outage: wrote %d, %v; want %d", written, err, size)
	}
	if n := svc.AuditBacklog(); n != 0 {
		t.Errorf("backlog after the outage = %d, want 0", n)
	}
	failures := 0
	for after := ""; ; {
		page, next, err := svc.ListAuditEvents(ctx, owner, keyward.AuditQuery{Action: keyward.ActionCreateProject, Outcome: keyward.OutcomeFailure, Page: keyward.Page{After: after, Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if e.ErrorCode != string(keyward.EUnavailable) {
				t.Fatalf("record %s: code %q, want service_unavailable", e.ID, e.ErrorCode)
			}
		}
		failures += len(page)
		if next == "" {
			break
		}
		after = next
	}
	if failures != size {
		t.Errorf("failure records in the log = %d, want %d (attempts %d, lost %d)", failures, size, attempts, extra)
	}

	// A success writes its record in its own unit: nothing waits in the backlog.
	if _, err := svc.CreateProject(ctx, owner, keyward.CreateProjectInput{Name: "after"}); err != nil {
		t.Fatal(err)
	}
	if n := svc.AuditBacklog(); n != 0 {
		t.Errorf("backlog after a success = %d, want 0", n)
	}
	t.Logf("attempts during the outage %d, audit records caught up %d, lost (logged) %d", attempts, written, extra)
}

// syncBuffer is a bytes.Buffer safe for concurrent writes by the logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}
