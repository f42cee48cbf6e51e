package httpapi

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/verify"
)

// The verify answer written from a cache entry's pieces is, byte for byte, what
// encoding/json writes for the same verdict: for every shape of key and verdict, the first
// time (which makes the pieces) and the next (which uses them).
func TestVerifyAnswerIsWhatEncodingJSONWrites(t *testing.T) {
	now := time.Date(2026, 12, 6, 22, 0, 0, 123456789, time.UTC)
	expires, grace := now.Add(time.Hour), now.Add(time.Minute)
	full := &keyward.Key{ID: "key_1", AccountID: "acc_1", ProjectID: "prj_1", EnvironmentID: "env_1", UserID: "usr_1",
		Name: `billing <"prod"> & co ✓`, Scopes: []string{"read", "write"}, ExpiresAt: &expires, GraceExpiresAt: &grace,
		Metadata: map[string]any{"plan": "pro", "html": "<script>&</script>", "n": 3.5, "nested": map[string]any{"a": []any{1.0, "b", nil}}}}
	plain := &keyward.Key{ID: "key_2", AccountID: "acc_1", Name: "k"}
	admin := keyward.BuiltInRole("admin")
	identity := &keyward.Identity{Role: admin, Permissions: keyward.Permissions{"api_keys.read", "projects.prj_1.write"},
		Projects: []keyward.ProjectGrant{{Project: &keyward.Project{ID: "prj_1", Name: "shop \u2028"}, Role: admin}}}
	standard := keyward.RateLimit{Rate: 10, Period: time.Second, Burst: 30}
	quota := keyward.RateLimit{Rate: 1, Period: time.Minute, Burst: 5, QuotaLimit: 1000, QuotaWindow: 24 * time.Hour}
	decision := ratelimit.Decision{Allowed: true, Rate: ratelimit.Window{Limit: 30, Remaining: 29, Reset: 100 * time.Millisecond}}
	for _, key := range []struct {
		name string
		key  *keyward.Key
		id   *keyward.Identity
	}{{"full", full, identity}, {"plain, no identity", plain, nil}, {"plain, empty identity", plain, &keyward.Identity{}}} {
		memo := new(verify.Memo)
		for _, res := range []verify.Result{
			{Valid: true, Code: keyward.VerifyValid},
			{Valid: true, Code: keyward.VerifyValid, Limited: true, RateLimit: decision, Policy: standard},
			{Valid: true, Code: keyward.VerifyValid, Limited: true, RateLimit: decision, Policy: standard, Credited: true, CreditsRemaining: 41},
			{Code: keyward.VerifyRateLimited, Limited: true, RateLimit: ratelimit.Decision{Rate: ratelimit.Window{Limit: 30}, RetryAfter: time.Second}, Policy: standard},
			{Code: keyward.VerifyRateLimited, Limited: true, RateLimit: decision, Policy: quota}, // not the pieces' limit
			{Code: keyward.VerifyUsageExceeded, Credited: true},
			{Code: keyward.VerifyRevoked},
			{Code: keyward.VerifyInsufficientScope},
		} {
			res.Key, res.Identity, res.Memo = key.key, key.id, memo
			var want bytes.Buffer
			if err := json.NewEncoder(&want).Encode(verifyResponse(res, now)); err != nil {
				t.Fatal(err)
			}
			for _, pass := range []string{"first", "again"} {
				got, ok := appendVerifyAnswer(nil, res, now)
				if !ok {
					t.Fatalf("%s %s, %s: not written from pieces", key.name, res.Code, pass)
				}
				if !bytes.Equal(got, want.Bytes()) {
					t.Errorf("%s %s, %s:\n got %s\nwant %s", key.name, res.Code, pass, got, want.Bytes())
				}
			}
		}
	}
}

// A verdict without a cache entry (an unknown key, an access token) is not written from
// pieces, and the handler falls back to encoding/json.
func TestVerifyAnswerWithoutEntryFallsBack(t *testing.T) {
	for _, res := range []verify.Result{
		{Code: keyward.VerifyNotFound},
		{Code: keyward.VerifyMalformed},
		{Valid: true, Code: keyward.VerifyValid, Key: &keyward.Key{ID: "key_1"}, Token: &keyward.AccessToken{ClientID: "key_1"}, Memo: new(verify.Memo)},
	} {
		if _, ok := appendVerifyAnswer(nil, res, time.Now()); ok {
			t.Errorf("%s: written from pieces", res.Code)
		}
	}
}

// Whatever body onlyKey reads, encoding/json reads the same: the same key and nothing else.
// (The seeds run with the tests; `go test -fuzz FuzzOnlyKey ./internal/httpapi` explores.)
func FuzzOnlyKey(f *testing.F) {
	for _, s := range []string{
		`{"key":"kw_live_abc"}`, ` { "key" : "kw_x" } `, "{\n\t\"key\":\r\"k\"}\n", `{"key":""}`,
		`{"KEY":"k"}`, `{"key":"a\"b"}`, `{"key":"a\u0041"}`, `{"key":"k","cost":1}`, `{"key":"k"}x`,
		`{"key":"k"`, `{"key":1}`, `{"key":"é"}`, `{"key":"k"}{}`, `{}`, ``, `{"key":"k" }`, `{"key":"<&>"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		key, ok := onlyKey(body)
		if !ok {
			return
		}
		var got verifyRequest
		if err := verifyDecoding.DecodeBody(body, &got.VerifyRequest); err != nil {
			t.Fatalf("onlyKey read %q from %q, which encoding/json refuses: %v", key, body, err)
		}
		if want := (VerifyRequest{Key: key}); got.Key != want.Key || got.Cost != nil || got.RequiredScopes != nil || got.Permissions != "" || got.IP != "" {
			t.Fatalf("onlyKey read %q from %q; encoding/json read %+v", key, body, got.VerifyRequest)
		}
	})
}
