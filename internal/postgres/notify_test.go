package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keyward"
)

// eventTimeout bounds each wait for a notice to arrive: no test asserts on time, but none
// may hang.
const eventTimeout = 10 * time.Second

// event is one call a cache received: a key's hash, or an identity change.
type event struct {
	hash     string // hex; "" for an identity change
	key      string // the key's id, for a key change
	identity bool
	account  string
}

// recordingCache is a Cache that records what it is told, in order.
type recordingCache struct {
	events chan event
}

func newRecordingCache() *recordingCache { return &recordingCache{events: make(chan event, 1000)} }

func (c *recordingCache) KeyChanged(_ context.Context, k *keyward.Key) {
	e := event{hash: hex.EncodeToString(k.Hash), key: k.ID, account: k.AccountID}
	if len(k.Hash) == 0 {
		e.hash = ""
	}
	c.events <- e
}

func (c *recordingCache) IdentityChanged(_ context.Context, accountID string) {
	c.events <- event{identity: true, account: accountID}
}

// next returns the next event, failing the test if none comes in time.
func (c *recordingCache) next(t *testing.T, what string) event {
	t.Helper()
	select {
	case e := <-c.events:
		return e
	case <-time.After(eventTimeout):
		t.Fatalf("no event within %s; waiting for %s", eventTimeout, what)
		return event{}
	}
}

// none fails the test if an event is waiting.
func (c *recordingCache) none(t *testing.T) {
	t.Helper()
	select {
	case e := <-c.events:
		t.Errorf("unexpected event %+v", e)
	default:
	}
}

// startListener runs a Listener on dsn under a name of the test's own, waits until it
// listens, and stops it when the test ends.
func startListener(t *testing.T, dsn string, cache Cache) (*Listener, string) {
	t.Helper()
	return startListenerWith(t, dsn, cache, ListenerConfig{})
}

// startListenerWith is startListener with cfg's idle check.
func startListenerWith(t *testing.T, dsn string, cache Cache, cfg ListenerConfig) (*Listener, string) {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	name := "keyward-test-" + hex.EncodeToString(b)
	var logs syncBuffer
	l, err := NewListener(dsn, cache, ListenerConfig{
		ApplicationName: name,
		MinBackoff:      10 * time.Millisecond,
		MaxBackoff:      100 * time.Millisecond,
		IdleCheck:       cfg.IdleCheck,
		Logger:          slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		l.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(eventTimeout):
			t.Errorf("Run did not return within %s of its context's end", eventTimeout)
		}
		if t.Failed() {
			t.Logf("listener log:\n%s", logs.String())
		}
	})
	select {
	case <-l.Listening():
	case <-time.After(adminTimeout):
		t.Fatalf("the listener did not listen within %s:\n%s", adminTimeout, logs.String())
	}
	return l, name
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// listenerPID returns the backend pid of the session named name, waiting for it to appear.
func listenerPID(t *testing.T, admin *pgx.Conn, name string) int32 {
	t.Helper()
	deadline := time.Now().Add(adminTimeout)
	for {
		var pid int32
		err := admin.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, name).Scan(&pid)
		if err == nil {
			return pid
		}
		if err != pgx.ErrNoRows || time.Now().After(deadline) {
			t.Fatalf("finding the listener's session %s: %v", name, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestNotifierReachesEveryListener(t *testing.T) {
	dsn := testDatabase(t)
	store := openStore(t, dsn)
	local := newRecordingCache()
	remote := newRecordingCache()
	_, _ = startListener(t, dsn, remote)
	if e := remote.next(t, "the flush on connecting"); !e.identity || e.account != "" {
		t.Fatalf("first event %+v, want the whole cache dropped on connecting", e)
	}
	n := NewNotifier(store, local, nil)

	hash := bytes.Repeat([]byte{0xab}, 32)
	n.KeyChanged(t.Context(), &keyward.Key{ID: "k1", AccountID: "acct-1", Hash: hash})
	n.IdentityChanged(t.Context(), "acct-1")
	// The notice carries the key's id and account, for caches by id and the event stream.
	want := []event{{hash: hex.EncodeToString(hash), key: "k1", account: "acct-1"}, {identity: true, account: "acct-1"}}
	for i, w := range want {
		// The local cache hears at once, before the call returns.
		select {
		case got := <-local.events:
			if got != w {
				t.Errorf("local event %d = %+v, want %+v", i, got, w)
			}
		default:
			t.Errorf("local event %d: none, want %+v at once", i, w)
		}
		if got := remote.next(t, "a notice"); got != w {
			t.Errorf("remote event %d = %+v, want %+v", i, got, w)
		}
	}

	// A change already gone from the store (no hash) drops nothing elsewhere.
	n.KeyChanged(t.Context(), &keyward.Key{ID: "k2"})
	if got := local.next(t, "the local drop"); got.hash != "" || got.identity {
		t.Errorf("local event %+v", got)
	}
	// A notice from a canceled request still goes out: the change is committed.
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	n.KeyChanged(canceled, &keyward.Key{ID: "k3", Hash: hash})
	local.next(t, "the local drop")
	if got := remote.next(t, "the notice of a canceled request"); got.hash != hex.EncodeToString(hash) {
		t.Errorf("remote event %+v, want the key's hash", got)
	}
	remote.none(t)
}

func TestListenerDropsEverythingOnANoticeItDoesNotUnderstand(t *testing.T) {
	dsn := testDatabase(t)
	cache := newRecordingCache()
	startListener(t, dsn, cache)
	cache.next(t, "the flush on connecting")
	admin := session(t, dsn)
	for _, payload := range []string{"not hex", "", "v2:something-new"} {
		if _, err := admin.Exec(t.Context(), "SELECT pg_notify($1, $2)", Channel, payload); err != nil {
			t.Fatal(err)
		}
		if got := cache.next(t, "the notice "+payload); !got.identity {
			t.Errorf("notice %q: event %+v, want the whole cache dropped", payload, got)
		}
	}
}

// TestListenerFlushesOnReconnect ends the listener's session behind its back, sends a notice
// while it is gone, and checks that the listener comes back and drops the whole cache,
// which covers the notice it missed.
func TestListenerFlushesOnReconnect(t *testing.T) {
	dsn := testDatabase(t)
	cache := newRecordingCache()
	l, name := startListener(t, dsn, cache)
	cache.next(t, "the flush on connecting")
	if !l.Connected() || l.Ready() != nil {
		t.Fatalf("Connected = %v, Ready = %v after Listening; want connected", l.Connected(), l.Ready())
	}
	admin := session(t, dsn)
	pid := listenerPID(t, admin, name)

	var ok bool
	if err := admin.QueryRow(t.Context(), "SELECT pg_terminate_backend($1, 10000)", pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
	if got := cache.next(t, "the flush on reconnecting"); !got.identity || got.account != "" {
		t.Fatalf("event after reconnecting %+v, want the whole cache dropped", got)
	}
	if again := listenerPID(t, admin, name); again == pid {
		t.Errorf("the listener's session is still backend %d", pid)
	}
	// And notices reach it again.
	hash := bytes.Repeat([]byte{0x01}, 32)
	if _, err := admin.Exec(t.Context(), "SELECT pg_notify($1, $2)", Channel, hex.EncodeToString(hash)); err != nil {
		t.Fatal(err)
	}
	if got := cache.next(t, "a notice after reconnecting"); got.hash != hex.EncodeToString(hash) {
		t.Errorf("event %+v, want the key's hash", got)
	}
}

// TestListenerSurvivesSilence lets the session idle past several checks and sees that it
// stays the same session and still hears notices: an idle check must not be taken for a
// lost session.
func TestListenerSurvivesSilence(t *testing.T) {
	dsn := testDatabase(t)
	cache := newRecordingCache()
	l, name := startListenerWith(t, dsn, cache, ListenerConfig{IdleCheck: 20 * time.Millisecond})
	cache.next(t, "the flush on connecting")
	admin := session(t, dsn)
	pid := listenerPID(t, admin, name)
	time.Sleep(200 * time.Millisecond) // about ten idle checks
	hash := bytes.Repeat([]byte{0x02}, 32)
	if _, err := admin.Exec(t.Context(), "SELECT pg_notify($1, $2)", Channel, hex.EncodeToString(hash)); err != nil {
		t.Fatal(err)
	}
	if got := cache.next(t, "a notice after a silence"); got.hash != hex.EncodeToString(hash) {
		t.Errorf("event %+v, want the key's hash (and no reconnection's flush before it)", got)
	}
	if again := listenerPID(t, admin, name); again != pid || !l.Connected() {
		t.Errorf("after a silence: backend %d (was %d), Connected = %v; want the same session", again, pid, l.Connected())
	}
}

func TestListenerReportsWhyItIsNotReady(t *testing.T) {
	// Nothing listens on port 1 of the loopback address: every attempt fails at once.
	l, err := NewListener("postgres://keyward:hunter2@127.0.0.1:1/keyward?connect_timeout=1", newRecordingCache(), ListenerConfig{
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&syncBuffer{}, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if l.Connected() || l.Ready() == nil {
		t.Errorf("before Run: Connected = %v, Ready = %v; want not ready", l.Connected(), l.Ready())
	}
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		l.Run(ctx)
	}()
	deadline := time.Now().Add(eventTimeout)
	for l.Ready() == nil || !strings.Contains(l.Ready().Error(), "connect") {
		if time.Now().After(deadline) {
			t.Fatalf("Ready = %v, want the connection failure", l.Ready())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := l.Ready(); strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Ready quotes the password: %v", err)
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(eventTimeout):
		t.Fatalf("Run did not return within %s of its context's end", eventTimeout)
	}
	select {
	case <-l.Listening():
		t.Errorf("Listening is closed, but the listener never listened")
	default:
	}
}

func TestNewListenerDoesNotQuoteTheDSN(t *testing.T) {
	_, err := NewListener("postgres://keyward:hunter2@[::1/keyward", newRecordingCache(), ListenerConfig{})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("NewListener error %v; want one that does not quote the DSN", err)
	}
}

func TestListenerBackoff(t *testing.T) {
	l := &Listener{cfg: ListenerConfig{MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second}}
	for _, tc := range []struct {
		attempt int
		ceiling time.Duration
	}{
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{5, 1600 * time.Millisecond},
		{8, 10 * time.Second},
		{40, 10 * time.Second},
		{1000, 10 * time.Second},
	} {
		for range 100 {
			if got := l.backoff(tc.attempt); got < tc.ceiling/2 || got > tc.ceiling {
				t.Errorf("backoff(%d) = %s, want within [%s, %s]", tc.attempt, got, tc.ceiling/2, tc.ceiling)
				break
			}
		}
	}
}
