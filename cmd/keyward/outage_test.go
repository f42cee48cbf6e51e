package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyformat"
)

// envOutageSeconds sets how long TestPostgresOutage keeps the database cut off: a few seconds
// by default (CI), 45 or more to reproduce a real outage.
const envOutageSeconds = "KEYWARD_TEST_OUTAGE_SECONDS"

// sever cuts the proxy as a network fault would: every connection through it is closed and
// new ones are refused until heal.
func (p *pgProxy) sever() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *pgProxy) heal() { p.refuse(false) }

// TestPostgresOutage cuts a node off from PostgreSQL (an in-test TCP proxy between them) and,
// while it is cut, sweeps every route of the served OpenAPI document with an admin key (which
// the store must check) and with an API key of the admin role verified before the cut (which
// the cache vouches for, so that the handlers themselves meet the outage). No answer may be a
// 500: every 5xx is a 503 service_unavailable with Retry-After. A key verified before the cut
// keeps verifying past the cache TTL, within the stale bound; an unknown key gets 503, never
// NOT_FOUND. Once the proxy lets connections through again the node recovers by itself, and
// the attempts refused meanwhile appear in the audit log.
func TestPostgresOutage(t *testing.T) {
	cut := 4 * time.Second
	if s := os.Getenv(envOutageSeconds); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a number of seconds", envOutageSeconds, s)
		}
		cut = time.Duration(n) * time.Second
	}
	const ttl = 2 * time.Second // shorter than the cut: the pre-verified key must be served stale
	database := testPostgresDatabase(t)
	proxy := startProxy(t, database.Host)
	viaProxy := *database
	viaProxy.Host = proxy.addr()
	secret := make([]byte, 32)
	rand.Read(secret)
	n := startProcess(t, []string{"--data", t.TempDir() + "/data", "--cache-ttl", ttl.String(), "--cache-stale-bound", "5m", "--rate-limits", "off"},
		[]string{"KEYWARD_DATABASE_URL=" + viaProxy.String(), "KEYWARD_SERVER_SECRET=1:" + base64.StdEncoding.EncodeToString(secret)})
	t.Cleanup(func() {
		if n.cmd.ProcessState == nil {
			n.stop(os.Interrupt)
		}
		if t.Failed() {
			t.Logf("node log:\n%s", n.stderr.String())
		}
	})
	admin := adminKeyPattern.FindString(n.stderr.String())
	if admin == "" {
		t.Fatalf("no admin key printed:\n%s", n.stderr.String())
	}
	project := n.mustCall(http.StatusCreated, admin, "POST", "/v1/projects", map[string]any{"name": "outage"})["id"].(string)
	created := n.mustCall(http.StatusCreated, admin, "POST", "/v1/api-keys", map[string]any{"project_id": project, "name": "ops", "role_id": "admin"})
	keyID, apiKey := created["id"].(string), created["key"].(string)
	if code := n.verifyCode(apiKey); code != "VALID" {
		t.Fatalf("before the cut: %s", code)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	status, body := n.call("", "GET", "/openapi.json", nil)
	if status != http.StatusOK || json.Unmarshal(body, &doc) != nil || len(doc.Paths) == 0 {
		t.Fatalf("GET /openapi.json = %d", status)
	}
	routes := sweepRoutes(doc.Paths, map[string]string{"project": project, "key": keyID})

	// The cut.
	client := &http.Client{Timeout: 30 * time.Second}
	counts := map[int]int{}
	var problems []string
	record := func(what string, res *http.Response, b []byte) {
		counts[res.StatusCode]++
		if res.StatusCode < 500 {
			return
		}
		// problem+json, or the seed routes' envelope {"success":false,"error":{"code":…}}.
		var p struct {
			Code  string
			Error struct{ Code string }
		}
		json.Unmarshal(b, &p)
		code := cmp.Or(p.Code, p.Error.Code)
		if res.StatusCode != http.StatusServiceUnavailable || code != "service_unavailable" || res.Header.Get("Retry-After") == "" {
			problems = append(problems, fmt.Sprintf("%s = %d %s (Retry-After %q)", what, res.StatusCode, b, res.Header.Get("Retry-After")))
		}
	}
	proxy.sever()
	cutAt := time.Now()
	sweeps, requests := 0, 0
	for sweeps == 0 || time.Since(cutAt) < cut {
		for _, r := range routes {
			for _, token := range []string{admin, apiKey} {
				res, b, err := send(client, n.url, token, r.method, r.path, r.body)
				if err != nil {
					t.Fatalf("%s %s during the cut: no answer: %v", r.method, r.path, err)
				}
				requests++
				record(r.method+" "+r.path, res, b)
			}
		}
		sweeps++
	}
	// Past the TTL now: the key verified before the cut is judged from its stale entry.
	res, b, err := send(client, n.url, "", "POST", "/v1/keys/verify", map[string]any{"key": apiKey})
	if err != nil || res.StatusCode != http.StatusOK || !strings.Contains(string(b), `"code":"VALID"`) {
		t.Errorf("the key verified before the cut, %s into it: %v %v %s; want 200 VALID", time.Since(cutAt).Round(time.Second), err, statusOf(res), b)
	}
	unknown := freshKeyLike(t, apiKey)
	res, b, err = send(client, n.url, "", "POST", "/v1/keys/verify", map[string]any{"key": unknown})
	if err != nil || res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("an unknown key during the cut: %v %v %s; want 503 with Retry-After, never NOT_FOUND", err, statusOf(res), b)
	}
	if res != nil {
		record("POST /v1/keys/verify (unknown key)", res, b)
	}
	if status := readyz(n); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz during the cut = %d, want 503", status)
	}

	// The database comes back.
	proxy.heal()
	healedAt := time.Now()
	deadline := healedAt.Add(60 * time.Second)
	for {
		res, _, err := send(client, n.url, admin, "GET", "/v1/projects", nil)
		if err == nil && res.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node did not recover within 60 s of the database's return: %v %v", err, statusOf(res))
		}
		time.Sleep(50 * time.Millisecond)
	}
	recovery := time.Since(healedAt)
	// Ready again once the invalidation listener has reconnected too (its back-off grows to
	// 10 s during a long cut).
	waitForBound(t, "/readyz to answer 200 again", 60*time.Second, func() bool { return readyz(n) == http.StatusOK })
	ready := time.Since(healedAt)
	if code := n.verifyCode(unknown); code != "NOT_FOUND" {
		t.Errorf("the unknown key after the cut: %s, want NOT_FOUND", code)
	}
	// The attempts the outage refused are in the audit log once the backlog is written.
	var refused int
	waitForBound(t, "the audit backlog to be written", 30*time.Second, func() bool {
		status, b := n.call(admin, "GET", "/v1/audit-events?outcome=failure&limit=100", nil)
		var events []struct {
			ErrorCode string `json:"error_code"`
		}
		if status != http.StatusOK || json.Unmarshal(b, &events) != nil {
			return false
		}
		refused = 0
		for _, e := range events {
			if e.ErrorCode == "service_unavailable" {
				refused++
			}
		}
		return refused > 0
	})
	_, metrics := n.call("", "GET", "/metrics", nil)
	stale := regexp.MustCompile(`keyward_verify_cache_lookups_total\{result="stale"\} (\d+)`).FindStringSubmatch(string(metrics))
	if stale == nil || stale[1] == "0" {
		t.Errorf("no stale verifications counted in /metrics: %v", stale)
	}
	for _, p := range problems {
		t.Error(p)
	}
	keys := make([]int, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var summary []string
	for _, k := range keys {
		summary = append(summary, fmt.Sprintf("%d×%d", counts[k], k))
	}
	if counts[http.StatusInternalServerError] != 0 {
		t.Errorf("%d answers were 500 during the cut", counts[http.StatusInternalServerError])
	}
	t.Logf("cut %s: %d routes, %d sweeps, %d requests: %s; management answered %s and /readyz %s after the database returned; refused attempts audited: %d on the first page; stale verdicts %s",
		cut, len(routes), sweeps, requests+2, strings.Join(summary, " "), recovery.Round(time.Millisecond), ready.Round(time.Millisecond), refused, stale[1])
}

// freshKeyLike returns a well-formed key, checksum and all, with key's prefix, that no one
// was ever given: it passes the format checks, so only the store can say it is unknown.
func freshKeyLike(t *testing.T, key string) string {
	t.Helper()
	parsed, err := keyformat.Parse(key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := keyformat.Generate(parsed.Prefix)
	if err != nil {
		t.Fatal(err)
	}
	return k.Raw
}

// sweepRoute is one request of the sweep.
type sweepRoute struct {
	method, path string
	body         any
}

// sweepRoutes turns the document's paths into requests: every operation, its path
// parameters filled with the ids of real objects where their names say which (else a
// well-formed id of nothing), and a body for those that take one, so that the request gets
// past decoding to the store.
func sweepRoutes(paths map[string]map[string]json.RawMessage, ids map[string]string) []sweepRoute {
	param := regexp.MustCompile(`\{[^}]+\}`)
	nothing := "01900000-0000-7000-8000-000000000000"
	var out []sweepRoute
	names := make([]string, 0, len(paths))
	for p := range paths {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		if p == "/v1/events" {
			continue // a stream that stays open: its own tests cover it
		}
		path := param.ReplaceAllStringFunc(p, func(string) string { return nothing })
		switch {
		case strings.HasPrefix(p, "/v1/projects/{"):
			path = strings.Replace(path, nothing, ids["project"], 1)
		case strings.HasPrefix(p, "/v1/api-keys/{"):
			path = strings.Replace(path, nothing, ids["key"], 1)
		}
		for _, method := range []string{"get", "post", "put", "patch", "delete"} {
			if _, ok := paths[p][method]; !ok {
				continue
			}
			var body any
			if slices.Contains([]string{"post", "put", "patch"}, method) {
				body = map[string]any{"project_id": ids["project"], "name": "during-the-cut", "key_prefix": "sk_cut"}
			}
			out = append(out, sweepRoute{method: strings.ToUpper(method), path: path, body: body})
		}
	}
	return out
}

func send(client *http.Client, base, token, method, path string, body any) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(context.Background(), method, base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, err
}

func statusOf(res *http.Response) string {
	if res == nil {
		return "no answer"
	}
	return res.Status
}

// readyz is the status of p's /readyz.
func readyz(p *process) int {
	status, _ := p.call("", "GET", "/readyz", nil)
	return status
}

// waitForBound polls cond until it holds, failing the test if it does not within bound.
func waitForBound(t *testing.T, what string, bound time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", bound, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
