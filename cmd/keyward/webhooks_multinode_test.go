package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/secretscan"
	"github.com/keyward/keyward/internal/secretscan/secretscantest"
	"github.com/keyward/keyward/internal/verify"
)

// startFlaggedCluster runs three nodes on a database of the test's own, every one with
// flags (and rate limits off, as startCluster's), and returns them with the admin key.
func startFlaggedCluster(t *testing.T, flags ...string) *cluster {
	t.Helper()
	database := testPostgresDatabase(t)
	secret := make([]byte, 32)
	rand.Read(secret)
	shared := "1:" + base64.StdEncoding.EncodeToString(secret)
	cl := &cluster{database: database, client: &http.Client{Timeout: 10 * time.Second}}
	all := append([]string{"--rate-limits", "off"}, flags...)
	start := func(name string) *node { return startNode(t, name, database, shared, all...) }
	cl.a = start("a")
	cl.token = adminKeyPattern.FindString(cl.a.stderr.String())
	if cl.token == "" {
		t.Fatalf("node a printed no admin key:\n%s", cl.a.stderr.String())
	}
	cl.b, cl.c = start("b"), start("c")
	return cl
}

// TestScheduledRotationAcrossNodes: a key with a one-day schedule and a rotation webhook,
// the clock moved a day on with three nodes running the scheduler every second, is rotated
// exactly once; its webhook gets the new secret in a payload the official library verifies
// with the key's rotation_webhook_secret; the new secret verifies everywhere, the old one
// until its grace ends; the outbox no longer holds the secret. A key without a webhook is
// not rotated: the account's endpoint hears api_key.rotation_due, once.
func TestScheduledRotationAcrossNodes(t *testing.T) {
	keyHook := newReceiver(t, http.StatusNoContent)
	endpoint := newReceiver(t, http.StatusNoContent)
	clock := newTestClock(t)
	// One CA file trusting both receivers' certificates: httptest servers share one.
	cl := startClockCluster(t, clock, "--webhook-allow-private", "--webhook-ca-file", keyHook.caFile, "--schedule-every", "1s")

	ep := cl.mustCall(t, cl.a, http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{
		"url": endpoint.url("/events"), "events": []string{"api_key.rotated", "api_key.rotation_due"},
	})
	created := cl.mustCall(t, cl.a, http.StatusCreated, "POST", "/v1/api-keys", map[string]any{
		"name": "scheduled", "rotation_interval_days": 1, "rotation_webhook_url": keyHook.url("/rotated"),
		"rotation_grace_seconds": 3600,
	})
	hookSecret, _ := created["rotation_webhook_secret"].(string)
	if !strings.HasPrefix(hookSecret, "whsec_") {
		t.Fatalf("creating a key with a rotation webhook returned rotation_webhook_secret %q", hookSecret)
	}
	oldSecret := created["key"].(string)
	noHook := cl.mustCall(t, cl.b, http.StatusCreated, "POST", "/v1/api-keys", map[string]any{"name": "due only", "rotation_interval_days": 1})

	clock.set(t, 24*time.Hour+time.Minute)
	got := keyHook.waitFor(1)
	time.Sleep(3 * time.Second) // three more scheduler rounds on each node
	if n := len(keyHook.requests()); n != 1 {
		t.Fatalf("the rotation webhook was called %d times, want once", n)
	}
	rec := got[0]
	verifyOfficial(t, hookSecret, rec)
	if rec.Event.Type != "api_key.rotated" {
		t.Fatalf("the rotation webhook got %q", rec.Event.Type)
	}
	newSecret, _ := rec.Event.Data["secret"].(string)
	newKey, _ := rec.Event.Data["api_key"].(map[string]any)
	if newSecret == "" || newKey == nil || newKey["id"] == created["id"] {
		t.Fatalf("the rotation payload lacks the new key or its secret: %s", rec.Body)
	}
	for _, n := range []*node{cl.a, cl.b, cl.c} {
		if code := cl.verifyCode(t, n, newSecret); code != "VALID" {
			t.Errorf("node %s: the new secret verifies %s", n.name, code)
		}
		if code := cl.verifyCode(t, n, oldSecret); code != "VALID" {
			t.Errorf("node %s: the old secret verifies %s within its grace", n.name, code)
		}
	}
	old := cl.mustCall(t, cl.c, http.StatusOK, "GET", "/v1/api-keys/"+created["id"].(string), nil)
	if old["replaced_by_key_id"] != newKey["id"] || old["grace_expires_at"] == nil {
		t.Errorf("the old key after the rotation: %v", old)
	}
	var sealed int
	db := postgresSession(t, cl.database)
	waitFor(t, "the outbox to erase the delivered secret", func() bool {
		if err := db.QueryRow(t.Context(), "SELECT count(*) FROM outbox_messages WHERE sealed IS NOT NULL").Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		return sealed == 0
	})
	var audited int
	if err := db.QueryRow(t.Context(), "SELECT count(*) FROM audit_events WHERE action = 'rotate-api-key' AND actor_id = 'scheduler' AND outcome = 'success'").Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if audited != 1 {
		t.Errorf("%d audited scheduled rotations, want 1", audited)
	}

	// The key without a webhook: a notice, once, and no rotation.
	events := endpoint.waitFor(2)
	time.Sleep(2 * time.Second)
	var due, rotated int
	for _, e := range endpoint.requests() {
		switch e.Event.Type {
		case "api_key.rotation_due":
			due++
			if e.Event.Data["api_key"].(map[string]any)["id"] != noHook["id"] {
				t.Errorf("rotation_due names %v", e.Event.Data["api_key"])
			}
		case "api_key.rotated":
			rotated++
		}
		verifyOfficial(t, ep["secret"].(string), e)
	}
	if due != 1 || rotated != 1 {
		t.Errorf("the endpoint got %d rotation_due and %d rotated (of %d), want 1 and 1", due, rotated, len(events))
	}
	if k := cl.mustCall(t, cl.a, http.StatusOK, "GET", "/v1/api-keys/"+noHook["id"].(string), nil); k["replaced_by_key_id"] != nil {
		t.Errorf("a key without a webhook was rotated: %v", k)
	}

	// The grace ends an hour after the rotation; the new key is not due for a day.
	clock.set(t, 25*time.Hour+2*time.Minute)
	for _, n := range []*node{cl.a, cl.b, cl.c} {
		waitFor(t, "the old key to stop at its grace end on node "+n.name, func() bool { return cl.verifyCode(t, n, oldSecret) != "VALID" })
		if code := cl.verifyCode(t, n, newSecret); code != "VALID" {
			t.Errorf("node %s: the new secret verifies %s after the old one's grace", n.name, code)
		}
	}
	if n := len(keyHook.requests()); n != 1 {
		t.Errorf("the rotation webhook was called %d times, want once", n)
	}
}

// startClockCluster is startFlaggedCluster with the nodes reading their clock from clock.
func startClockCluster(t *testing.T, clock testClockFile, flags ...string) *cluster {
	t.Helper()
	t.Setenv("KEYWARD_TEST_CLOCK_FILE", string(clock))
	return startFlaggedCluster(t, flags...)
}

// TestGitHubLeakReportRevokesEverywhere: an alert signed with a key from the configured key
// URL revokes the leaked key on every node within a second and tells the account's endpoint;
// a bad signature is 401; a string that is no key of ours is a false positive, answered by
// hash, and changes nothing.
func TestGitHubLeakReportRevokesEverywhere(t *testing.T) {
	keys := secretscantest.NewServer(t)
	endpoint := newReceiver(t, http.StatusNoContent)
	cl := startFlaggedCluster(t, "--webhook-allow-private", "--webhook-ca-file", endpoint.caFile,
		"--secret-scanning-keys-url", keys.URL)
	ep := cl.mustCall(t, cl.a, http.StatusCreated, "POST", "/v1/webhook-endpoints", map[string]any{"url": endpoint.url("/leaks"), "events": []string{"api_key.leaked"}})
	id, secret := cl.createKey(t, cl.a)
	bystanderID, bystander := cl.createKey(t, cl.a)
	for _, n := range []*node{cl.a, cl.b, cl.c} {
		cl.verifyCode(t, n, secret) // cached everywhere
	}
	notOurs := "kw_" + strings.Repeat("A", 40)
	body := secretscantest.ReportsBody(
		secretscan.Report{Token: secret, Type: "keyward_api_key", URL: "https://github.com/acme/app/blob/main/config.yml", Source: "content"},
		secretscan.Report{Token: notOurs, Type: "keyward_api_key", URL: "https://github.com/acme/app/blob/main/x", Source: "content"},
	)

	post := func(n *node, h http.Header, body []byte) (int, []byte) {
		req, _ := http.NewRequestWithContext(t.Context(), "POST", n.url+"/v1/secret-scanning/github", strings.NewReader(string(body)))
		for k, v := range h {
			req.Header[k] = v
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := cl.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b := make([]byte, 64<<10)
		m, _ := res.Body.Read(b)
		return res.StatusCode, b[:m]
	}

	bad := keys.Header(body)
	bad.Set(secretscan.HeaderSignature, keys.Header([]byte("other"))[secretscan.HeaderSignature][0])
	if status, out := post(cl.b, bad, body); status != http.StatusUnauthorized {
		t.Fatalf("a badly signed alert: %d %s, want 401", status, out)
	}
	if code := cl.verifyCode(t, cl.a, secret); code != "VALID" {
		t.Fatalf("a badly signed alert changed the key: %s", code)
	}

	start := time.Now()
	status, out := post(cl.b, keys.Header(body), body)
	if status != http.StatusOK {
		t.Fatalf("alert: %d %s", status, out)
	}
	s := string(out)
	if !strings.Contains(s, `"token_raw":"`+secret+`"`) || !strings.Contains(s, `"label":"true_positive"`) {
		t.Errorf("feedback %s lacks the true positive", s)
	}
	if strings.Contains(s, notOurs) || !strings.Contains(s, secretscan.HashToken(notOurs)) || !strings.Contains(s, `"label":"false_positive"`) {
		t.Errorf("feedback %s must answer the string that is not ours by hash only", s)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	for _, n := range []*node{cl.a, cl.b, cl.c} {
		code, took, err := cl.pollUntilNotValid(ctx, n, secret, start, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("node %s: %s after %v", n.name, code, took)
		if code != "REVOKED" || took > time.Second {
			t.Errorf("node %s: the leaked key verifies %s after %v, want REVOKED within 1s", n.name, code, took)
		}
	}
	if code := cl.verifyCode(t, cl.c, bystander); code != "VALID" {
		t.Errorf("another key verifies %s after the alert", code)
	}
	k := cl.mustCall(t, cl.c, http.StatusOK, "GET", "/v1/api-keys/"+id, nil)
	if k["leaked_at"] == nil || k["leak_source"] != "github" || !strings.Contains(k["leak_url"].(string), "config.yml") {
		t.Errorf("the key's leak record: %v", k)
	}
	if k := cl.mustCall(t, cl.c, http.StatusOK, "GET", "/v1/api-keys/"+bystanderID, nil); k["leaked_at"] != nil {
		t.Errorf("the bystander is recorded leaked")
	}
	got := endpoint.waitFor(1)
	verifyOfficial(t, ep["secret"].(string), got[0])
	if got[0].Event.Type != "api_key.leaked" || got[0].Event.Data["api_key"].(map[string]any)["id"] != id {
		t.Errorf("the endpoint got %s %v", got[0].Event.Type, got[0].Event.Data)
	}
}

// TestImportAcrossNodes: keys imported through one node verify at once on it, and on the
// others as soon as they hear the import's notice (at worst at their next reload, every
// verify.ImportReloadEvery).
func TestImportAcrossNodes(t *testing.T) {
	cl := startFlaggedCluster(t)
	secret := "legacy_" + randomHex(16)
	out := cl.mustCall(t, cl.a, http.StatusCreated, "POST", "/v1/api-keys/import", map[string]any{"keys": []map[string]any{{"name": "legacy", "key": secret}}})
	if out["imported"] != float64(1) {
		t.Fatalf("import: %v", out)
	}
	if code := cl.verifyCode(t, cl.a, secret); code != "VALID" {
		t.Errorf("node a, which imported it: %s", code)
	}
	start := time.Now()
	for _, n := range []*node{cl.b, cl.c} {
		deadline := time.Now().Add(2 * verify.ImportReloadEvery)
		for cl.verifyCode(t, n, secret) != "VALID" {
			if time.Now().After(deadline) {
				t.Fatalf("node %s does not verify the imported key after %v", n.name, 2*verify.ImportReloadEvery)
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("node %s verifies the imported key %v after the import", n.name, time.Since(start).Round(time.Millisecond))
	}
}
