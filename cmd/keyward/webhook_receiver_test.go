package main

import (
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// receiver is a webhook receiver for the process tests: a real HTTPS server on 127.0.0.1
// with its own test CA (caFile, for --webhook-ca-file), that answers each request with the
// next of its statuses (the last one repeats) and keeps what it received.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string

	mu       sync.Mutex
	statuses []int
	got      []received
}

// received is one request a receiver got.
type received struct {
	ID     string
	Header http.Header
	Body   []byte
	Event  struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	Status int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	if len(statuses) == 0 {
		statuses = []int{http.StatusNoContent}
	}
	r := &receiver{t: t, statuses: statuses}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	cert := r.srv.Certificate()
	r.caFile = filepath.Join(t.TempDir(), "receiver-ca.pem")
	if err := os.WriteFile(r.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	rec := received{ID: req.Header.Get("webhook-id"), Header: req.Header.Clone(), Body: body}
	_ = json.Unmarshal(body, &rec.Event)
	r.mu.Lock()
	rec.Status = r.statuses[min(len(r.got), len(r.statuses)-1)]
	r.got = append(r.got, rec)
	r.mu.Unlock()
	w.WriteHeader(rec.Status)
}

// url is the receiver's URL with path.
func (r *receiver) url(path string) string { return r.srv.URL + path }

// requests returns what the receiver got so far.
func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// waitFor waits up to 20 s until the receiver got n requests, and returns them.
func (r *receiver) waitFor(n int) []received {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if got := r.requests(); len(got) >= n {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("the receiver got %d requests in 20s, want %d", len(r.requests()), n)
	return nil
}

// verifyOfficial checks a request's signature with the official Standard Webhooks library.
func verifyOfficial(t *testing.T, secret string, rec received) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatalf("official NewWebhook: %v", err)
	}
	if err := wh.Verify(rec.Body, rec.Header); err != nil {
		t.Fatalf("the official library refuses webhook %s: %v\n%s", rec.ID, err, rec.Body)
	}
}

// testClock is a file the server reads its clock offset from (KEYWARD_TEST_CLOCK_FILE).
type testClockFile string

func newTestClock(t *testing.T) testClockFile {
	f := testClockFile(filepath.Join(t.TempDir(), "clock"))
	f.set(t, 0)
	return f
}

func (f testClockFile) env() string { return "KEYWARD_TEST_CLOCK_FILE=" + string(f) }

// set moves every server reading f to wall clock + d (within 50 ms).
func (f testClockFile) set(t *testing.T, d time.Duration) {
	t.Helper()
	if err := os.WriteFile(string(f), []byte(d.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}
