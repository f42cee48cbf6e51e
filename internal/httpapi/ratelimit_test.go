package httpapi_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/ratelimit"
)

// verifyN sends n verifications of key, the env's clock moving step before each, and
// counts the answers by code.
func (e *env) verifyN(key string, n int, step time.Duration) map[string]int {
	e.t.Helper()
	codes := map[string]int{}
	for range n {
		e.clock.Advance(step)
		codes[e.verify(key).Code]++
	}
	return codes
}

func newLimitedEnv(t *testing.T) *env {
	t.Helper()
	mem := ratelimit.NewMemory()
	t.Cleanup(mem.Close)
	return newEnvLimited(t, mem)
}

func TestRateLimitTiersAPI(t *testing.T) {
	e := newEnv(t)
	var tiers []struct {
		Name      string `json:"name"`
		RateLimit struct {
			Rate  int64 `json:"rate"`
			Burst int64 `json:"burst"`
		} `json:"rate_limit"`
		RequiresApproval bool    `json:"requires_approval"`
		FailMode         string  `json:"fail_mode"`
		BuiltIn          bool    `json:"built_in"`
		UpdatedAt        *string `json:"updated_at"`
	}
	e.must(http.StatusOK, "GET", "/v1/rate-limit-tiers", nil).decode(t, &tiers)
	if len(tiers) != 2 || tiers[0].Name != "high" || tiers[1].Name != "standard" ||
		tiers[0].RateLimit.Rate != 100 || !tiers[0].RequiresApproval || tiers[1].RateLimit.Rate != 30 || tiers[1].RateLimit.Burst != 30 ||
		tiers[1].RequiresApproval || tiers[1].FailMode != "fail_open" || !tiers[1].BuiltIn || tiers[1].UpdatedAt != nil {
		t.Fatalf("built-in tiers = %+v", tiers)
	}

	r := e.must(http.StatusCreated, "POST", "/v1/rate-limit-tiers", map[string]any{
		"name": "batch", "description": "nightly jobs", "fail_mode": "fail_closed",
		"rate_limit": map[string]any{"rate": 10, "period_seconds": 60, "burst": 5, "quota_limit": 1000, "quota_window_seconds": 86400},
	})
	got := r.object(t)
	if got["fail_mode"] != "fail_closed" || got["rate_limit"].(map[string]any)["quota_limit"] != float64(1000) || got["built_in"] != false {
		t.Errorf("created tier = %s", r.body)
	}
	for name, body := range map[string]map[string]any{
		"taken":         {"name": "batch", "rate_limit": map[string]any{"rate": 1}},
		"built-in name": {"name": "high", "rate_limit": map[string]any{"rate": 1}},
	} {
		if r := e.do("POST", "/v1/rate-limit-tiers", body); r.status != http.StatusConflict || problemCode(t, r) != "conflict" {
			t.Errorf("%s: %d %s, want 409", name, r.status, r.body)
		}
	}
	for name, body := range map[string]map[string]any{
		"no limit":             {"name": "x"},
		"bad name":             {"name": "Not A Slug", "rate_limit": map[string]any{"rate": 1}},
		"quota without window": {"name": "y", "rate_limit": map[string]any{"rate": 1, "quota_limit": 5}},
		"bad fail mode":        {"name": "z", "rate_limit": map[string]any{"rate": 1}, "fail_mode": "maybe"},
	} {
		if r := e.do("POST", "/v1/rate-limit-tiers", body); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s, want 422", name, r.status, r.body)
		}
	}

	// A built-in tier may be changed; it is then stored, and stays built in.
	r = e.must(http.StatusOK, "PATCH", "/v1/rate-limit-tiers/standard", map[string]any{"rate_limit": map[string]any{"rate": 50}})
	if got := r.object(t); got["rate_limit"].(map[string]any)["rate"] != float64(50) || got["rate_limit"].(map[string]any)["burst"] != float64(50) ||
		got["updated_at"] == nil || got["built_in"] != true {
		t.Errorf("PATCH standard = %s", r.body)
	}
	if r := e.do("GET", "/v1/rate-limit-tiers/nope", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown tier = %d", r.status)
	}
	if r := e.do("POST", "/v1/api-keys", map[string]any{"name": "k", "rate_limit_tier": "nope"}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("key on an unknown tier = %d %s, want 422", r.status, r.body)
	}

	// A viewer reads tiers but may not change them, nor give a key its own limit.
	viewer := e.key(map[string]any{"name": "viewer", "role_id": "viewer"})
	if r := e.doAs(viewer.Key, "GET", "/v1/rate-limit-tiers", nil); r.status != http.StatusOK {
		t.Errorf("viewer list = %d", r.status)
	}
	if r := e.doAs(viewer.Key, "PATCH", "/v1/rate-limit-tiers/high", map[string]any{"requires_approval": false}); r.status != http.StatusForbidden ||
		!strings.Contains(string(r.body), "rate_limit_tiers.write") {
		t.Errorf("viewer PATCH = %d %s, want 403 naming rate_limit_tiers.write", r.status, r.body)
	}
	maker := e.key(map[string]any{"name": "maker", "role_id": e.must(http.StatusCreated, "POST", "/v1/roles",
		map[string]any{"name": "Maker", "slug": "maker", "permissions": []string{"api_keys.create"}}).object(t)["id"].(string)})
	if r := e.doAs(maker.Key, "POST", "/v1/api-keys", map[string]any{"name": "fast", "rate_limit": map[string]any{"rate": 1000}}); r.status != http.StatusForbidden {
		t.Errorf("an override without rate_limit_tiers.write = %d %s, want 403", r.status, r.body)
	}
}

// TestSeed003HighTierApproval is the seed's rule end to end: a key asked for on the high tier
// by someone who may not approve it is created on standard and is not served at 100
// requests a second; once approved, it is.
func TestSeed003HighTierApproval(t *testing.T) {
	e := newLimitedEnv(t)
	creator := e.key(map[string]any{"name": "creator", "role_id": e.must(http.StatusCreated, "POST", "/v1/roles",
		map[string]any{"name": "Key maker", "slug": "key-maker", "permissions": []string{"api_keys.create", "api_keys.read"}}).object(t)["id"].(string)})

	r := e.doAsHeader(creator.Key, "POST", "/api/v1/api-keys", `{"name":"fast","rate_limit_tier":"high"}`)
	var created struct {
		Data struct {
			ID            string `json:"id"`
			Secret        string `json:"secret"`
			RateLimitTier string `json:"rate_limit_tier"`
			TierRequest   *struct {
				ID     string `json:"id"`
				Tier   string `json:"tier"`
				Status string `json:"status"`
			} `json:"rate_limit_tier_request"`
		} `json:"data"`
	}
	r.decode(t, &created)
	d := created.Data
	if r.status != http.StatusCreated || d.RateLimitTier != "standard" || d.TierRequest == nil || d.TierRequest.Tier != "high" || d.TierRequest.Status != "pending" {
		t.Fatalf("high tier without approval = %d %s, want 201 on standard with a pending request", r.status, r.body)
	}

	// 100 requests a second for a second: standard lets its burst (30) and 30 more through.
	if codes := e.verifyN(d.Secret, 100, 10*time.Millisecond); codes["VALID"] < 55 || codes["VALID"] > 65 || codes["RATE_LIMITED"] != 100-codes["VALID"] {
		t.Errorf("pending high key at 100 rps = %v, want about 60 VALID and the rest RATE_LIMITED", codes)
	}
	// The key shows its pending request until it is decided.
	if got := e.must(http.StatusOK, "GET", "/v1/api-keys/"+d.ID, nil).object(t); got["rate_limit_tier_request"] == nil ||
		got["rate_limit_tier_request"].(map[string]any)["id"] != d.TierRequest.ID {
		t.Errorf("GET of a key with a pending request = %v", got)
	}
	// The requester may not approve; the account's admin may.
	path := "/v1/tier-requests/" + d.TierRequest.ID
	if r := e.doAs(creator.Key, "POST", path+"/approve", nil); r.status != http.StatusForbidden {
		t.Errorf("approval by the requester = %d %s, want 403", r.status, r.body)
	}
	var pending []map[string]any
	e.must(http.StatusOK, "GET", "/v1/tier-requests?status=pending", nil).decode(t, &pending)
	if len(pending) != 1 || pending[0]["id"] != d.TierRequest.ID {
		t.Errorf("pending requests = %v", pending)
	}
	r = e.must(http.StatusOK, "POST", path+"/approve", map[string]any{"reason": "paying customer"})
	if got := r.object(t); got["status"] != "approved" || got["reason"] != "paying customer" || got["decided_by"] == nil {
		t.Errorf("approve = %s", r.body)
	}
	if r := e.do("POST", path+"/reject", nil); r.status != http.StatusConflict {
		t.Errorf("deciding twice = %d, want 409", r.status)
	}
	var key struct {
		Data struct {
			RateLimitTier string `json:"rate_limit_tier"`
		} `json:"data"`
	}
	e.doAsHeader(creator.Key, "GET", "/api/v1/api-keys/"+d.ID, "").decode(t, &key)
	if key.Data.RateLimitTier != "high" {
		t.Errorf("tier after approval = %q, want high", key.Data.RateLimitTier)
	}
	if got := e.must(http.StatusOK, "GET", "/v1/api-keys/"+d.ID, nil).object(t); got["rate_limit_tier_request"] != nil {
		t.Errorf("GET after approval still shows a request: %v", got["rate_limit_tier_request"])
	}
	e.clock.Advance(10 * time.Second) // let the bucket refill
	if codes := e.verifyN(d.Secret, 100, 10*time.Millisecond); codes["VALID"] != 100 {
		t.Errorf("approved high key at 100 rps = %v, want all 100 VALID", codes)
	}

	// The decision is audited, as every mutation is.
	var events []struct {
		Action   string `json:"action"`
		TargetID string `json:"target_id"`
		Outcome  string `json:"outcome"`
	}
	e.must(http.StatusOK, "GET", "/v1/audit-events?action=approve-tier-request", nil).decode(t, &events)
	if len(events) != 2 || events[0].TargetID != d.TierRequest.ID || events[0].Outcome != "success" || events[1].Outcome != "failure" {
		t.Errorf("audit of the approval and the refused one = %+v", events)
	}
}

func TestVerifyRateLimitAnswers(t *testing.T) {
	e := newLimitedEnv(t)
	e.must(http.StatusCreated, "POST", "/v1/rate-limit-tiers", map[string]any{"name": "tiny", "rate_limit": map[string]any{"rate": 1, "period_seconds": 10, "burst": 2}})
	k := e.key(map[string]any{"name": "tiny", "rate_limit_tier": "tiny", "role_id": "viewer"})

	type answer struct {
		Valid     bool   `json:"valid"`
		Code      string `json:"code"`
		RateLimit *struct {
			Limit     int64 `json:"limit"`
			Remaining int64 `json:"remaining"`
			Reset     int64 `json:"reset"`
		} `json:"ratelimit"`
	}
	var a answer
	e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": k.Key}).decode(t, &a)
	now := e.clock.Now()
	if !a.Valid || a.RateLimit == nil || a.RateLimit.Limit != 2 || a.RateLimit.Remaining != 1 || a.RateLimit.Reset != now.Add(10*time.Second).UnixMilli() {
		t.Fatalf("first verification = %+v %+v", a, a.RateLimit)
	}
	e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": k.Key}).decode(t, &a)
	e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": k.Key}).decode(t, &a)
	if a.Valid || a.Code != "RATE_LIMITED" || a.RateLimit == nil || a.RateLimit.Remaining != 0 {
		t.Fatalf("third verification = %+v, want RATE_LIMITED", a)
	}

	// A route the key authenticates answers 429 with the draft's headers.
	r := e.doAs(k.Key, "GET", "/v1/whoami", nil)
	if r.status != http.StatusTooManyRequests || problemCode(t, r) != "rate_limited" {
		t.Fatalf("whoami over the limit = %d %s", r.status, r.body)
	}
	if got := r.header.Get("Retry-After"); got != "10" {
		t.Errorf("Retry-After = %q, want 10", got)
	}
	if got := r.header.Get("RateLimit-Policy"); got != `"rate";q=2;w=20` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	if got := r.header.Get("RateLimit"); got != `"rate";r=0;t=20` {
		t.Errorf("RateLimit = %q", got)
	}
	// Seed 002's path, and the seed 003 routes in their own envelope, say the same.
	if r := e.doAs(k.Key, "GET", "/api/v1/users/me", nil); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "10" {
		t.Errorf("users/me over the limit = %d %v %s", r.status, r.header, r.body)
	}
	if r := e.doAsHeader(k.Key, "GET", "/api/v1/api-keys", ""); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "10" ||
		!strings.Contains(string(r.body), `"success":false`) || !strings.Contains(string(r.body), `"code":"rate_limited"`) {
		t.Errorf("seed 003 list over the limit = %d %v %s", r.status, r.header, r.body)
	}
	e.clock.Advance(10 * time.Second)
	if r := e.doAs(k.Key, "GET", "/v1/whoami", nil); r.status != http.StatusOK {
		t.Errorf("whoami after the refill = %d %s", r.status, r.body)
	}
}

// TestCreditsExact: 100 concurrent verifications of a key with 50 credits give exactly 50
// VALID and 50 USAGE_EXCEEDED (SQLite here; cmd/keyward runs PostgreSQL and Redis).
func TestCreditsExact(t *testing.T) {
	e := newLimitedEnv(t)
	k := e.key(map[string]any{"name": "metered", "credits": map[string]any{"remaining": 50}, "rate_limit": map[string]any{"rate": 1000}})
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			v := e.verify(k.Key)
			mu.Lock()
			codes[v.Code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes["VALID"] != 50 || codes["USAGE_EXCEEDED"] != 50 {
		t.Fatalf("100 verifications of 50 credits = %v, want 50 VALID and 50 USAGE_EXCEEDED", codes)
	}
	var key struct {
		Credits struct {
			Remaining int64 `json:"remaining"`
		} `json:"credits"`
	}
	e.must(http.StatusOK, "GET", "/v1/api-keys/"+k.ID, nil).decode(t, &key)
	if key.Credits.Remaining != 0 {
		t.Errorf("remaining after = %d", key.Credits.Remaining)
	}

	// A cost spends more than one; cost 0 only checks. Credits set again start afresh.
	e.must(http.StatusOK, "PATCH", "/v1/api-keys/"+k.ID, map[string]any{"credits": map[string]any{"remaining": 10}})
	var a struct {
		Code      string `json:"code"`
		Remaining *int64 `json:"remaining"`
	}
	e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": k.Key, "cost": 7}).decode(t, &a)
	if a.Code != "VALID" || a.Remaining == nil || *a.Remaining != 3 {
		t.Errorf("cost 7 of 10 = %+v", a)
	}
	e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": k.Key, "cost": 4}).decode(t, &a)
	if a.Code != "USAGE_EXCEEDED" || a.Remaining == nil || *a.Remaining != 3 {
		t.Errorf("cost 4 of 3 = %+v", a)
	}
	e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": k.Key, "cost": 0}).decode(t, &a)
	if a.Code != "VALID" || a.Remaining == nil || *a.Remaining != 3 {
		t.Errorf("cost 0 = %+v", a)
	}
	if r := e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": k.Key, "cost": -1}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("cost -1 = %d %s", r.status, r.body)
	}
	// null stops counting.
	e.must(http.StatusOK, "PATCH", "/v1/api-keys/"+k.ID, map[string]any{"credits": nil})
	a.Remaining = nil
	e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": k.Key, "cost": 100}).decode(t, &a)
	if a.Code != "VALID" || a.Remaining != nil {
		t.Errorf("after clearing credits = %+v", a)
	}
}

// TestRotationSharesLimits: a key rotated with grace shares its rate-limit bucket and its
// credits with its successor.
func TestRotationSharesLimits(t *testing.T) {
	e := newLimitedEnv(t)
	k := e.key(map[string]any{"name": "rotating", "credits": map[string]any{"remaining": 6},
		"rate_limit": map[string]any{"rate": 1, "period_seconds": 60, "burst": 4}})
	var rot struct {
		Key string `json:"key"`
	}
	e.must(http.StatusCreated, "POST", "/v1/api-keys/"+k.ID+"/rotate", map[string]any{"grace_period_seconds": 3600}).decode(t, &rot)
	codes := map[string]int{}
	for _, secret := range []string{k.Key, rot.Key, k.Key, rot.Key, k.Key, rot.Key} {
		codes[e.verify(secret).Code]++
	}
	if codes["VALID"] != 4 || codes["RATE_LIMITED"] != 2 {
		t.Errorf("old and new keys against one burst of 4 = %v", codes)
	}
	e.clock.Advance(10 * time.Minute)
	codes = map[string]int{}
	for _, secret := range []string{k.Key, rot.Key, k.Key, rot.Key} {
		codes[e.verify(secret).Code]++
	}
	if codes["VALID"] != 2 || codes["USAGE_EXCEEDED"] != 2 {
		t.Errorf("6 credits after 4 spent = %v, want 2 VALID then USAGE_EXCEEDED", codes)
	}
}

func TestUsageReportAndMetrics(t *testing.T) {
	e := newLimitedEnv(t)
	p := e.project("reports")
	k := e.key(map[string]any{"name": "reported", "project_id": p, "rate_limit": map[string]any{"rate": 1, "period_seconds": 60, "burst": 3}})
	other := e.key(map[string]any{"name": "other"})
	start := e.clock.Now()
	for range 5 {
		e.verify(k.Key)
	}
	e.verify(other.Key)
	if err := e.verifier.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	for range 2 {
		e.verify(other.Key)
	}
	if err := e.verifier.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	q := "?granularity=hour&from=" + start.Add(-time.Hour).Format(time.RFC3339) + "&to=" + e.clock.Now().Add(time.Hour).Format(time.RFC3339)
	type report struct {
		Total   int64 `json:"total"`
		Buckets []struct {
			Start    time.Time        `json:"start"`
			Total    int64            `json:"total"`
			Outcomes map[string]int64 `json:"outcomes"`
		} `json:"buckets"`
	}
	var rep report
	e.must(http.StatusOK, "GET", "/v1/api-keys/"+k.ID+"/usage"+q, nil).decode(t, &rep)
	if rep.Total != 5 || len(rep.Buckets) != 1 || rep.Buckets[0].Outcomes["VALID"] != 3 || rep.Buckets[0].Outcomes["RATE_LIMITED"] != 2 ||
		!rep.Buckets[0].Start.Equal(start.Truncate(time.Hour)) {
		t.Errorf("key usage = %+v", rep)
	}
	e.must(http.StatusOK, "GET", "/v1/usage"+q, nil).decode(t, &rep)
	if rep.Total != 8 || len(rep.Buckets) != 2 || rep.Buckets[1].Total != 2 {
		t.Errorf("account usage = %+v", rep)
	}
	e.must(http.StatusOK, "GET", "/v1/usage"+q+"&project_id="+p, nil).decode(t, &rep)
	if rep.Total != 5 {
		t.Errorf("project usage = %+v", rep)
	}
	if r := e.do("GET", "/v1/usage?granularity=minute&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z", nil); r.status != http.StatusUnprocessableEntity {
		t.Errorf("a month of minutes = %d, want 422", r.status)
	}
	if r := e.do("GET", "/v1/usage?granularity=week", nil); r.status != http.StatusUnprocessableEntity {
		t.Errorf("granularity week = %d", r.status)
	}
	if r := e.do("GET", "/v1/usage?from=2026-01-01T00:00:00Z&to=2025-01-01T00:00:00Z", nil); r.status != http.StatusUnprocessableEntity {
		t.Errorf("from after to = %d", r.status)
	}

	body := string(e.do("GET", "/metrics", nil).body)
	for _, want := range []string{
		`keyward_verifications_total{code="VALID"} 6`,
		`keyward_verifications_total{code="RATE_LIMITED"} 2`,
		`keyward_ratelimit_decisions_total{decision="limited"} 2`,
		`keyward_verify_cache_lookups_total{result="hit"}`,
		`keyward_verify_duration_seconds_count 8`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, k.ID) || strings.Contains(body, k.Key) {
		t.Error("/metrics names a key")
	}
}

// TestTokenSharesKeyLimit: an access token is held to its key's rate limit and spends its
// credits, so that exchanging a key for a token is no way around either.
func TestTokenSharesKeyLimit(t *testing.T) {
	e := newLimitedEnv(t)
	k := e.key(map[string]any{"name": "client", "role_id": "viewer", "credits": map[string]any{"remaining": 100},
		"rate_limit": map[string]any{"rate": 1, "period_seconds": 60, "burst": 4}})
	tok := e.accessToken(k.ID, k.Key, "").AccessToken // the exchange verifies the key: 1 of 4
	type answer struct {
		Code      string `json:"code"`
		RateLimit *struct {
			Remaining int64 `json:"remaining"`
		} `json:"ratelimit"`
		Remaining *int64 `json:"remaining"`
	}
	var a answer
	e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": tok, "cost": 10}).decode(t, &a)
	if a.Code != "VALID" || a.RateLimit == nil || a.RateLimit.Remaining != 2 || a.Remaining == nil || *a.Remaining != 89 {
		t.Fatalf("token verification = %+v, want VALID with 2 left of the burst and 89 credits", a)
	}
	if r := e.doAs(tok, "GET", "/v1/whoami", nil); r.status != http.StatusOK {
		t.Fatalf("whoami with the token = %d %s", r.status, r.body)
	}
	// The key and its token share one bucket: the key itself now finds it empty.
	if got := e.verify(k.Key).Code; got != "VALID" {
		t.Fatalf("the key's own verification = %s, want the burst's last", got)
	}
	e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": tok}).decode(t, &a)
	if a.Code != "RATE_LIMITED" {
		t.Errorf("token over the key's limit = %+v, want RATE_LIMITED", a)
	}
	if r := e.doAs(tok, "GET", "/v1/whoami", nil); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Errorf("whoami with the token over the limit = %d %v", r.status, r.header)
	}
}

// TestTokenEndpointOverLimit: a client whose key is over its rate limit gets 429, not
// invalid_client, and the refusal does not count as a failed authentication.
func TestTokenEndpointOverLimit(t *testing.T) {
	e := newLimitedEnv(t)
	k := e.key(map[string]any{"name": "client", "rate_limit": map[string]any{"rate": 1, "period_seconds": 60, "burst": 1}})
	e.accessToken(k.ID, k.Key, "")
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {k.ID}, "client_secret": {k.Key}}
	for range 12 { // beyond the failure limiter's per-client limit, were these failures
		r := e.form("/oauth/token", v, "", "", "")
		if r.status != http.StatusTooManyRequests || !strings.Contains(string(r.body), `"error":"temporarily_unavailable"`) || r.header.Get("Retry-After") == "" {
			t.Fatalf("token over the key's limit = %d %v %s, want 429 temporarily_unavailable with Retry-After", r.status, r.header, r.body)
		}
	}
	e.clock.Advance(time.Minute)
	e.accessToken(k.ID, k.Key, "") // the key is not locked out
}

// TestSpentCreditsRetryAfter: a key whose credits are spent is told, on the routes it
// authenticates, when they refill.
func TestSpentCreditsRetryAfter(t *testing.T) {
	e := newLimitedEnv(t)
	k := e.key(map[string]any{"name": "spent", "role_id": "viewer", "credits": map[string]any{"remaining": 0, "refill": map[string]any{"interval": "daily", "amount": 10}}})
	r := e.doAs(k.Key, "GET", "/v1/whoami", nil)
	if r.status != http.StatusTooManyRequests || problemCode(t, r) != "usage_exceeded" {
		t.Fatalf("whoami with spent credits = %d %s", r.status, r.body)
	}
	if s, _ := strconv.Atoi(r.header.Get("Retry-After")); s < 1 || s > 86400 {
		t.Errorf("Retry-After = %q, want the seconds until the next UTC midnight", r.header.Get("Retry-After"))
	}
}
