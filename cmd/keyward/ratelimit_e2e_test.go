package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// envRedis names the Redis the tests may use, as --redis takes it.
const envRedis = "KEYWARD_TEST_REDIS"

// testRedis returns KEYWARD_TEST_REDIS, or skips the test when it is unset. Keys of the tests
// are per key lineage, whose ids are random: runs sharing one Redis never meet.
func testRedis(t *testing.T) string {
	t.Helper()
	u := os.Getenv(envRedis)
	if u == "" {
		t.Skipf("%s is not set", envRedis)
	}
	return u
}

// sharedSecret is a fresh --server-secret value, as nodes sharing a database need.
func sharedSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "1:" + base64.StdEncoding.EncodeToString(b)
}

// limitClient sends verifications from many goroutines; unlike process.call it does not
// touch the testing.T, so it may run off the test's goroutine.
var limitClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}, Timeout: 10 * time.Second}

// verifyAnswer is the part of a verification answer these tests read.
type verifyAnswer struct {
	Code      string `json:"code"`
	Remaining *int64 `json:"remaining"`
}

func verifyOnce(baseURL, key string, cost *int64) (verifyAnswer, error) {
	body := map[string]any{"key": key}
	if cost != nil {
		body["cost"] = *cost
	}
	b, _ := json.Marshal(body)
	res, err := limitClient.Post(baseURL+"/v1/keys/verify", "application/json", bytes.NewReader(b))
	if err != nil {
		return verifyAnswer{}, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var a verifyAnswer
	if res.StatusCode != http.StatusOK {
		return a, fmt.Errorf("verify: %d %s", res.StatusCode, raw)
	}
	return a, json.Unmarshal(raw, &a)
}

// verifyConcurrently sends n verifications of key at once, spread over urls, and counts the
// answers by code.
func verifyConcurrently(t *testing.T, urls []string, key string, n int) map[string]int {
	t.Helper()
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, err := verifyOnce(urls[i%len(urls)], key, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes["error: "+err.Error()]++
				return
			}
			codes[a.Code]++
		})
	}
	wg.Wait()
	return codes
}

// adminToken is the admin key a first start printed.
func adminToken(t *testing.T, p *process) string {
	t.Helper()
	token := adminKeyPattern.FindString(p.stderr.String())
	if token == "" {
		t.Fatalf("no admin key printed:\n%s", p.stderr.String())
	}
	return token
}

// TestCreditsExactOnEveryBackend: 100 verifications at once of a key with 50 credits give
// exactly 50 VALID and 50 USAGE_EXCEEDED with the credits in SQLite, in PostgreSQL (over three
// nodes), and in Redis (over three nodes).
func TestCreditsExactOnEveryBackend(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres", "redis"} {
		t.Run(backend, func(t *testing.T) {
			var nodes []*process
			switch backend {
			case "sqlite":
				nodes = []*process{startServer(t, filepath.Join(t.TempDir(), "data"))}
			default:
				database := testPostgresDatabase(t)
				secret := sharedSecret()
				var flags []string
				if backend == "redis" {
					flags = []string{"--redis", testRedis(t)}
				}
				for _, name := range []string{"a", "b", "c"} {
					nodes = append(nodes, startNode(t, name, database, secret, flags...).process)
				}
			}
			token := adminToken(t, nodes[0])
			key := nodes[0].mustCall(http.StatusCreated, token, "POST", "/v1/api-keys", map[string]any{
				"name": "metered", "credits": map[string]any{"remaining": 50},
				// A limit that never binds: this test is about credits.
				"rate_limit": map[string]any{"rate": 100000},
			})
			secret := key["key"].(string)
			if backend == "redis" {
				forgetLineage(t, key["id"].(string))
			}
			urls := make([]string, len(nodes))
			for i, n := range nodes {
				urls[i] = n.url
			}
			codes := verifyConcurrently(t, urls, secret, 100)
			if codes["VALID"] != 50 || codes["USAGE_EXCEEDED"] != 50 || len(codes) != 2 {
				t.Fatalf("100 verifications of 50 credits on %s = %v, want 50 VALID and 50 USAGE_EXCEEDED", backend, codes)
			}
			zero := int64(0)
			if a, err := verifyOnce(urls[0], secret, &zero); err != nil || a.Remaining == nil || *a.Remaining != 0 {
				t.Errorf("credits left = %+v, %v; want 0", a, err)
			}
			// Reads of the key show it too: with Redis, once the nodes have written back
			// what Redis showed them (their flush, about every second).
			waitFor(t, "the key to show 0 credits left", func() bool {
				got := nodes[len(nodes)-1].mustCall(http.StatusOK, token, "GET", "/v1/api-keys/"+key["id"].(string), nil)
				c, _ := got["credits"].(map[string]any)
				return c != nil && c["remaining"] == float64(0)
			})
		})
	}
}

// forgetLineage deletes, when the test ends, what the nodes kept in KEYWARD_TEST_REDIS for
// the key lineage: the credits copy does not expire by itself.
func forgetLineage(t *testing.T, lineage string) {
	t.Helper()
	opts, err := redis.ParseURL(testRedis(t))
	if err != nil {
		t.Fatalf("%s: %v", envRedis, err)
	}
	t.Cleanup(func() {
		c := redis.NewClient(opts)
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Del(ctx, "keyward:rl:{"+lineage+"}", "keyward:cr:{"+lineage+"}").Err(); err != nil {
			t.Errorf("deleting the test's Redis keys: %v", err)
		}
	})
}

// redisServer is a redis-server of the test's own, on a free loopback port, that the test may
// kill and start again.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &redisServer{t: t, port: port}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) url() string { return "redis://127.0.0.1:" + strconv.Itoa(r.port) + "/0" }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.t.TempDir())
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	waitFor(r.t, "redis-server to listen", func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(r.port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (r *redisServer) kill() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// TestRedisOutageFailModes kills Redis under a running node: a fail_open tier's key goes on
// verifying (uncounted), a fail_closed tier's key is answered RATE_LIMITED and its routes 429;
// when Redis is back both are limited by Redis again, without a restart of the node.
func TestRedisOutageFailModes(t *testing.T) {
	rs := startRedisServer(t)
	p := startProcess(t, []string{"--data", filepath.Join(t.TempDir(), "data"), "--redis", rs.url()}, nil)
	token := adminToken(t, p)
	for _, tier := range []map[string]any{
		{"name": "open", "fail_mode": "fail_open", "rate_limit": map[string]any{"rate": 1, "period_seconds": 3600, "burst": 3}},
		{"name": "closed", "fail_mode": "fail_closed", "rate_limit": map[string]any{"rate": 1000}},
	} {
		p.mustCall(http.StatusCreated, token, "POST", "/v1/rate-limit-tiers", tier)
	}
	open := p.mustCall(http.StatusCreated, token, "POST", "/v1/api-keys", map[string]any{"name": "open", "rate_limit_tier": "open", "role_id": "viewer"})["key"].(string)
	closed := p.mustCall(http.StatusCreated, token, "POST", "/v1/api-keys", map[string]any{"name": "closed", "rate_limit_tier": "closed", "role_id": "viewer"})["key"].(string)

	// With Redis up, the open key gets its burst of 3 and no more.
	codes := map[string]int{}
	for range 5 {
		codes[p.verifyCode(open)]++
	}
	if codes["VALID"] != 3 || codes["RATE_LIMITED"] != 2 {
		t.Fatalf("open key with Redis up = %v, want 3 VALID then RATE_LIMITED", codes)
	}
	if got := p.verifyCode(closed); got != "VALID" {
		t.Fatalf("closed key with Redis up = %s", got)
	}

	rs.kill()
	// Redis is gone: the open key is let through, unlimited; the closed key is refused.
	for range 5 {
		if got := p.verifyCode(open); got != "VALID" {
			t.Errorf("fail_open key with Redis down = %s, want VALID", got)
		}
		if got := p.verifyCode(closed); got != "RATE_LIMITED" {
			t.Errorf("fail_closed key with Redis down = %s, want RATE_LIMITED", got)
		}
	}
	status, body := p.call(closed, "GET", "/v1/whoami", nil)
	if status != http.StatusTooManyRequests || !strings.Contains(string(body), `"code":"rate_limited"`) {
		t.Errorf("whoami with a fail_closed key and Redis down = %d %s, want 429", status, body)
	}
	_, metrics := p.call("", "GET", "/metrics", nil)
	for _, want := range []string{`keyward_ratelimit_decisions_total{decision="fail_open"}`, `keyward_ratelimit_decisions_total{decision="fail_closed"}`} {
		if !strings.Contains(string(metrics), want) || strings.Contains(string(metrics), want+" 0\n") {
			t.Errorf("/metrics shows no %s", want)
		}
	}

	// Redis is back (empty: it kept nothing): the node uses it again within its breaker's
	// cooldown, and the open key is limited again (a fresh bucket: 3, then refused).
	rs.start()
	waitFor(t, "the fail_closed key to verify again", func() bool { return p.verifyCode(closed) == "VALID" })
	codes = map[string]int{}
	for range 5 {
		codes[p.verifyCode(open)]++
	}
	if codes["VALID"] != 3 || codes["RATE_LIMITED"] != 2 {
		t.Errorf("open key with Redis back = %v, want 3 VALID then RATE_LIMITED", codes)
	}
	if !strings.Contains(p.stderr.String(), "rate-limit state unreachable") {
		t.Error("the node did not log that Redis was unreachable")
	}
}

// TestRateLimitAcrossNodes drives one standard-tier key (30 a second, burst 30) at 60 a second
// for 3 s, round robin over three nodes sharing Redis: GCRA lets through burst + 30 × elapsed.
// The bound is loose (±10 %) because the elapsed time is the test's, not Redis's; bench/load
// -accuracy measures it closely.
func TestRateLimitAcrossNodes(t *testing.T) {
	database := testPostgresDatabase(t)
	redisURL := testRedis(t)
	secret := sharedSecret()
	var urls []string
	var first *process
	for _, name := range []string{"a", "b", "c"} {
		n := startNode(t, name, database, secret, "--redis", redisURL)
		if first == nil {
			first = n.process
		}
		urls = append(urls, n.url)
	}
	token := adminToken(t, first)
	created := first.mustCall(http.StatusCreated, token, "POST", "/v1/api-keys", map[string]any{"name": "standard"})
	forgetLineage(t, created["id"].(string))
	key := created["key"].(string)

	const rps, run = 60, 3 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), run+10*time.Second)
	defer cancel()
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / rps)
	defer tick.Stop()
	start := time.Now()
	for i := 0; time.Since(start) < run && ctx.Err() == nil; i++ {
		wg.Go(func() {
			a, err := verifyOnce(urls[i%len(urls)], key, nil)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				codes["error"]++
				return
			}
			codes[a.Code]++
		})
		<-tick.C
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	want := 30 + 30*elapsed
	got := float64(codes["VALID"])
	t.Logf("%d requests in %.2f s over 3 nodes: %v; GCRA allows %.1f", codes["VALID"]+codes["RATE_LIMITED"], elapsed, codes, want)
	if codes["error"] > 0 || got < 0.9*want || got > 1.1*want {
		t.Errorf("VALID = %.0f, want %.1f ± 10 %%", got, want)
	}
}
