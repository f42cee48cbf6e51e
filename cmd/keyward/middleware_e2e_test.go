package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/client"
	"github.com/keyward/keyward/internal/config"
)

// countingProxy stands between a middleware and Keyward: it counts the verifications and
// usage reports that reach Keyward, and can cut the event stream and keep it cut.
type countingProxy struct {
	*httptest.Server
	verifies, reports atomic.Int64
	refuse            atomic.Bool // answer GET /v1/events with 503

	mu      sync.Mutex
	streams map[*http.Request]context.CancelFunc
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = nil
	p := &countingProxy{streams: map[*http.Request]context.CancelFunc{}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/keys/verify":
			p.verifies.Add(1)
		case "/v1/keys/usage":
			p.reports.Add(1)
		case "/v1/events":
			if p.refuse.Load() {
				http.Error(w, "the stream is cut", http.StatusServiceUnavailable)
				return
			}
			ctx, cancel := context.WithCancel(r.Context())
			r = r.WithContext(ctx)
			p.mu.Lock()
			p.streams[r] = cancel
			p.mu.Unlock()
			defer func() {
				p.mu.Lock()
				delete(p.streams, r)
				p.mu.Unlock()
				cancel()
			}()
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

// cut breaks the streams in flight and refuses new ones until restore.
func (p *countingProxy) cut() {
	p.refuse.Store(true)
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, cancel := range p.streams {
		cancel()
	}
}

func (p *countingProxy) restore() { p.refuse.Store(false) }

// guarded is an API behind a middleware with LocalVerify, reached through a countingProxy.
type guarded struct {
	t       *testing.T
	proxy   *countingProxy
	handler http.Handler
}

// serve sends one request with key through the middleware and says what it answered and
// whether it asked Keyward.
func (g *guarded) serve(key string) (status int, remote bool) {
	g.t.Helper()
	before := g.proxy.verifies.Load()
	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	rec := httptest.NewRecorder()
	g.handler.ServeHTTP(rec, req)
	return rec.Code, g.proxy.verifies.Load() != before
}

// waitLocal sends requests with key until one is let through without asking Keyward (the
// stream is up and the verdict kept), and returns how many it sent; it fails the test after
// within.
func (g *guarded) waitLocal(key string, within time.Duration) int {
	g.t.Helper()
	deadline := time.Now().Add(within)
	for n := 1; ; n++ {
		status, remote := g.serve(key)
		if status != http.StatusOK {
			g.t.Fatalf("request %d = %d, want 200", n, status)
		}
		if !remote {
			return n
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("after %d requests in %s every one still asked Keyward", n, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMiddlewareLocalVerify runs the middleware with LocalVerify against a real server: a
// warm key costs no call, a revocation reaches it within a second, a broken stream means
// asking Keyward about every request, keys with credits always ask, rate limits hold
// in-process, and uses decided in-process show in the key's usage.
func TestMiddlewareLocalVerify(t *testing.T) {
	// Counts written every second rather than when their minute ends, for waitUsage.
	serverURL, token := runMainWith(t, func(c *config.Config) { c.UsageWriteEvery = 0 })
	ctx := t.Context()
	admin := client.New(serverURL, token)
	newKey := func(p client.CreateKeyParams) *client.CreatedKey {
		t.Helper()
		k, err := admin.CreateKey(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	// The middleware's credential: an API key that may read the account's keys, no more.
	viewer := newKey(client.CreateKeyParams{Name: "middleware", RoleID: "viewer"})

	proxy := newCountingProxy(t, serverURL)
	kw := client.New(proxy.URL, viewer.Secret)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := kw.Close(cctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	var seen atomic.Pointer[client.VerifyResult]
	g := &guarded{t: t, proxy: proxy, handler: kw.Middleware(client.MiddlewareOptions{LocalVerify: true})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res, _ := client.VerifyResultFrom(r.Context())
			seen.Store(res)
		}))}

	// After the first request a key costs no call to Keyward.
	warm := newKey(client.CreateKeyParams{Name: "warm", Metadata: map[string]any{"plan": "pro"}})
	g.waitLocal(warm.Secret, 10*time.Second)
	for i := range 20 {
		if status, remote := g.serve(warm.Secret); status != http.StatusOK || remote {
			t.Fatalf("warm request %d = %d, asked Keyward %v; want 200 from the cache", i, status, remote)
		}
	}
	if res := seen.Load(); res == nil || res.KeyID != warm.ID || res.Metadata["plan"] != "pro" {
		t.Errorf("the handler saw %+v, want the warm key's verdict with its metadata", res)
	}

	// A key revoked through the API is refused within a second.
	if err := admin.RevokeKey(ctx, warm.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for {
		status, _ := g.serve(warm.Secret)
		if status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a second after the revocation the key still gets %d", status)
		}
		time.Sleep(5 * time.Millisecond)
	}

	// A key with usage credits asks Keyward every time: they are spent there, exactly.
	credited := newKey(client.CreateKeyParams{Name: "credited", Credits: &client.Credits{Remaining: 100}})
	for i := range 5 {
		if status, remote := g.serve(credited.Secret); status != http.StatusOK || !remote {
			t.Errorf("request %d with credits = %d, asked Keyward %v; want 200 from Keyward", i, status, remote)
		}
	}

	// A rate limit holds in-process: 3 at once, then 429 without asking Keyward.
	limited := newKey(client.CreateKeyParams{Name: "limited", RateLimit: &client.RateLimit{Rate: 1, Period: time.Minute, Burst: 3}})
	allowed := g.waitLocal(limited.Secret, 10*time.Second)
	for refused := false; !refused; {
		status, remote := g.serve(limited.Secret)
		switch {
		case remote:
			t.Fatalf("request %d of a key over its limit asked Keyward", allowed+1)
		case status == http.StatusTooManyRequests:
			refused = true
		case status == http.StatusOK:
			if allowed++; allowed > 3 {
				t.Fatalf("%d requests allowed, want at most the burst of 3", allowed)
			}
		default:
			t.Fatalf("request = %d", status)
		}
	}

	// Uses decided in-process reach the key's usage, with those Keyward made itself.
	used := newKey(client.CreateKeyParams{Name: "used"})
	made := g.waitLocal(used.Secret, 10*time.Second)
	for range 10 {
		if status, _ := g.serve(used.Secret); status != http.StatusOK {
			t.Fatalf("request with the used key = %d", status)
		}
		made++
	}
	waitUsage(t, admin, used.ID, int64(made))
	if proxy.reports.Load() == 0 {
		t.Error("no usage report reached Keyward")
	}

	// The stream breaks: every request asks Keyward, and a key revoked meanwhile is refused.
	steady := newKey(client.CreateKeyParams{Name: "steady"})
	doomed := newKey(client.CreateKeyParams{Name: "doomed"})
	g.waitLocal(steady.Secret, 10*time.Second)
	g.waitLocal(doomed.Secret, 10*time.Second)
	proxy.cut()
	deadline = time.Now().Add(10 * time.Second)
	for {
		if _, remote := g.serve(steady.Secret); remote {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("10 s after the stream broke the middleware still answers from its cache")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 3 {
		if status, remote := g.serve(steady.Secret); status != http.StatusOK || !remote {
			t.Errorf("request %d while the stream is down = %d, asked Keyward %v; want 200 from Keyward", i, status, remote)
		}
	}
	if err := admin.RevokeKey(ctx, doomed.ID); err != nil {
		t.Fatal(err)
	}
	if status, _ := g.serve(doomed.Secret); status != http.StatusUnauthorized {
		t.Errorf("a key revoked while the stream is down = %d, want 401", status)
	}

	// The stream comes back, and with it the cache.
	proxy.restore()
	g.waitLocal(steady.Secret, 30*time.Second)
	if status, _ := g.serve(doomed.Secret); status != http.StatusUnauthorized {
		t.Errorf("the revoked key after the stream came back = %d, want 401", status)
	}
}

// waitUsage polls the key's usage until it counts want VALID verifications, and fails the
// test if it counts more or not that many within 15 s.
func waitUsage(t *testing.T, admin *client.Client, keyID string, want int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		now := time.Now()
		u, err := admin.KeyUsage(t.Context(), keyID, client.UsageParams{From: now.Add(-time.Hour), To: now.Add(time.Hour), Granularity: client.GranularityMinute})
		if err != nil {
			t.Fatal(err)
		}
		var got int64
		for _, b := range u.Buckets {
			got += b.Outcomes[client.VerifyValid]
		}
		switch {
		case got == want:
			return
		case got > want:
			t.Fatalf("usage counts %d valid verifications, want %d", got, want)
		case time.Now().After(deadline):
			t.Fatalf("usage counts %d valid verifications after 15 s, want %d", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
