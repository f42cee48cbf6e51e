package client

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// warmLocal returns a local verifier, not connected to any server, that holds a valid
// verdict for key as if its stream were up, with a rate limit far above what a benchmark
// reaches.
func warmLocal(tb testing.TB, key string) *localVerifier {
	tb.Helper()
	c := New("http://127.0.0.1:1", "")
	l := newLocalVerifier(c, DefaultLocalCacheSize)
	l.account = "acc_1"
	l.setUp(true)
	res := &VerifyResult{Valid: true, Code: VerifyValid, KeyID: "key_1", AccountID: "acc_1", Scopes: []string{"orders:read"},
		RateLimitPolicy: &RateLimit{Rate: 1_000_000, Period: time.Second, Burst: 1 << 40}}
	l.install(key, res, l.ticket())
	if _, allowed, _, _, ok := l.decide(key, nil); !ok || !allowed {
		tb.Fatal("the installed verdict does not answer")
	}
	return l
}

const benchKey = "kw_3x9ZpQ7wLm2VtR8sKc4NbY6hJd1FgA5eUo0TiWqXr7CvBn2Mk9Lp4Sz"

// BenchmarkLocalDecide is the warm in-process verification: hash, cache, expiry, scopes,
// rate limit and use count.
func BenchmarkLocalDecide(b *testing.B) {
	l := warmLocal(b, benchKey)
	scopes := []string{"orders:read"}
	b.ReportAllocs()
	for b.Loop() {
		if _, allowed, _, _, ok := l.decide(benchKey, scopes); !ok || !allowed {
			b.Fatal("refused")
		}
	}
}

// BenchmarkLocalMiddleware is a whole warm request through the middleware, to a handler
// that does nothing: the decision plus reading the header and putting the verdict in the
// request's context (the two allocations net/http's WithContext and context.WithValue make).
func BenchmarkLocalMiddleware(b *testing.B) {
	l := warmLocal(b, benchKey)
	c := l.c
	c.local = l
	h := c.Middleware(MiddlewareOptions{LocalVerify: true, RequiredScopes: []string{"orders:read"}})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	req.Header.Set("Authorization", "Bearer "+benchKey)
	w := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
