package main

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/client"
)

// usageDeadline bounds the wait for verifications to reach a usage report: the servers of
// these tests write their counts about every second (usageEverySecond).
const usageDeadline = 10 * time.Second

// usageEverySecond is the flag that has a server write usage counts every second instead of
// when their minute ends, so that a test sees them without waiting for the minute.
const usageEverySecond = "--usage-write-every=0"

// waitForUsage runs 'keys usage KEY_ID --json' with more args until the report counts at
// least want verifications, and returns that report.
func waitForUsage(t *testing.T, url, token, keyID string, want int64, args ...string) client.Usage {
	t.Helper()
	deadline := time.Now().Add(usageDeadline)
	for {
		u := decodeOutput[client.Usage](t, runCLI(t, url, token, append([]string{"keys", "usage", keyID, "--json"}, args...)...))
		if u.Total >= want {
			return u
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys usage %s still counts %d verifications after %v, want %d: %+v", keyID, u.Total, usageDeadline, want, u)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sumOutcomes adds up one outcome over a report's buckets.
func sumOutcomes(u client.Usage, code client.VerifyCode) int64 {
	var n int64
	for _, b := range u.Buckets {
		n += b.Outcomes[code]
	}
	return n
}

// TestCLITiersEndToEnd walks rate-limit tiers through the CLI against a real `keyward serve`:
// the built-in tiers, a tier of the account's own, a member asking for the high tier and
// getting a pending request, an admin approving it, and the key's verifications charted.
func TestCLITiersEndToEnd(t *testing.T) {
	p := startProcess(t, []string{"--data", filepath.Join(t.TempDir(), "keyward-data"), usageEverySecond}, nil)
	url, token := p.url, adminKeyPattern.FindString(p.stderr.String())
	if token == "" {
		t.Fatalf("the first start printed no admin key:\n%s", p.stderr.String())
	}

	tiers := runCLI(t, url, token, "tiers", "list")
	for _, row := range [][]string{
		{"standard", "30/1s, burst 30", "fail_open", "built-in"},
		{"high", "100/1s, burst 100", "required", "built-in"},
	} {
		if tableLine(tiers, row...) == "" {
			t.Errorf("tiers list has no row with %q:\n%s", row, tiers)
		}
	}

	created := runCLI(t, url, token, "tiers", "create", "partner", "--rate", "50", "--burst", "80",
		"--quota", "1000", "--quota-window", "24h", "--fail-mode", "fail_closed", "--description", "partners")
	assertContains(t, "tiers create", created, "Created tier partner.",
		"RATE LIMIT   50/1s, burst 80, quota 1000/24h", "FAIL MODE    fail_closed", "TYPE         custom")
	// --burst alone keeps the rate and the quota.
	partner := decodeOutput[client.Tier](t, runCLI(t, url, token, "tiers", "update", "partner", "--burst", "90", "--json"))
	if want := (client.RateLimit{Rate: 50, Period: time.Second, Burst: 90, QuotaLimit: 1000, QuotaWindow: 24 * time.Hour}); partner.RateLimit != want ||
		partner.FailMode != client.FailClosed || partner.BuiltIn || partner.UpdatedAt == nil {
		t.Errorf("tiers update partner --burst 90 = %+v, want limit %+v, fail_closed, custom", partner, want)
	}
	if got := decodeOutput[client.Tier](t, runCLI(t, url, token, "tiers", "get", "partner", "--json")); got.RateLimit.Burst != 90 {
		t.Errorf("tiers get partner: burst %d, want 90", got.RateLimit.Burst)
	}

	// A member-level credential: a key acting for a user with the member role, which may
	// manage its own keys but not approve the high tier.
	user := decodeOutput[client.User](t, runCLI(t, url, token, "users", "create", "--email", "bob@example.com", "--role", "member", "--json"))
	member := decodeOutput[client.CreatedKey](t, runCLI(t, url, token, "keys", "create", "--name", "bob-cli",
		"--user", user.ID, "--role", "member", "--json")).Secret

	out := runCLI(t, url, member, "keys", "create", "--name", "bob-batch", "--user", user.ID, "--tier", "high")
	keyID := strings.Fields(strings.TrimPrefix(out, "Created account key "))[0]
	if tableLine(out, "TIER ", "standard") == "" || tableLine(out, "TIER REQUEST", "high: pending (request ") == "" {
		t.Fatalf("keys create --tier high by a member shows no standard tier with a pending request:\n%s", out)
	}
	secret := strings.TrimSpace(out[strings.LastIndex(out, "shown again):")+len("shown again):"):])

	pending := decodeOutput[[]client.TierRequest](t, runCLI(t, url, token, "tiers", "requests", "--status", "pending", "--key", keyID, "--json"))
	if len(pending) != 1 || pending[0].Tier != client.TierHigh || pending[0].KeyID != keyID || pending[0].Status != client.TierRequestPending {
		t.Fatalf("tiers requests --status pending = %+v, want the key's request for high", pending)
	}
	requestID := pending[0].ID
	if line := tableLine(runCLI(t, url, token, "tiers", "requests", "--status", "pending"), requestID, keyID, "high", "pending"); line == "" {
		t.Errorf("tiers requests --status pending has no row for %s", requestID)
	}
	if err := runCLIErr(t, url, member, "tiers", "approve", requestID); !client.IsForbidden(err) {
		t.Errorf("tiers approve by the member: err = %v, want forbidden", err)
	}

	approved := runCLI(t, url, token, "tiers", "approve", requestID, "--reason", "launch week")
	assertContains(t, "tiers approve", approved, "Approved tier request "+requestID+": tier high for key "+keyID+".",
		"STATUS        approved", "REASON        launch week")
	if tableLine(runCLI(t, url, token, "keys", "get", keyID), "TIER ", "high") == "" {
		t.Errorf("keys get after the approval does not show the high tier")
	}
	if err := runCLIErr(t, url, token, "tiers", "reject", requestID); !client.IsConflict(err) {
		t.Errorf("rejecting a decided request: err = %v, want conflict", err)
	}
	if got := decodeOutput[[]client.TierRequest](t, runCLI(t, url, token, "tiers", "requests", "--status", "pending", "--json")); len(got) != 0 {
		t.Errorf("pending requests after the approval = %+v, want none", got)
	}

	// The key is held to the high tier within a second of the approval; count every
	// verification made on the way.
	kw := client.New(url, "")
	var verified int64
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := kw.VerifyKey(t.Context(), client.VerifyKeyParams{Key: secret})
		if err != nil {
			t.Fatal(err)
		}
		verified++
		if r.Code != client.VerifyValid {
			t.Fatalf("verification %d = %s, want VALID", verified, r.Code)
		}
		if verified >= 5 && r.RateLimit != nil && r.RateLimit.Limit == 100 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the key's rate limit is %+v after %d verifications, want the high tier's burst of 100", r.RateLimit, verified)
		}
		time.Sleep(50 * time.Millisecond)
	}

	u := waitForUsage(t, url, token, keyID, verified, "--granularity", "minute", "--since", "1h")
	if u.KeyID != keyID || u.Granularity != client.GranularityMinute || sumOutcomes(u, client.VerifyValid) != verified {
		t.Errorf("keys usage --json = %+v, want %d VALID verifications of %s per minute", u, verified, keyID)
	}
	chart := runCLI(t, url, token, "keys", "usage", keyID, "--granularity", "minute", "--since", "1h")
	assertContains(t, "keys usage", chart, "Verifications of key "+keyID+" per minute, ", "█")
	if !strings.Contains(chart, "\ntotal ") || !strings.HasSuffix(strings.TrimRight(chart, "\n"), " "+strconv.FormatInt(verified, 10)) {
		t.Errorf("keys usage chart does not end with a total of %d:\n%s", verified, chart)
	}
	if strings.Contains(chart, "[") {
		t.Errorf("keys usage chart shows refusals for a key that had none:\n%s", chart)
	}
	if account := decodeOutput[client.Usage](t, runCLI(t, url, token, "usage", "--json")); account.Total < verified || account.KeyID != "" {
		t.Errorf("usage --json = %+v, want the account's report with at least %d verifications", account, verified)
	}
	p.stop(syscall.SIGTERM)
}

// TestCLICreditsEndToEnd checks usage credits and a key's own rate limit through the CLI and
// the SDK against a real `keyward serve`: a key with 3 credits passes 3 verifications and is
// USAGE_EXCEEDED after, and a key limited to a burst of 2 is RATE_LIMITED on the third.
func TestCLICreditsEndToEnd(t *testing.T) {
	p := startProcess(t, []string{"--data", filepath.Join(t.TempDir(), "keyward-data"), usageEverySecond}, nil)
	url, token := p.url, adminKeyPattern.FindString(p.stderr.String())
	kw := client.New(url, "")

	metered := decodeOutput[client.CreatedKey](t, runCLI(t, url, token, "keys", "create", "--name", "metered", "--credits", "3", "--json"))
	if metered.Credits == nil || metered.Credits.Remaining != 3 || metered.Credits.Refill != nil {
		t.Fatalf("keys create --credits 3: credits = %+v, want 3 without refill", metered.Credits)
	}
	var codes []client.VerifyCode
	var remaining []int64
	for range 5 {
		r, err := kw.VerifyKey(t.Context(), client.VerifyKeyParams{Key: metered.Secret})
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, r.Code)
		if r.Remaining != nil {
			remaining = append(remaining, *r.Remaining)
		}
	}
	wantCodes := []client.VerifyCode{client.VerifyValid, client.VerifyValid, client.VerifyValid, client.VerifyUsageExceeded, client.VerifyUsageExceeded}
	if !slices.Equal(codes, wantCodes) {
		t.Errorf("five verifications of a key with 3 credits = %v, want %v", codes, wantCodes)
	}
	if len(remaining) < 3 || remaining[0] != 2 || remaining[1] != 1 || remaining[2] != 0 {
		t.Errorf("credits remaining after each verification = %v, want 2, 1, 0, …", remaining)
	}
	// Cost 0 checks without spending.
	if r, err := kw.VerifyKey(t.Context(), client.VerifyKeyParams{Key: metered.Secret, Cost: new(int64(0))}); err != nil || r.Code != client.VerifyValid {
		t.Errorf("verification with cost 0 of a spent key = %+v, %v; want VALID", r, err)
	}
	got := runCLI(t, url, token, "keys", "get", metered.ID)
	if tableLine(got, "CREDITS", "0 left") == "" {
		t.Errorf("keys get of the spent key shows no 0 credits left:\n%s", got)
	}
	u := waitForUsage(t, url, token, metered.ID, 6)
	if sumOutcomes(u, client.VerifyValid) != 4 || sumOutcomes(u, client.VerifyUsageExceeded) != 2 {
		t.Errorf("usage of the metered key = %+v, want 4 VALID and 2 USAGE_EXCEEDED", u)
	}
	assertContains(t, "keys usage of the metered key", runCLI(t, url, token, "keys", "usage", metered.ID), "[USAGE_EXCEEDED 2]")

	updated := runCLI(t, url, token, "keys", "update", metered.ID, "--credits", "10", "--refill", "monthly", "--refill-day", "15")
	if tableLine(updated, "CREDITS", "10 left, refilled to 10 monthly on day 15") == "" {
		t.Errorf("keys update --credits 10 --refill monthly shows:\n%s", updated)
	}
	if r, err := kw.VerifyKey(t.Context(), client.VerifyKeyParams{Key: metered.Secret}); err != nil || r.Code != client.VerifyValid || r.Remaining == nil || *r.Remaining != 9 {
		t.Errorf("verification after the top-up = %+v, %v; want VALID with 9 left", r, err)
	}
	if k := decodeOutput[client.Key](t, runCLI(t, url, token, "keys", "update", metered.ID, "--no-credits", "--json")); k.Credits != nil {
		t.Errorf("keys update --no-credits: credits = %+v, want none", k.Credits)
	}

	// A key's own limit: a burst of 2 per minute.
	limited := decodeOutput[client.CreatedKey](t, runCLI(t, url, token, "keys", "create", "--name", "limited",
		"--rate", "1", "--period", "1m", "--burst", "2", "--json"))
	if want := (client.RateLimit{Rate: 1, Period: time.Minute, Burst: 2}); limited.RateLimit == nil || *limited.RateLimit != want {
		t.Fatalf("keys create --rate 1 --period 1m --burst 2: limit = %+v, want %+v", limited.RateLimit, want)
	}
	for i, want := range []client.VerifyCode{client.VerifyValid, client.VerifyValid, client.VerifyRateLimited} {
		r, err := kw.VerifyKey(t.Context(), client.VerifyKeyParams{Key: limited.Secret})
		if err != nil {
			t.Fatal(err)
		}
		if r.Code != want {
			t.Errorf("verification %d of the limited key = %s, want %s", i+1, r.Code, want)
		}
		if want == client.VerifyRateLimited && (r.RateLimit == nil || r.RateLimit.Limit != 2 || r.RateLimit.Remaining != 0 ||
			!r.RateLimit.Reset.After(time.Now())) {
			t.Errorf("rate limit state when limited = %+v, want limit 2, none remaining, reset in the future", r.RateLimit)
		}
	}
	list := runCLI(t, url, token, "keys", "list")
	if tableLine(list, limited.ID, "standard", "1/1m, burst 2", "-") == "" || tableLine(list, metered.ID, "standard", "tier", "-") == "" {
		t.Errorf("keys list does not show the tiers, limits and credits:\n%s", list)
	}
	// --burst alone keeps the key's rate and period; --no-rate-limit goes back to the tier's.
	if k := decodeOutput[client.Key](t, runCLI(t, url, token, "keys", "update", limited.ID, "--burst", "5", "--json")); k.RateLimit == nil ||
		*k.RateLimit != (client.RateLimit{Rate: 1, Period: time.Minute, Burst: 5}) {
		t.Errorf("keys update --burst 5: limit = %+v, want 1/1m burst 5", k.RateLimit)
	}
	if k := decodeOutput[client.Key](t, runCLI(t, url, token, "keys", "update", limited.ID, "--no-rate-limit", "--json")); k.RateLimit != nil {
		t.Errorf("keys update --no-rate-limit: limit = %+v, want none", k.RateLimit)
	}
	if err := runCLIErr(t, url, token, "keys", "update", limited.ID, "--burst", "5"); err == nil || !strings.Contains(err.Error(), "--rate is needed") {
		t.Errorf("keys update --burst of a key without a limit of its own: err = %v, want --rate is needed", err)
	}
	p.stop(syscall.SIGTERM)
}
