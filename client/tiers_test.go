package client

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Wire forms of the rate-limit objects, as the server sends them.
const (
	testTierJSON = `{"name":"partner","description":"partners","rate_limit":{"rate":50,"period_seconds":1,"burst":80,` +
		`"quota_limit":10000,"quota_window_seconds":86400},"requires_approval":true,"fail_mode":"fail_closed","built_in":false,` +
		`"updated_at":"2026-01-02T03:04:05Z"}`
	testBuiltInTierJSON = `{"name":"standard","description":"30 requests per second","rate_limit":{"rate":30,"period_seconds":1,"burst":30},` +
		`"requires_approval":false,"fail_mode":"fail_open","built_in":true,"updated_at":null}`
	testPendingTierRequestJSON = `{"id":"tr_1","key_id":"key_1","tier":"high","status":"pending","requested_by":"key_9",` +
		`"created_at":"2026-01-02T03:04:05Z","decided_by":null,"decided_at":null,"reason":null}`
	testApprovedTierRequestJSON = `{"id":"tr_1","key_id":"key_1","tier":"high","status":"approved","requested_by":"key_9",` +
		`"created_at":"2026-01-02T03:04:05Z","decided_by":"adm_1","decided_at":"2026-01-02T04:00:00Z","reason":"ok"}`
	testUsageJSON = `{"key_id":"key_1","project_id":null,"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","granularity":"hour",` +
		`"total":15,"buckets":[{"start":"2026-01-01T10:00:00Z","total":12,"outcomes":{"VALID":10,"RATE_LIMITED":2}},` +
		`{"start":"2026-01-01T11:00:00Z","total":3,"outcomes":{"USAGE_EXCEEDED":3}}]}`
	testLimitedKeyJSON = `{"id":"key_1","account_id":"acc_1","project_id":"prj_1","environment_id":null,"user_id":null,"role_id":null,` +
		`"project_accesses":[],"rate_limit_tier":"standard","rate_limit":{"rate":5,"period_seconds":60,"burst":5},` +
		`"credits":{"remaining":3,"refill":{"interval":"daily","amount":3}},` +
		`"rate_limit_tier_request":` + testPendingTierRequestJSON + `,"name":"n","key_prefix":"kw_abcdefgh",` +
		`"last4":"wxyz","status":"active","scopes":[],"allowed_ips":[],"metadata":null,"expires_at":null,"last_used_at":null,"created_at":"2026-01-02T03:04:05Z",` +
		`"revoked_at":null,"replaced_by_key_id":null,"grace_expires_at":null,"rotation_interval_days":0,"next_rotation_at":null,` +
		`"rotation_webhook_url":null,"rotation_grace_seconds":604800,"leaked_at":null,"leak_source":null,"leak_url":null,"imported":false,"created_by":"adm_1"}`
)

func TestTierRequests(t *testing.T) {
	from := time.Date(2026, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))
	to := from.Add(24 * time.Hour)
	refilled := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []requestCase{
		{
			name: "list tiers", status: 200, response: "[" + testTierJSON + "," + testBuiltInTierJSON + "]",
			call: func(ctx context.Context, c *Client) error {
				ts, err := c.ListTiers(ctx)
				if err == nil && (len(ts) != 2 || ts[0].RateLimit != (RateLimit{Rate: 50, Period: time.Second, Burst: 80,
					QuotaLimit: 10000, QuotaWindow: 24 * time.Hour}) || ts[1].UpdatedAt != nil || !ts[1].BuiltIn) {
					return fmt.Errorf("tiers = %+v, want partner with its limit and quota, then built-in standard", ts)
				}
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/rate-limit-tiers", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "get tier escapes the name", status: 200, response: testTierJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GetTier(ctx, "a/b")
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/rate-limit-tiers/a%2Fb", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "create tier leaves the server's defaults out", status: 201, response: testTierJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.CreateTier(ctx, CreateTierParams{Name: "partner", RateLimit: RateLimit{Rate: 50}})
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/rate-limit-tiers", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"name": "partner", "rate_limit": map[string]any{"rate": float64(50)}}},
		},
		{
			name: "create tier with everything", status: 201, response: testTierJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.CreateTier(ctx, CreateTierParams{Name: "partner", Description: "partners",
					RateLimit:        RateLimit{Rate: 50, Period: time.Minute, Burst: 80, QuotaLimit: 10000, QuotaWindow: 24 * time.Hour},
					RequiresApproval: true, FailMode: FailClosed})
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/rate-limit-tiers", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"name": "partner", "description": "partners", "requires_approval": true, "fail_mode": "fail_closed",
					"rate_limit": map[string]any{"rate": float64(50), "period_seconds": float64(60), "burst": float64(80),
						"quota_limit": float64(10000), "quota_window_seconds": float64(86400)}}},
		},
		{
			name: "update tier sends only what is set", status: 200, response: testTierJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateTier(ctx, "partner", UpdateTierParams{RequiresApproval: new(false), FailMode: new(FailOpen)})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/rate-limit-tiers/partner", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"requires_approval": false, "fail_mode": "fail_open"}},
		},
		{
			name: "request tier", status: 201, response: testPendingTierRequestJSON,
			call: func(ctx context.Context, c *Client) error {
				r, err := c.RequestTier(ctx, "key_1", TierHigh)
				if err == nil && (r.Status != TierRequestPending || r.DecidedBy != "" || r.DecidedAt != nil || r.Reason != "") {
					return fmt.Errorf("request = %+v, want pending and undecided", r)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/api-keys/key_1/tier-requests", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"tier": "high"}},
		},
		{
			name: "list tier requests with filters", status: 200, response: "[" + testPendingTierRequestJSON + "]",
			call: func(ctx context.Context, c *Client) error {
				_, err := c.ListTierRequests(ctx, ListTierRequestsParams{KeyID: "key_1", Status: TierRequestPending, Limit: 10, Cursor: "c1"})
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/tier-requests", Auth: "Bearer kwadmin_t",
				RawQuery: "cursor=c1&key_id=key_1&limit=10&status=pending"},
		},
		{
			name: "get tier request", status: 200, response: testApprovedTierRequestJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.GetTierRequest(ctx, "tr_1")
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/tier-requests/tr_1", Auth: "Bearer kwadmin_t"},
		},
		{
			name: "approve with a reason", status: 200, response: testApprovedTierRequestJSON,
			call: func(ctx context.Context, c *Client) error {
				r, err := c.ApproveTierRequest(ctx, "tr_1", "ok")
				if err == nil && (r.Status != TierRequestApproved || r.DecidedBy != "adm_1" || r.Reason != "ok") {
					return fmt.Errorf("request = %+v, want approved by adm_1", r)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/tier-requests/tr_1/approve", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"reason": "ok"}},
		},
		{
			name: "reject without a reason sends an empty object", status: 200, response: testApprovedTierRequestJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.RejectTierRequest(ctx, "tr_1", "")
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/tier-requests/tr_1/reject", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{}},
		},
		{
			name: "key usage", status: 200, response: testUsageJSON,
			call: func(ctx context.Context, c *Client) error {
				u, err := c.KeyUsage(ctx, "key_1", UsageParams{From: from, To: to, Granularity: GranularityHour})
				if err == nil && (u.KeyID != "key_1" || u.ProjectID != "" || u.Total != 15 || len(u.Buckets) != 2 ||
					u.Buckets[0].Outcomes[VerifyRateLimited] != 2 || u.Buckets[1].Outcomes[VerifyUsageExceeded] != 3) {
					return fmt.Errorf("usage = %+v, want the key's two buckets", u)
				}
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/api-keys/key_1/usage", Auth: "Bearer kwadmin_t",
				RawQuery: "from=2026-01-01T00%3A00%3A00Z&granularity=hour&to=2026-01-02T00%3A00%3A00Z"},
		},
		{
			name: "project usage with the server's defaults", status: 200,
			response: `{"key_id":null,"project_id":"prj_1","from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z","granularity":"hour","total":0,"buckets":[]}`,
			call: func(ctx context.Context, c *Client) error {
				u, err := c.Usage(ctx, UsageParams{ProjectID: "prj_1"})
				if err == nil && (u.Buckets == nil || u.KeyID != "") {
					return fmt.Errorf("usage = %+v, want no key and an empty, non-nil bucket list", u)
				}
				return err
			},
			want: recorded{Method: "GET", Path: "/v1/usage", Auth: "Bearer kwadmin_t", RawQuery: "project_id=prj_1"},
		},
		{
			name: "create key with a limit and credits; the refill time is not sent", status: 201,
			response: testLimitedKeyJSON[:len(testLimitedKeyJSON)-1] + `,"key":"kw_secret"}`,
			call: func(ctx context.Context, c *Client) error {
				k, err := c.CreateKey(ctx, CreateKeyParams{Name: "n", RateLimitTier: TierHigh,
					RateLimit: &RateLimit{Rate: 5, Period: time.Minute},
					Credits:   &Credits{Remaining: 3, Refill: &Refill{Interval: RefillDaily, Amount: 3}, RefilledAt: &refilled}})
				if err == nil && (k.RateLimitTier != TierStandard || k.TierRequest == nil || k.TierRequest.Tier != TierHigh ||
					k.Credits.Remaining != 3 || k.RateLimit.Period != time.Minute) {
					return fmt.Errorf("created = %+v, want standard with a pending request for high, credits and a limit", k.Key)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/api-keys", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"name": "n", "rate_limit_tier": "high",
					"rate_limit": map[string]any{"rate": float64(5), "period_seconds": float64(60)},
					"credits":    map[string]any{"remaining": float64(3), "refill": map[string]any{"interval": "daily", "amount": float64(3)}}}},
		},
		{
			name: "update key sets a limit and credits", status: 200, response: testLimitedKeyJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateKey(ctx, "key_1", UpdateKeyParams{RateLimitTier: new(RateLimitTier("partner")),
					RateLimit: &RateLimit{Rate: 5, Burst: 10},
					Credits:   &Credits{Remaining: 100, Refill: &Refill{Interval: RefillMonthly, Amount: 100, Day: 15}, RefilledAt: &refilled}})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/api-keys/key_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"rate_limit_tier": "partner",
					"rate_limit": map[string]any{"rate": float64(5), "burst": float64(10)},
					"credits": map[string]any{"remaining": float64(100),
						"refill": map[string]any{"interval": "monthly", "amount": float64(100), "day": float64(15)}}}},
		},
		{
			name: "update key clears the limit and credits with null", status: 200, response: testLimitedKeyJSON,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.UpdateKey(ctx, "key_1", UpdateKeyParams{ClearRateLimit: true, ClearCredits: true})
				return err
			},
			want: recorded{Method: "PATCH", Path: "/v1/api-keys/key_1", Auth: "Bearer kwadmin_t", ContentType: "application/json",
				Body: map[string]any{"rate_limit": nil, "credits": nil}},
		},
		{
			name: "verify with a cost", status: 200,
			response: `{"valid":true,"code":"VALID","key_id":"key_1","ratelimit":{"limit":30,"remaining":29,"reset":1767323045123},"remaining":2}`,
			call: func(ctx context.Context, c *Client) error {
				r, err := c.VerifyKey(ctx, VerifyKeyParams{Key: "kw_secret", Cost: new(int64(0))})
				want := RateLimitState{Limit: 30, Remaining: 29, Reset: time.Date(2026, 1, 2, 3, 4, 5, 123e6, time.UTC)}
				if err == nil && (r.RateLimit == nil || *r.RateLimit != want || r.Remaining == nil || *r.Remaining != 2) {
					return fmt.Errorf("result = %+v, want rate limit %+v and 2 credits left", r, want)
				}
				return err
			},
			want: recorded{Method: "POST", Path: "/v1/keys/verify", ContentType: "application/json",
				Body: map[string]any{"key": "kw_secret", "cost": float64(0)}},
		},
	}
	runRequestCases(t, "", tests)
}

// TestTierJSONRoundTrip checks that the rate-limit types marshal back to the wire form they
// were decoded from, nulls included, so that the CLI's --json shows the API's own JSON.
func TestTierJSONRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		wire string
		into any
	}{
		{"tier", testTierJSON, new(Tier)},
		{"unchanged built-in tier", testBuiltInTierJSON, new(Tier)},
		{"pending tier request", testPendingTierRequestJSON, new(TierRequest)},
		{"approved tier request", testApprovedTierRequestJSON, new(TierRequest)},
		{"key usage", testUsageJSON, new(Usage)},
		{"account usage", `{"key_id":null,"project_id":null,"from":"2026-01-01T00:00:00Z","to":"2026-01-02T00:00:00Z",` +
			`"granularity":"day","total":0,"buckets":[]}`, new(Usage)},
		{"key with a limit, credits and a pending request", testLimitedKeyJSON, new(Key)},
		{"verdict with a rate limit and credits", `{"valid":false,"code":"RATE_LIMITED","key_id":"key_1",` +
			`"ratelimit":{"limit":30,"remaining":0,"reset":1767323045123},"remaining":0}`, new(VerifyResult)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { wantRoundTrip(t, tt.wire, tt.into) })
	}
}

func TestTierRefusedBeforeRequest(t *testing.T) {
	srv, seen := fixedServer(t, 200, "application/json", `{}`)
	c := New(srv.URL, "t")
	ctx := t.Context()
	tests := []struct {
		name string
		call func() error
	}{
		{"empty tier name", func() error { _, err := c.GetTier(ctx, ""); return err }},
		{"dot-dot tier name", func() error { _, err := c.UpdateTier(ctx, "..", UpdateTierParams{}); return err }},
		{"empty key id", func() error { _, err := c.RequestTier(ctx, "", TierHigh); return err }},
		{"no tier asked", func() error { _, err := c.RequestTier(ctx, "key_1", ""); return err }},
		{"empty tier request id", func() error { _, err := c.ApproveTierRequest(ctx, "", ""); return err }},
		{"dot tier request id", func() error { _, err := c.GetTierRequest(ctx, "."); return err }},
		{"key usage with a project", func() error {
			_, err := c.KeyUsage(ctx, "key_1", UsageParams{ProjectID: "prj_1"})
			return err
		}},
		{"period of a fraction of a second", func() error {
			_, err := c.CreateTier(ctx, CreateTierParams{Name: "x", RateLimit: RateLimit{Rate: 1, Period: 1500 * time.Millisecond}})
			return err
		}},
		{"negative quota window", func() error {
			_, err := c.UpdateKey(ctx, "key_1", UpdateKeyParams{RateLimit: &RateLimit{Rate: 1, QuotaLimit: 5, QuotaWindow: -time.Hour}})
			return err
		}},
		{"set and clear the rate limit", func() error {
			_, err := c.UpdateKey(ctx, "key_1", UpdateKeyParams{RateLimit: &RateLimit{Rate: 1}, ClearRateLimit: true})
			return err
		}},
		{"set and clear credits", func() error {
			_, err := c.UpdateKey(ctx, "key_1", UpdateKeyParams{Credits: &Credits{Remaining: 1}, ClearCredits: true})
			return err
		}},
		{"negative cost", func() error {
			_, err := c.VerifyKey(ctx, VerifyKeyParams{Key: "kw_x", Cost: new(int64(-1))})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Errorf("got nil error, want one")
			}
		})
	}
	if n := len(seen()); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
}

// TestUsageExceededProblem checks that a management call refused because the calling key's
// credits are spent is an *Error with its own code. (A rate-limited one, with its
// Retry-After, is in TestErrorDecoding.)
func TestUsageExceededProblem(t *testing.T) {
	srv, _ := fixedServer(t, 429, "application/problem+json",
		`{"title":"Too Many Requests","status":429,"detail":"the key's usage credits are spent","code":"usage_exceeded"}`)
	_, err := New(srv.URL, "kw_key").ListTiers(t.Context())
	var got *Error
	if !errors.As(err, &got) {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	want := &Error{Status: 429, Code: CodeUsageExceeded, Title: "Too Many Requests", Detail: "the key's usage credits are spent"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("error mismatch (-want +got):\n%s", diff)
	}
}
