package httpapi_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/events"
	"github.com/keyward/keyward/internal/httpapi"
)

// sseEvent is one event of a stream as a client reads it; a heartbeat is Event ":".
type sseEvent struct {
	ID, Event, Data string
}

// sseStream reads a stream's events in the background.
type sseStream struct {
	t      *testing.T
	status int
	events chan sseEvent
	cancel context.CancelFunc
	done   chan struct{}
}

// openStream opens GET /v1/events at base with token, resuming after lastID when not "".
func openStream(t *testing.T, base, token, lastID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/v1/events", nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &sseStream{t: t, status: res.StatusCode, events: make(chan sseEvent, 100), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.events)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var e sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if e != (sseEvent{}) {
					select {
					case s.events <- e:
					case <-ctx.Done():
						return
					}
				}
				e = sseEvent{}
			case strings.HasPrefix(line, ":"):
				e.Event = ":"
			default:
				field, value, _ := strings.Cut(line, ": ")
				switch field {
				case "id":
					e.ID = value
				case "event":
					e.Event = value
				case "data":
					e.Data = value
				}
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

// next is the next event that is not a heartbeat; it fails the test after ten seconds.
func (s *sseStream) next() sseEvent {
	s.t.Helper()
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				s.t.Fatal("the stream ended")
			}
			if e.Event != ":" {
				return e
			}
		case <-time.After(10 * time.Second):
			s.t.Fatal("no event within 10 s")
		}
	}
}

// ended waits for the stream to end, and fails the test if it does not within ten seconds.
func (s *sseStream) ended() {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Fatal("the stream did not end within 10 s")
	}
}

func (s *sseStream) close() {
	s.cancel()
	<-s.done
}

func TestEventStream(t *testing.T) {
	hub := events.NewHub(0)
	e := newEnvEvents(t, hub)
	k1 := e.key(map[string]any{"name": "one"})
	k2 := e.key(map[string]any{"name": "two"})
	user := e.must(http.StatusCreated, "POST", "/v1/users", map[string]any{"email": "u@example.com"}).object(t)["id"].(string)
	var who struct{ Account struct{ ID string } }
	e.must(http.StatusOK, "GET", "/v1/whoami", nil).decode(t, &who)
	account := who.Account.ID
	_, other, err := e.svc.CreateAdminKey(t.Context(), "other-tenant", "root")
	if err != nil {
		t.Fatal(err)
	}
	var theirs createdKey
	e.doAs(other, "POST", "/v1/api-keys", map[string]any{"name": "theirs"}).decode(t, &theirs)

	s := openStream(t, e.url, e.token, "")
	if s.status != http.StatusOK {
		t.Fatalf("GET /v1/events = %d, want 200", s.status)
	}
	if got := s.next(); got.Event != "reset" || got.ID != "" {
		t.Fatalf("first event of a new stream = %+v, want a reset", got)
	}
	e.must(http.StatusNoContent, "DELETE", "/v1/api-keys/"+k1.ID, nil)
	e.must(http.StatusOK, "DELETE", "/v1/users/"+user, nil)
	// Another account's change is not this stream's business.
	if r := e.doAs(other, "DELETE", "/v1/api-keys/"+theirs.ID, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoking the other account's key = %d %s", r.status, r.body)
	}
	hub.IdentityChanged(t.Context(), "") // a reset, as when a node's listener reconnects
	e.must(http.StatusNoContent, "DELETE", "/v1/api-keys/"+k2.ID, nil)

	want := []sseEvent{
		{Event: "key_changed", Data: `{"key_id":"` + k1.ID + `","account_id":"` + account + `"}`},
		{Event: "account_changed", Data: `{"key_id":null,"account_id":"` + account + `"}`},
		{Event: "reset", Data: `{"key_id":null,"account_id":null}`},
		{Event: "key_changed", Data: `{"key_id":"` + k2.ID + `","account_id":"` + account + `"}`},
	}
	var got []sseEvent
	for range want {
		ev := s.next()
		if ev.ID == "" {
			t.Errorf("event %+v has no id", ev)
		}
		got = append(got, ev)
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b sseEvent) bool { return a.Event == b.Event && a.Data == b.Data })); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
	s.close()

	// Resuming after the first: the rest follow, without a reset first.
	resumed := openStream(t, e.url, e.token, got[0].ID)
	for i, w := range got[1:] {
		if ev := resumed.next(); ev != w {
			t.Errorf("resumed event %d = %+v, want %+v", i, ev, w)
		}
	}
	resumed.close()

	// An id this server never issued cannot be resumed from: a reset.
	stranger := openStream(t, e.url, e.token, "0123456789ab-7")
	if ev := stranger.next(); ev.Event != "reset" {
		t.Errorf("first event after an unknown id = %+v, want a reset", ev)
	}
}

func TestEventStreamNeedsKeysRead(t *testing.T) {
	e := newEnvEvents(t, events.NewHub(0))
	reader := e.key(map[string]any{"name": "reader", "role_id": "viewer"})
	powerless := e.key(map[string]any{"name": "powerless"})
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no credential", "", http.StatusUnauthorized},
		{"garbage", "letmein", http.StatusUnauthorized},
		{"a key without api_keys.read", powerless.Key, http.StatusForbidden},
		{"a key with api_keys.read", reader.Key, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStream(t, e.url, tc.token, "")
			defer s.close()
			if s.status != tc.want {
				t.Errorf("GET /v1/events = %d, want %d", s.status, tc.want)
			}
		})
	}
}

// TestEventStreamOutlivesTimeouts serves the stream from a server with short read and write
// timeouts, as serve's are for whole responses: heartbeats and events keep coming past
// them, and shutting the server down ends the stream.
func TestEventStreamOutlivesTimeouts(t *testing.T) {
	hub := events.NewHub(0)
	e := newEnvEvents(t, hub)
	httpapi.SetHeartbeat(e.server, 20*time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e.server, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	k := e.key(map[string]any{"name": "k"})

	s := openStream(t, "http://"+ln.Addr().String(), e.token, "")
	if ev := s.next(); ev.Event != "reset" {
		t.Fatalf("first event = %+v, want a reset", ev)
	}
	// Wait for heartbeats well past both timeouts (counted, not timed).
	for beats := 0; beats < 20; {
		select {
		case ev, ok := <-s.events:
			if !ok {
				t.Fatalf("the stream ended after %d heartbeats", beats)
			}
			if ev.Event == ":" {
				beats++
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%d heartbeats within 10 s, want 20", beats)
		}
	}
	e.must(http.StatusNoContent, "DELETE", "/v1/api-keys/"+k.ID, nil)
	if ev := s.next(); ev.Event != "key_changed" {
		t.Errorf("event after the timeouts = %+v, want key_changed", ev)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown with a stream open = %v, want the stream to end", err)
	}
	s.ended()
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
}
