package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// endpoint adds a webhook endpoint for events (all when none) and returns its id.
func (e *env) endpoint(events ...string) string {
	e.t.Helper()
	body := map[string]any{"url": "https://hooks.example.com/keyward"}
	if len(events) > 0 {
		body["events"] = events
	}
	r := e.must(http.StatusCreated, "POST", "/v1/webhook-endpoints", body).object(e.t)
	if s, _ := r["secret"].(string); !strings.HasPrefix(s, "whsec_") {
		e.t.Fatalf("a new endpoint's secret is %q", s)
	}
	return r["id"].(string)
}

// delivered lists the endpoint's messages, oldest first.
func (e *env) deliveries(endpointID string) []map[string]any {
	e.t.Helper()
	var out []map[string]any
	e.must(http.StatusOK, "GET", "/v1/webhook-endpoints/"+endpointID+"/deliveries?limit=200", nil).decode(e.t, &out)
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

func eventsOf(ds []map[string]any) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d["event"].(string))
	}
	return out
}

// A key's life reaches an endpoint as events in the order it happened, in the API's own
// shapes, never with a secret.
func TestWebhookEventsFollowAKey(t *testing.T) {
	e := newEnv(t)
	all := e.endpoint()
	revokedOnly := e.endpoint("api_key.revoked")
	k := e.key(map[string]any{"name": "lifecycle", "rotation_interval_days": 30, "rotation_webhook_url": "https://hooks.example.com/rotated"})
	e.must(http.StatusOK, "PATCH", "/v1/api-keys/"+k.ID, map[string]any{"name": "renamed"})
	rot := e.must(http.StatusCreated, "POST", "/v1/api-keys/"+k.ID+"/rotate", map[string]any{"grace_period_seconds": 60}).object(t)
	e.must(http.StatusNoContent, "DELETE", "/v1/api-keys/"+rot["new_key_id"].(string), nil)
	e.must(http.StatusNoContent, "DELETE", "/v1/api-keys/"+rot["new_key_id"].(string), nil) // again: no new event

	ds := e.deliveries(all)
	if got := strings.Join(eventsOf(ds), ","); got != "api_key.created,api_key.updated,api_key.rotated,api_key.revoked" {
		t.Fatalf("events %s", got)
	}
	if got := eventsOf(e.deliveries(revokedOnly)); len(got) != 1 || got[0] != "api_key.revoked" {
		t.Errorf("the endpoint subscribed to revocations got %v", got)
	}
	for _, d := range ds {
		payload, _ := json.Marshal(d["payload"])
		for _, secret := range []string{k.Key, rot["key"].(string), "whsec_"} {
			if strings.Contains(string(payload), secret) {
				t.Fatalf("event %s carries a secret: %s", d["event"], payload)
			}
		}
		if d["status"] != "pending" || d["next_attempt_at"] == nil {
			t.Errorf("an undelivered message: %v", d)
		}
	}
	var created struct {
		Type string `json:"type"`
		Data struct {
			APIKey struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"api_key"`
		} `json:"data"`
	}
	b, _ := json.Marshal(ds[0]["payload"])
	if err := json.Unmarshal(b, &created); err != nil || created.Type != "api_key.created" || created.Data.APIKey.ID != k.ID {
		t.Errorf("created payload %s (%v)", b, err)
	}
	var rotated map[string]map[string]map[string]any
	b, _ = json.Marshal(ds[2]["payload"])
	json.Unmarshal(b, &rotated)
	if rotated["data"]["api_key"]["id"] != rot["new_key_id"] || rotated["data"]["replaced_key"]["id"] != k.ID {
		t.Errorf("rotated payload %s", b)
	}
}

// Endpoints belong to their account: another tenant's is a 404, and managing them needs
// account.write.
func TestWebhookEndpointsAreTheAccounts(t *testing.T) {
	e := newEnv(t)
	id := e.endpoint()
	other := e.must(http.StatusCreated, "POST", "/v1/accounts", map[string]any{"name": "other"}).object(t)
	otherAdmin := other["admin_key"].(map[string]any)["key"].(string)
	for _, m := range []string{"GET", "PATCH", "DELETE"} {
		if r := e.doAs(otherAdmin, m, "/v1/webhook-endpoints/"+id, map[string]any{}); r.status != http.StatusNotFound {
			t.Errorf("%s another account's endpoint: %d %s", m, r.status, r.body)
		}
	}
	member := e.key(map[string]any{"name": "member", "role_id": "member"})
	if r := e.doAs(member.Key, "POST", "/v1/webhook-endpoints", map[string]any{"url": "https://x.example.com/"}); r.status != http.StatusForbidden {
		t.Errorf("a member adding an endpoint: %d %s", r.status, r.body)
	}
	for _, bad := range []map[string]any{
		{"url": "http://hooks.example.com/"},
		{"url": "ftp://hooks.example.com/"},
		{"url": "https://hooks.example.com/", "events": []string{"api_key.exploded"}},
	} {
		if r := e.do("POST", "/v1/webhook-endpoints", bad); r.status != http.StatusUnprocessableEntity {
			t.Errorf("endpoint %v: %d %s", bad, r.status, r.body)
		}
	}
	r := e.must(http.StatusOK, "PATCH", "/v1/webhook-endpoints/"+id, map[string]any{"enabled": false}).object(t)
	if r["enabled"] != false || r["disabled_reason"] == nil {
		t.Errorf("disabling: %v", r)
	}
	before := len(e.deliveries(id))
	e.key(map[string]any{"name": "unheard"})
	if ds := e.deliveries(id); len(ds) != before {
		t.Errorf("a disabled endpoint got %v", eventsOf(ds[before:]))
	}
	e.must(http.StatusNoContent, "DELETE", "/v1/webhook-endpoints/"+id, nil)
	e.must(http.StatusNotFound, "GET", "/v1/webhook-endpoints/"+id, nil)
}

// A rotated endpoint secret signs beside the new one until the overlap ends.
func TestWebhookSecretRotationOverlaps(t *testing.T) {
	e := newEnv(t)
	id := e.endpoint()
	r := e.must(http.StatusOK, "POST", "/v1/webhook-endpoints/"+id+"/rotate-secret", map[string]any{"overlap_seconds": 3600}).object(t)
	if r["previous_secret_expires_at"] == nil || !strings.HasPrefix(r["secret"].(string), "whsec_") {
		t.Fatalf("rotate-secret: %v", r)
	}
	ep, err := e.store.WebhookEndpoint(context.Background(), mustAccount(t, e), id)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := e.svc.EndpointSecrets(ep, e.clock.Now())
	if err != nil || len(secrets) != 2 || secrets[0] != r["secret"] {
		t.Fatalf("during the overlap the secrets are %d (%v), want the new one first and the old", len(secrets), err)
	}
	if secrets, _ = e.svc.EndpointSecrets(ep, e.clock.Now().Add(2*time.Hour)); len(secrets) != 1 {
		t.Errorf("after the overlap %d secrets sign", len(secrets))
	}
	if string(ep.Secret) == r["secret"] || strings.Contains(string(ep.Secret), "whsec_") {
		t.Error("the store holds the endpoint's secret in the clear")
	}
}

func mustAccount(t *testing.T, e *env) string {
	t.Helper()
	return e.must(http.StatusOK, "GET", "/v1/whoami", nil).object(t)["account"].(map[string]any)["id"].(string)
}

// Scheduled rotation: a key with a webhook is rotated once, with its grace, and its message
// carries the new secret sealed; a key without one gets a rotation_due notice and keeps going.
// Expiry notices go once per expiry.
func TestScheduledJobsEmitOnce(t *testing.T) {
	e := newEnv(t)
	ep := e.endpoint()
	withHook := e.key(map[string]any{"name": "hooked", "rotation_interval_days": 1, "rotation_webhook_url": "https://hooks.example.com/r", "rotation_grace_seconds": 120})
	noHook := e.key(map[string]any{"name": "plain", "rotation_interval_days": 1})
	expiring := e.key(map[string]any{"name": "expiring", "expires_at": e.clock.Now().Add(3 * 24 * time.Hour)})
	ctx := context.Background()

	e.clock.Advance(24*time.Hour + time.Minute)
	for range 2 {
		if _, _, err := e.svc.RotateDueKeys(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.NotifyExpiringKeys(ctx, 7*24*time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	old := e.must(http.StatusOK, "GET", "/v1/api-keys/"+withHook.ID, nil).object(t)
	if old["replaced_by_key_id"] == nil || old["grace_expires_at"] == nil {
		t.Fatalf("the hooked key was not rotated: %v", old)
	}
	grace, _ := time.Parse(time.RFC3339Nano, old["grace_expires_at"].(string))
	if d := grace.Sub(e.clock.Now()); d != 120*time.Second {
		t.Errorf("the grace is %v, want the key's 120s", d)
	}
	if v := e.verify(withHook.Key); v.Code != "VALID" {
		t.Errorf("the old key within its grace: %s", v.Code)
	}
	next := e.must(http.StatusOK, "GET", "/v1/api-keys/"+old["replaced_by_key_id"].(string), nil).object(t)
	if next["rotation_grace_seconds"] != float64(120) || next["rotation_webhook_url"] == nil || next["rotation_interval_days"] != float64(1) {
		t.Errorf("the new key did not inherit the schedule: %v", next)
	}
	plain := e.must(http.StatusOK, "GET", "/v1/api-keys/"+noHook.ID, nil).object(t)
	if plain["replaced_by_key_id"] != nil {
		t.Errorf("a key without a webhook was rotated")
	}
	got := strings.Join(eventsOf(e.deliveries(ep)), ",")
	for want, n := range map[string]int{"api_key.rotated": 1, "api_key.rotation_due": 1,
		// the key that expires, and the rotated key's grace end
		"api_key.expiring": 2} {
		if strings.Count(got, want) != n {
			t.Errorf("events %s: want %s %d times", got, want, n)
		}
	}
	msgs, err := e.store.ListOutbox(ctx, keyward.OutboxFilter{AccountID: mustAccount(t, e), Destination: keyward.KeyDestination(old["replaced_by_key_id"].(string)), Limit: 10})
	if err != nil || len(msgs) != 1 || msgs[0].Sealed == nil {
		t.Fatalf("the rotation's own message: %v, %v", msgs, err)
	}
	if strings.Contains(string(msgs[0].Sealed), "kw_") || strings.Contains(string(msgs[0].Payload), `"secret"`) {
		t.Error("the outbox holds the new secret in the clear")
	}
	_ = expiring
}

// usage_exceeded goes once, the first time a key runs out, and again only after new credits.
func TestUsageExceededOnce(t *testing.T) {
	e := newEnv(t)
	ep := e.endpoint("api_key.usage_exceeded")
	k := e.key(map[string]any{"name": "metered", "credits": map[string]any{"remaining": 1}})
	for range 5 {
		e.verify(k.Key)
	}
	waitUntil(t, "the notice", func() bool { return len(e.deliveries(ep)) == 1 })
	for range 5 {
		e.verify(k.Key)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(e.deliveries(ep)); n != 1 {
		t.Fatalf("%d usage_exceeded messages, want 1", n)
	}
	e.must(http.StatusOK, "PATCH", "/v1/api-keys/"+k.ID, map[string]any{"credits": map[string]any{"remaining": 1}})
	for range 3 {
		e.verify(k.Key)
	}
	waitUntil(t, "the second notice", func() bool { return len(e.deliveries(ep)) == 2 })
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// Tier requests are announced when made and when decided.
func TestTierRequestEvents(t *testing.T) {
	e := newEnv(t)
	ep := e.endpoint("tier_request.created", "tier_request.decided")
	role := e.must(http.StatusCreated, "POST", "/v1/roles", map[string]any{"name": "updater", "slug": "updater", "permissions": []string{"api_keys.update", "api_keys.read"}}).object(t)
	updater := e.key(map[string]any{"name": "updater", "role_id": role["id"]})
	target := e.key(map[string]any{"name": "wants high"})
	r := e.doAs(updater.Key, "POST", "/v1/api-keys/"+target.ID+"/tier-requests", map[string]any{"tier": "high"})
	if r.status != http.StatusCreated {
		t.Fatalf("tier request: %d %s", r.status, r.body)
	}
	e.must(http.StatusOK, "POST", "/v1/tier-requests/"+r.object(t)["id"].(string)+"/approve", map[string]any{})
	if got := strings.Join(eventsOf(e.deliveries(ep)), ","); got != "tier_request.created,tier_request.decided" {
		t.Errorf("events %s", got)
	}
}

// Imported keys verify by their old system's secret, whether it came in the clear or as a
// SHA-256; their first use rehashes them under the server secret; strings that are not in
// Keyward's format reach the store only when they hit the imported keys' filter.
func TestImportKeys(t *testing.T) {
	e := newEnv(t)
	plain := "legacy_live_" + strings.Repeat("a1b2", 8)
	hexed := "legacy_live_" + strings.Repeat("c3d4", 8)
	b64 := "legacy_live_" + strings.Repeat("e5f6", 8)
	sumHex := sha256.Sum256([]byte(hexed))
	sumB64 := sha256.Sum256([]byte(b64))
	r := e.must(http.StatusCreated, "POST", "/v1/api-keys/import", map[string]any{"keys": []map[string]any{
		{"key": plain, "name": "plain", "scopes": []string{"read"}, "metadata": map[string]any{"old_id": "k_1"}},
		{"sha256": hex.EncodeToString(sumHex[:]), "name": "hex", "prefix": "legacy_live_c3d4"},
		{"sha256": base64.StdEncoding.EncodeToString(sumB64[:]), "name": "base64"},
	}}).object(t)
	ids := r["key_ids"].([]any)
	if r["imported"] != float64(3) || len(ids) != 3 {
		t.Fatalf("import: %v", r)
	}
	for _, secret := range []string{plain, hexed, b64} {
		if v := e.verify(secret); v.Code != "VALID" {
			t.Errorf("imported %s verifies %s", secret[:16], v.Code)
		}
	}
	waitUntil(t, "the rehash", func() bool {
		k, err := e.store.Key(context.Background(), mustAccount(t, e), ids[1].(string))
		return err == nil && k.HashScheme != keyward.ImportHashScheme
	})
	k, _ := e.store.Key(context.Background(), mustAccount(t, e), ids[1].(string))
	if !strings.HasSuffix(k.HashScheme, keyward.ImportedSchemeSuffix) || string(k.Hash) == string(sumHex[:]) {
		t.Errorf("after its first use the key's scheme is %q", k.HashScheme)
	}
	e.verifier.IdentityChanged(context.Background(), "") // drop the cache: find it by the new hash
	if v := e.verify(hexed); v.Code != "VALID" {
		t.Errorf("after the rehash the key verifies %s", v.Code)
	}
	got := e.must(http.StatusOK, "GET", "/v1/api-keys/"+ids[0].(string), nil).object(t)
	if got["imported"] != true || got["key_prefix"] != plain[:8] || got["last4"] != plain[len(plain)-4:] {
		t.Errorf("the imported key reads %v", got)
	}

	before := e.verifier.Stats().ImportedLookups
	for i := range 2000 {
		if v := e.verify(fmt.Sprintf("legacy_live_%032x", i)); v.Code != "MALFORMED" {
			t.Fatalf("a made-up string verifies %s", v.Code)
		}
	}
	if n := e.verifier.Stats().ImportedLookups - before; n > 0 {
		t.Errorf("2000 made-up strings reached the store %d times", n)
	}

	for name, body := range map[string]map[string]any{
		"no secret":   {"keys": []map[string]any{{"name": "x"}}},
		"both":        {"keys": []map[string]any{{"name": "x", "key": plain + "zz", "sha256": hex.EncodeToString(sumHex[:])}}},
		"short":       {"keys": []map[string]any{{"name": "x", "key": "short"}}},
		"bad sha256":  {"keys": []map[string]any{{"name": "x", "sha256": "abc"}}},
		"none":        {"keys": []map[string]any{}},
		"second half": {"keys": []map[string]any{{"name": "ok", "key": "another_legacy_key_0001"}, {"name": "x", "sha256": "zz"}}},
	} {
		if r := e.do("POST", "/v1/api-keys/import", body); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if v := e.verify("another_legacy_key_0001"); v.Code == "VALID" {
		t.Error("a refused import left a key behind")
	}
	if r := e.do("POST", "/v1/api-keys/import", map[string]any{"keys": []map[string]any{{"name": "dup", "key": plain}}}); r.status != http.StatusConflict {
		t.Errorf("importing a secret twice: %d %s", r.status, r.body)
	}
}

// A leak report answers the same for any string, revokes a live key (or only records it under
// a notify policy), and is announced.
func TestReportLeak(t *testing.T) {
	e := newEnv(t)
	ep := e.endpoint("api_key.leaked")
	k := e.key(map[string]any{"name": "leaky"})
	for _, s := range []string{k.Key, "kw_not-a-key", strings.Repeat("x", 30)} {
		r := e.doAs("", "POST", "/v1/api-keys/report-leak", map[string]any{"key": s, "url": "https://pastebin.example/abc"})
		if r.status != http.StatusAccepted || !strings.Contains(string(r.body), `"received"`) {
			t.Fatalf("report: %d %s", r.status, r.body)
		}
	}
	if v := e.verify(k.Key); v.Code != "REVOKED" {
		t.Errorf("a reported key verifies %s", v.Code)
	}
	got := e.must(http.StatusOK, "GET", "/v1/api-keys/"+k.ID, nil).object(t)
	if got["leak_source"] != "report" || got["leak_url"] != "https://pastebin.example/abc" {
		t.Errorf("leak record %v", got)
	}
	if n := len(e.deliveries(ep)); n != 1 {
		t.Errorf("%d leaked events, want 1", n)
	}

	proj := e.project("notify-only")
	e.must(http.StatusOK, "PATCH", "/v1/projects/"+proj, map[string]any{"leak_policy": "notify"})
	kept := e.key(map[string]any{"name": "kept", "project_id": proj})
	e.doAs("", "POST", "/v1/api-keys/report-leak", map[string]any{"key": kept.Key})
	if v := e.verify(kept.Key); v.Code != "VALID" {
		t.Errorf("under a notify policy the key verifies %s", v.Code)
	}
	if got := e.must(http.StatusOK, "GET", "/v1/api-keys/"+kept.ID, nil).object(t); got["leaked_at"] == nil {
		t.Error("the leak is not recorded under a notify policy")
	}
	if r := e.do("PATCH", "/v1/projects/"+proj, map[string]any{"leak_policy": "ignore"}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("leak_policy ignore: %d", r.status)
	}
	acct := e.must(http.StatusOK, "PATCH", "/v1/accounts/"+mustAccount(t, e), map[string]any{"leak_policy": "notify"}).object(t)
	if acct["leak_policy"] != "notify" {
		t.Errorf("account leak policy: %v", acct)
	}
}

// A deployment down for days rotates a due key once when it comes back, and schedules the
// next rotation one interval from then, not from when the missed ones were due.
func TestMissedRotationsCatchUpOnce(t *testing.T) {
	e := newEnv(t)
	ep := e.endpoint("api_key.rotated")
	k := e.key(map[string]any{"name": "weekly", "rotation_interval_days": 1, "rotation_webhook_url": "https://hooks.example.com/r"})
	e.clock.Advance(5 * 24 * time.Hour)
	ctx := context.Background()
	for range 3 {
		if _, _, err := e.svc.RotateDueKeys(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.deliveries(ep)); n != 1 {
		t.Fatalf("%d rotations after five missed days, want 1", n)
	}
	old := e.must(http.StatusOK, "GET", "/v1/api-keys/"+k.ID, nil).object(t)
	next := e.must(http.StatusOK, "GET", "/v1/api-keys/"+old["replaced_by_key_id"].(string), nil).object(t)
	at, _ := time.Parse(time.RFC3339Nano, next["next_rotation_at"].(string))
	if want := e.clock.Now().Add(24 * time.Hour); !at.Equal(want) {
		t.Errorf("the next rotation is at %v, want a day from now (%v)", at, want)
	}
}

// rotate-secret's overlap defaults to a day whether the body is absent or says nothing.
func TestWebhookSecretRotationDefaultOverlap(t *testing.T) {
	e := newEnv(t)
	for _, body := range []any{nil, map[string]any{}} {
		id := e.endpoint()
		r := e.must(http.StatusOK, "POST", "/v1/webhook-endpoints/"+id+"/rotate-secret", body).object(t)
		until, err := time.Parse(time.RFC3339Nano, fmt.Sprint(r["previous_secret_expires_at"]))
		if err != nil || !until.Equal(e.clock.Now().Add(24*time.Hour)) {
			t.Errorf("body %v: the old secret signs until %v (%v), want a day from now", body, r["previous_secret_expires_at"], err)
		}
	}
}
