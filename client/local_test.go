package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReadEvents(t *testing.T) {
	long := strings.Repeat("x", maxEventLine)
	tests := []struct {
		name    string
		stream  string
		want    []sseEvent
		wantErr error
	}{
		{name: "events", stream: "id: n-1\nevent: key_changed\ndata: {\"key_id\":\"k\"}\n\nevent: reset\ndata: {}\n\n",
			want: []sseEvent{{id: "n-1", hasID: true, kind: "key_changed", data: `{"key_id":"k"}`}, {kind: "reset", data: "{}"}}},
		{name: "CRLF and no space", stream: "id:n-2\r\nevent:reset\r\ndata:x\r\n\r\n", want: []sseEvent{{id: "n-2", hasID: true, kind: "reset", data: "x"}}},
		{name: "data lines join", stream: "data: a\ndata: b\n\n", want: []sseEvent{{data: "a\nb"}}},
		{name: "comments and heartbeats", stream: ":\n\n: ping\n\ndata: x\n\n", want: []sseEvent{{data: "x"}}},
		{name: "an event without data is not dispatched", stream: "event: reset\n\ndata: y\n\n", want: []sseEvent{{data: "y"}}},
		{name: "an id with NUL is ignored", stream: "id: a\x00b\ndata: z\n\n", want: []sseEvent{{data: "z"}}},
		{name: "unknown fields are ignored", stream: "retry: 10\nfoo: bar\ndata: z\n\n", want: []sseEvent{{data: "z"}}},
		{name: "a line too long", stream: "data: " + long + "\n\n", wantErr: errEventLineTooLong},
		{name: "an event too large", stream: strings.Repeat("data: "+strings.Repeat("d", 1000)+"\n", 20) + "\n", wantErr: errEventTooLarge},
		{name: "the end", stream: "data: x\n\ndata: cut", want: []sseEvent{{data: "x"}}, wantErr: io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []sseEvent
			err := readEvents(strings.NewReader(tt.stream), func() {}, func(e sseEvent) error {
				got = append(got, e)
				return nil
			})
			want := tt.wantErr
			if want == nil {
				want = io.EOF
			}
			if !errors.Is(err, want) {
				t.Errorf("readEvents = %v, want %v", err, want)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(sseEvent{})); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzReadEvents(f *testing.F) {
	f.Add("id: n-1\nevent: key_changed\ndata: {\"key_id\":\"k\",\"account_id\":\"a\"}\n\n")
	f.Add(":\r\n\r\ndata:x\r\ndata\n\n")
	f.Fuzz(func(t *testing.T, stream string) {
		l := newLocalVerifier(New("http://127.0.0.1:1", ""), 10)
		_ = readEvents(strings.NewReader(stream), func() {}, func(e sseEvent) error {
			if len(e.data) > maxEventData {
				t.Fatalf("an event of %d bytes of data", len(e.data))
			}
			return l.handle(e)
		})
	})
}

func TestBucket(t *testing.T) {
	p := paramsOf(&RateLimit{Rate: 1, Period: time.Second, Burst: 3})
	var b bucket
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range 3 {
		if ok, _, _ := b.take(&p, t0); !ok {
			t.Fatalf("take %d of a burst of 3 refused", i+1)
		}
	}
	ok, wait, limit := b.take(&p, t0)
	if ok || wait != time.Second || limit != 3 {
		t.Errorf("the 4th at once = %v, wait %v, limit %d; want refused, 1s, 3", ok, wait, limit)
	}
	if ok, _, _ := b.take(&p, t0+int64(time.Second)); !ok {
		t.Error("one interval later: refused, want allowed")
	}

	// A quota of 2 a minute, tighter than the rate.
	q := paramsOf(&RateLimit{Rate: 100, Period: time.Second, Burst: 100, QuotaLimit: 2, QuotaWindow: time.Minute})
	var c bucket
	c.take(&q, t0)
	c.take(&q, t0)
	if ok, wait, limit := c.take(&q, t0+int64(time.Second)); ok || wait != 59*time.Second || limit != 2 {
		t.Errorf("over the quota = %v, wait %v, limit %d; want refused until the window ends, limit 2", ok, wait, limit)
	}
	if ok, _, _ := c.take(&q, t0+int64(time.Minute)); !ok {
		t.Error("in the next window: refused, want allowed")
	}

	// Keyward's answer seeds the bucket: 1 of 3 left means 1 more now.
	var s bucket
	s.seed(&p, &RateLimitState{Limit: 3, Remaining: 1}, t0)
	if ok, _, _ := s.take(&p, t0); !ok {
		t.Error("the one left after seeding: refused")
	}
	if ok, _, _ := s.take(&p, t0); ok {
		t.Error("past what was left after seeding: allowed")
	}
	// A seed never gives back what the bucket counted itself.
	s.seed(&p, &RateLimitState{Limit: 3, Remaining: 3}, t0)
	if ok, _, _ := s.take(&p, t0); ok {
		t.Error("after a seed of a full bucket over an empty one: allowed")
	}
}

func TestVerdictCacheEvicts(t *testing.T) {
	c := newVerdictCache(100)
	for i := range 1000 {
		sum := hashKey("kw_" + strings.Repeat("k", i%7) + string(rune('A'+i%50)) + string(rune('A'+i/50)))
		c.entryFor(&sum, "key").verdict.Store(&verdict{res: &VerifyResult{}})
	}
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].m)
	}
	if n > 100 {
		t.Errorf("a cache of 100 holds %d entries", n)
	}

	// In one shard of two, a key in use outlives one seen once.
	one := newVerdictCache(1)
	one.shards[0].capacity = 2
	add := func(key string) [32]byte {
		sum := hashKey(key)
		one.entryFor(&sum, key).verdict.Store(&verdict{res: &VerifyResult{}})
		return sum
	}
	used, once := add("kw_used"), add("kw_once")
	one.get(&used)
	add("kw_new")
	if one.get(&used) == nil || one.get(&once) != nil {
		t.Error("evicted the key in use rather than the one seen once")
	}
}

// newLocalFixture is a local verifier whose stream is up, for the account acc_1, not
// connected to a server.
func newLocalFixture(t *testing.T) *localVerifier {
	t.Helper()
	l := newLocalVerifier(New("http://127.0.0.1:1", ""), 100)
	l.account = "acc_1"
	l.setUp(true)
	return l
}

func validResult(keyID string) *VerifyResult {
	return &VerifyResult{Valid: true, Code: VerifyValid, KeyID: keyID, AccountID: "acc_1", Scopes: []string{"read"}}
}

func TestInstallKeepsOnlyWhatItMay(t *testing.T) {
	past, soon := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	credits := int64(5)
	tests := []struct {
		name    string
		key     string
		res     func() *VerifyResult
		between func(*localVerifier) // after the ticket, before the install
		scopes  []string
		want    bool
	}{
		{name: "a valid key", key: "kw_a", res: func() *VerifyResult { return validResult("k1") }, want: true},
		{name: "with its scope", key: "kw_a", res: func() *VerifyResult { return validResult("k1") }, scopes: []string{"read"}, want: true},
		{name: "without a scope asked for", key: "kw_a", res: func() *VerifyResult { return validResult("k1") }, scopes: []string{"write"}},
		{name: "a refusal", key: "kw_a", res: func() *VerifyResult { r := validResult("k1"); r.Valid, r.Code = false, VerifyRevoked; return r }},
		{name: "a key with credits", key: "kw_a", res: func() *VerifyResult { r := validResult("k1"); r.Remaining = &credits; return r }},
		{name: "another account's key", key: "kw_a", res: func() *VerifyResult { r := validResult("k1"); r.AccountID = "acc_2"; return r }},
		{name: "an access token", key: "eyJ.eyJ.sig", res: func() *VerifyResult { return validResult("k1") }},
		{name: "expired", key: "kw_a", res: func() *VerifyResult { r := validResult("k1"); r.ExpiresAt = &past; return r }},
		{name: "expiring later", key: "kw_a", res: func() *VerifyResult { r := validResult("k1"); r.ExpiresAt = &soon; return r }, want: true},
		{name: "invalidated while asked for", key: "kw_a", res: func() *VerifyResult { return validResult("k1") },
			between: func(l *localVerifier) { l.invalidate(func(e *entry, _ *verdict) bool { return e.keyID == "other" }) }},
		{name: "the stream broke while asked for", key: "kw_a", res: func() *VerifyResult { return validResult("k1") },
			between: func(l *localVerifier) { l.setUp(false); l.setUp(true) }},
		{name: "the stream is down", key: "kw_a", res: func() *VerifyResult { return validResult("k1") },
			between: func(l *localVerifier) { l.setUp(false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLocalFixture(t)
			ticket := l.ticket()
			if tt.between != nil {
				tt.between(l)
			}
			l.install(tt.key, tt.res(), ticket)
			_, allowed, _, _, ok := l.decide(tt.key, tt.scopes)
			if ok != tt.want || ok && !allowed {
				t.Errorf("decide after install = ok %v allowed %v, want ok %v", ok, allowed, tt.want)
			}
		})
	}
}

func TestInvalidations(t *testing.T) {
	l := newLocalFixture(t)
	install := func() {
		for _, k := range []string{"k1", "k2"} {
			l.install("kw_"+k, validResult(k), l.ticket())
		}
	}
	served := func() []string {
		var out []string
		for _, k := range []string{"k1", "k2"} {
			if _, _, _, _, ok := l.decide("kw_"+k, nil); ok {
				out = append(out, k)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		ev   sseEvent
		want []string
	}{
		{"a key changed", sseEvent{kind: "key_changed", data: `{"key_id":"k1","account_id":"acc_1"}`}, []string{"k2"}},
		{"another account changed", sseEvent{kind: "account_changed", data: `{"key_id":null,"account_id":"acc_2"}`}, []string{"k1", "k2"}},
		{"the account changed", sseEvent{kind: "account_changed", data: `{"key_id":null,"account_id":"acc_1"}`}, nil},
		{"a reset", sseEvent{kind: "reset", data: `{}`}, nil},
		{"an event of a newer server", sseEvent{kind: "policy_changed", data: `{}`}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			install()
			if got := served(); len(got) != 2 {
				t.Fatalf("before the event: %v served", got)
			}
			if err := l.handle(tc.ev); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, served()); diff != "" {
				t.Errorf("served after the event (-want +got):\n%s", diff)
			}
		})
	}
	if err := l.handle(sseEvent{kind: "key_changed", data: "garbage"}); err == nil {
		t.Error("an event whose data does not parse: no error, want one to end the stream")
	}
}

// TestReportKeyUsage: uses go out in requests of at most MaxUsageReport, in their wire form,
// and what a failed report kept goes with the next.
func TestReportKeyUsage(t *testing.T) {
	var mu sync.Mutex
	var bodies []int
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/keys/usage" || r.Header.Get("Authorization") != "Bearer tok" {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		}
		var body struct {
			Uses []map[string]any `json:"uses"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Error(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if fail {
			fail = false
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		bodies = append(bodies, len(body.Uses))
		if u := body.Uses[0]; u["outcomes"].(map[string]any)["VALID"] != float64(2) || u["last_used_at"] == nil {
			t.Errorf("first use on the wire = %v", u)
		}
		json.NewEncoder(w).Encode(UsageReportResult{Recorded: len(body.Uses)})
	}))
	defer srv.Close()
	l := newLocalVerifier(New(srv.URL, "tok"), 2000)
	l.account = "acc_1"
	l.setUp(true)
	for i := range 1500 {
		key := "kw_" + strings.Repeat("k", 5) + string(rune('A'+i%26)) + string(rune('A'+i/26))
		l.install(key, validResult("key-"+key), l.ticket())
		l.decide(key, nil)
		l.decide(key, nil)
	}
	if err := l.report(context.Background()); err == nil {
		t.Fatal("the first report: no error, want the server's 503")
	}
	if err := l.report(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int{1000, 500}, bodies); diff != "" {
		t.Errorf("report sizes (-want +got):\n%s", diff)
	}
}
