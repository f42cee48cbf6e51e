package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/httpapi"
)

// TestVerifyFastPathIsTheRoutersChoice: Server.ServeHTTP sends POST /v1/keys/verify to the
// verify handler without asking its router; the router chooses the same route for that
// request, and another route for its near misses, which therefore still go through it.
func TestVerifyFastPathIsTheRoutersChoice(t *testing.T) {
	e := newEnv(t)
	if got := httpapi.RouterPattern(e.server, httptest.NewRequest(http.MethodPost, "/v1/keys/verify", nil)); got != httpapi.VerifyPattern {
		t.Errorf("the router chooses %q for POST /v1/keys/verify, the fast path %q", got, httpapi.VerifyPattern)
	}
	for _, tc := range []struct{ method, target string }{
		{http.MethodGet, "/v1/keys/verify"},
		{http.MethodPost, "/v1/keys/verify/"},
		{http.MethodPost, "/v1/keys/Verify"},
	} {
		if got := httpapi.RouterPattern(e.server, httptest.NewRequest(tc.method, tc.target, nil)); got == httpapi.VerifyPattern {
			t.Errorf("the router chooses the verify route for %s %s, which the fast path does not take", tc.method, tc.target)
		}
	}
	// (An unclean path such as /v1/keys//verify is redirected by the router to the clean one,
	// and not taken by the fast path either.)
	// Through the server, with the fast path: the verdict, and the route's metrics label.
	body := e.must(http.StatusOK, "POST", "/v1/keys/verify", map[string]any{"key": "kw_nope"}).object(t)
	if body["code"] != "MALFORMED" {
		t.Errorf("POST /v1/keys/verify answered %v, want code MALFORMED", body)
	}
	metrics := string(e.do("GET", "/metrics", nil).body)
	if want := `keyward_http_requests_total{code="2xx",route="POST /v1/keys/verify"} 1` + "\n"; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %q after one verification", want)
	}
}
