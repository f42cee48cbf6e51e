package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// These tests run several Keyward nodes, each the real binary in a process of its own, on one
// PostgreSQL database, as `keyward serve --database … --server-secret …` on several machines
// would, and check that a change made through one node reaches what the others verify.

// envPostgres names the PostgreSQL server the tests may use; each test makes a database of
// its own there and drops it when it ends.
const envPostgres = "KEYWARD_TEST_POSTGRES"

// Bounds on the tests' waits. No test asserts on time, but none may hang: a change that has
// not reached a node within propagationBound is taken as lost.
const (
	postgresAdminTimeout = 30 * time.Second
	propagationBound     = 10 * time.Second
	// reconnectBound allows for the listener's backoff, which stops growing at 10 s.
	reconnectBound = 20 * time.Second
)

// testPostgresDatabase creates a database of the test's own on the server KEYWARD_TEST_POSTGRES
// names, drops it when the test ends, and returns a URL for it. It skips the test when the
// variable is unset and fails it when the server cannot be reached.
func testPostgresDatabase(t *testing.T) *url.URL {
	t.Helper()
	dsn := os.Getenv(envPostgres)
	if dsn == "" {
		t.Skipf("%s is not set", envPostgres)
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		t.Fatalf("%s must be a postgres:// URL with a host, as --database takes", envPostgres)
	}
	ctx, cancel := context.WithTimeout(context.Background(), postgresAdminTimeout)
	defer cancel()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("%s is set, but its server cannot be reached: %v", envPostgres, err)
	}
	defer admin.Close(ctx)
	name := "keyward_nodes_" + randomHex(8)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), postgresAdminTimeout)
		defer cancel()
		admin, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("connecting to drop database %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		// FORCE ends whatever sessions a failed test left open.
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	q := u.Query()
	q.Set("connect_timeout", "10")
	u.RawQuery = q.Encode()
	return u
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// postgresSession opens a session of the test's own on u's database, closed when the test
// ends: for watching and ending the nodes' sessions.
func postgresSession(t *testing.T, u *url.URL) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), postgresAdminTimeout)
	defer cancel()
	c, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), postgresAdminTimeout)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

// node is one Keyward server of several sharing a database.
type node struct {
	*process
	name string
}

// nodeCacheTTL is every node's cache TTL: far longer than any test, so that nothing here may
// become right by aging out of a cache.
const nodeCacheTTL = 10 * time.Minute

// startNode runs a node on 127.0.0.1:0 with database and secret, its sessions named
// keyward-NAME in pg_stat_activity (its listener's keyward-NAME-listener), and stops it
// (SIGTERM) when the test ends. The database URL and secret go in the environment, out of
// the process list.
func startNode(t *testing.T, name string, database *url.URL, secret string, flags ...string) *node {
	t.Helper()
	u := *database
	q := u.Query()
	q.Set("application_name", "keyward-"+name)
	u.RawQuery = q.Encode()

	dataDir := filepath.Join(t.TempDir(), "data")
	n := &node{name: name, process: startProcess(t,
		append([]string{"--data", dataDir, "--cache-ttl", nodeCacheTTL.String()}, flags...),
		[]string{"KEYWARD_DATABASE_URL=" + u.String(), "KEYWARD_SERVER_SECRET=" + secret})}
	t.Cleanup(func() {
		if n.cmd.ProcessState == nil {
			if err := n.stop(syscall.SIGTERM); err != nil {
				t.Errorf("node %s: stopping: %v", name, err)
			}
		}
		if t.Failed() {
			t.Logf("node %s log:\n%s", name, n.stderr.String())
		}
	})
	if _, err := os.Stat(dataDir); err == nil {
		t.Errorf("node %s made a data directory; with --database it must keep nothing locally", name)
	}
	return n
}

// readyStatus is the status of n's /readyz.
func (n *node) readyStatus(t *testing.T) int {
	t.Helper()
	res, err := http.Get(n.url + "/readyz")
	if err != nil {
		t.Fatalf("node %s /readyz: %v", n.name, err)
	}
	res.Body.Close()
	return res.StatusCode
}

// cluster is three nodes on one database; b reaches it through a proxy that the test can cut.
type cluster struct {
	a, b, c  *node
	token    string // an admin key of the default account
	proxy    *pgProxy
	database *url.URL
	password string // in every node's database URL; must appear in no log
	client   *http.Client
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	database := testPostgresDatabase(t)
	cl := &cluster{database: database}
	// The test server trusts local connections, so a password in the URL is not checked;
	// it is there to show that no node logs it.
	if pw, ok := database.User.Password(); ok {
		cl.password = pw
	} else {
		cl.password = "do-not-log-" + randomHex(8)
		withPassword := *database
		withPassword.User = url.UserPassword(database.User.Username(), cl.password)
		database = &withPassword
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	shared := "1:" + base64.StdEncoding.EncodeToString(secret)

	cl.proxy = startProxy(t, database.Host)
	viaProxy := *database
	viaProxy.Host = cl.proxy.addr()

	// Rate limits off: these tests poll keys far faster than any tier allows, and a limit
	// would answer RATE_LIMITED before the change under test shows.
	off := []string{"--rate-limits", "off"}
	cl.a = startNode(t, "a", database, shared, off...)
	cl.token = adminKeyPattern.FindString(cl.a.stderr.String())
	if cl.token == "" {
		t.Fatalf("node a printed no admin key:\n%s", cl.a.stderr.String())
	}
	cl.b = startNode(t, "b", &viaProxy, shared, off...)
	cl.c = startNode(t, "c", database, shared, off...)
	for _, n := range []*node{cl.b, cl.c} {
		if k := adminKeyPattern.FindString(n.stderr.String()); k != "" {
			t.Errorf("node %s bootstrapped the shared database again", n.name)
		}
	}
	transport := &http.Transport{MaxIdleConnsPerHost: 8}
	cl.client = &http.Client{Transport: transport, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		transport.CloseIdleConnections()
		for _, n := range []*node{cl.a, cl.b, cl.c} {
			if strings.Contains(n.stderr.String(), cl.password) {
				t.Errorf("node %s logged the database password", n.name)
			}
		}
	})
	return cl
}

// do sends a request to n and returns the status and the decoded JSON body, if any.
func (cl *cluster) do(ctx context.Context, n *node, token, method, path string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := cl.client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s on node %s: %w", method, path, n.name, err)
	}
	defer res.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(res.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			return 0, nil, fmt.Errorf("%s %s on node %s: %d, not JSON: %s", method, path, n.name, res.StatusCode, b)
		}
	}
	return res.StatusCode, out, nil
}

// call is do for the test's own goroutine: it fails the test on a failed request.
func (cl *cluster) call(t *testing.T, n *node, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	status, out, err := cl.do(t.Context(), n, token, method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, out
}

func (cl *cluster) mustCall(t *testing.T, n *node, want int, method, path string, body any) map[string]any {
	t.Helper()
	status, out := cl.call(t, n, cl.token, method, path, body)
	if status != want {
		t.Fatalf("%s %s on node %s = %d %v, want %d", method, path, n.name, status, out, want)
	}
	return out
}

// createKey creates an account key through n and returns its id and secret.
func (cl *cluster) createKey(t *testing.T, n *node) (id, secret string) {
	t.Helper()
	out := cl.mustCall(t, n, http.StatusCreated, "POST", "/v1/api-keys", map[string]any{"name": "k-" + randomHex(4)})
	id, _ = out["id"].(string)
	secret, _ = out["key"].(string)
	if id == "" || secret == "" {
		t.Fatalf("creating a key: %v", out)
	}
	return id, secret
}

// verify verifies secret on n and returns the verdict's code.
func (cl *cluster) verify(ctx context.Context, n *node, secret string) (string, error) {
	status, out, err := cl.do(ctx, n, "", "POST", "/v1/keys/verify", map[string]any{"key": secret})
	if err != nil {
		return "", err
	}
	code, _ := out["code"].(string)
	if status != http.StatusOK || code == "" {
		return "", fmt.Errorf("verify on node %s = %d %v", n.name, status, out)
	}
	return code, nil
}

// verifyCode is verify for the test's own goroutine.
func (cl *cluster) verifyCode(t *testing.T, n *node, secret string) string {
	t.Helper()
	code, err := cl.verify(t.Context(), n, secret)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// pollUntilNotValid verifies secret on n until it is no longer VALID and returns that code
// and how long after since the answer came; it gives up with an error after bound.
func (cl *cluster) pollUntilNotValid(ctx context.Context, n *node, secret string, since time.Time, bound time.Duration) (string, time.Duration, error) {
	for {
		code, err := cl.verify(ctx, n, secret)
		elapsed := time.Since(since)
		switch {
		case err != nil:
			return "", elapsed, err
		case code != "VALID":
			return code, elapsed, nil
		case elapsed > bound:
			return code, elapsed, fmt.Errorf("node %s still answers VALID %s after the change", n.name, elapsed.Round(time.Millisecond))
		}
	}
}

// untilNotValid is pollUntilNotValid for the test's own goroutine.
func (cl *cluster) untilNotValid(t *testing.T, n *node, secret string, since time.Time, bound time.Duration) (string, time.Duration) {
	t.Helper()
	code, took, err := cl.pollUntilNotValid(t.Context(), n, secret, since, bound)
	if err != nil {
		t.Fatal(err)
	}
	return code, took
}

// TestNodesAgreeOnRevocations revokes keys through one node while two others have them
// cached, and checks that the others stop accepting them without waiting for their caches'
// TTL; and that a node that missed a revocation while cut off from the database drops its
// cache when it is back.
func TestNodesAgreeOnRevocations(t *testing.T) {
	cl := startCluster(t)

	t.Run("revocations reach every node", func(t *testing.T) {
		const rounds = 100
		var worst, perNode []time.Duration // worst: the slower node of each round
		for range rounds {
			id, secret := cl.createKey(t, cl.a)
			for _, n := range []*node{cl.b, cl.c} {
				if code := cl.verifyCode(t, n, secret); code != "VALID" {
					t.Fatalf("a new key on node %s: %s, want VALID", n.name, code)
				}
			}
			cl.mustCall(t, cl.a, http.StatusNoContent, "DELETE", "/v1/api-keys/"+id, nil)
			revoked := time.Now()
			var mu sync.Mutex
			var wg sync.WaitGroup
			var round time.Duration
			for _, n := range []*node{cl.b, cl.c} {
				wg.Go(func() {
					code, took, err := cl.pollUntilNotValid(t.Context(), n, secret, revoked, propagationBound)
					if err != nil {
						t.Error(err)
						return
					}
					if code != "REVOKED" {
						t.Errorf("a revoked key on node %s: %s, want REVOKED", n.name, code)
					}
					mu.Lock()
					defer mu.Unlock()
					perNode = append(perNode, took)
					round = max(round, took)
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			worst = append(worst, round)
		}
		slices.Sort(worst)
		slices.Sort(perNode)
		t.Logf("from a revocation's 204 on node a to nodes b and c answering REVOKED, over %d revocations: median %s, worst %s (per node: median %s, p99 %s)",
			rounds, worst[len(worst)/2], worst[len(worst)-1], perNode[len(perNode)/2], perNode[len(perNode)*99/100])
	})

	t.Run("rotations reach every node", func(t *testing.T) {
		id, secret := cl.createKey(t, cl.a)
		for _, n := range []*node{cl.b, cl.c} {
			cl.verifyCode(t, n, secret)
		}
		out := cl.mustCall(t, cl.a, http.StatusCreated, "POST", "/v1/api-keys/"+id+"/rotate", map[string]any{})
		rotated := time.Now()
		next, _ := out["key"].(string)
		for _, n := range []*node{cl.b, cl.c} {
			cl.untilNotValid(t, n, secret, rotated, propagationBound)
			if code := cl.verifyCode(t, n, next); code != "VALID" {
				t.Errorf("the new key on node %s: %s, want VALID", n.name, code)
			}
		}
	})

	t.Run("a grace period ends on every node", func(t *testing.T) {
		const grace = 3 * time.Second
		id, secret := cl.createKey(t, cl.a)
		for _, n := range []*node{cl.b, cl.c} {
			cl.verifyCode(t, n, secret)
		}
		out := cl.mustCall(t, cl.a, http.StatusCreated, "POST", "/v1/api-keys/"+id+"/rotate", map[string]any{"grace_period_seconds": int(grace / time.Second)})
		rotated := time.Now()
		graceEnd, err := time.Parse(time.RFC3339Nano, fmt.Sprint(out["grace_expires_at"]))
		if err != nil {
			t.Fatalf("rotation answered no grace_expires_at: %v", out)
		}
		for _, n := range []*node{cl.b, cl.c} {
			code := cl.verifyCode(t, n, secret)
			// On a machine too slow to ask within the grace period, VALID cannot be expected.
			if time.Since(rotated) < grace-time.Second && code != "VALID" {
				t.Errorf("the old key on node %s during its grace period: %s, want VALID", n.name, code)
			}
		}
		time.Sleep(time.Until(graceEnd.Add(-200 * time.Millisecond)))
		for _, n := range []*node{cl.b, cl.c} {
			code, took := cl.untilNotValid(t, n, secret, graceEnd, propagationBound)
			if code != "EXPIRED" {
				t.Errorf("the old key on node %s after its grace period: %s, want EXPIRED", n.name, code)
			}
			t.Logf("node %s answered EXPIRED %s after the grace period's end", n.name, took)
		}
	})

	t.Run("a node that missed a revocation drops its cache on reconnecting", func(t *testing.T) {
		admin := postgresSession(t, cl.database)
		id, secret := cl.createKey(t, cl.a)
		for _, n := range []*node{cl.b, cl.c} {
			if code := cl.verifyCode(t, n, secret); code != "VALID" {
				t.Fatalf("a new key on node %s: %s, want VALID", n.name, code)
			}
		}

		// Cut node b's listener off: end its session, and let no new session through the
		// proxy until the revocation is made. b's other sessions stay up.
		cl.proxy.refuse(true)
		var pid int32
		err := admin.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'keyward-b-listener'`).Scan(&pid)
		if err != nil {
			t.Fatalf("finding node b's listener session: %v", err)
		}
		var ended bool
		if err := admin.QueryRow(t.Context(), "SELECT pg_terminate_backend($1, 10000)", pid).Scan(&ended); err != nil || !ended {
			t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ended, err)
		}
		// Readiness says so: a node that hears no invalidations must leave the load balancer.
		waitFor(t, "node b's /readyz to answer 503 with its listener gone", func() bool { return cl.b.readyStatus(t) == http.StatusServiceUnavailable })

		cl.mustCall(t, cl.a, http.StatusNoContent, "DELETE", "/v1/api-keys/"+id, nil)
		revoked := time.Now()
		if code, _ := cl.untilNotValid(t, cl.c, secret, revoked, propagationBound); code != "REVOKED" {
			t.Errorf("node c: %s, want REVOKED", code)
		}
		// b could not hear of it: its cache still holds the key, and will for ten minutes.
		// (Were this not so, the rest would prove nothing about the reconnection.)
		if code := cl.verifyCode(t, cl.b, secret); code != "VALID" {
			t.Fatalf("node b, cut off: %s, want VALID from its cache", code)
		}

		cl.proxy.refuse(false)
		reopened := time.Now()
		code, took := cl.untilNotValid(t, cl.b, secret, reopened, reconnectBound)
		if code != "REVOKED" {
			t.Errorf("node b after reconnecting: %s, want REVOKED", code)
		}
		t.Logf("node b answered REVOKED %s after the database was reachable again (its cache TTL is %s)", took, nodeCacheTTL)
		waitFor(t, "node b's /readyz to answer 200 after reconnecting", func() bool { return cl.b.readyStatus(t) == http.StatusOK })
		if !strings.Contains(cl.b.stderr.String(), "listening for cache invalidations again") {
			t.Errorf("node b did not log its reconnection:\n%s", cl.b.stderr.String())
		}
	})
}

// waitFor polls cond until it holds, failing the test if it does not within propagationBound.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(propagationBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", propagationBound, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// pgProxy forwards TCP connections to a PostgreSQL server, and can refuse new ones: a node
// behind it can be cut off from the database as a network fault would cut it off.
type pgProxy struct {
	ln     net.Listener
	target string

	mu       sync.Mutex
	refusing bool
	conns    map[net.Conn]bool
	wg       sync.WaitGroup
}

// startProxy forwards to target (host:port; port 5432 if none) until the test ends.
func startProxy(t *testing.T, target string) *pgProxy {
	t.Helper()
	if _, _, err := net.SplitHostPort(target); err != nil {
		target = net.JoinHostPort(target, "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: target, conns: make(map[net.Conn]bool)}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.conns = nil // a connection accepted meanwhile is closed by track
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *pgProxy) addr() string { return p.ln.Addr().String() }

// refuse sets whether new connections are closed as soon as they are accepted.
func (p *pgProxy) refuse(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.refusing = on
}

func (p *pgProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		p.mu.Lock()
		refusing := p.refusing
		p.mu.Unlock()
		if refusing {
			client.Close()
			continue
		}
		server, err := net.DialTimeout("tcp", p.target, 10*time.Second)
		if err != nil {
			client.Close()
			continue
		}
		if !p.track(client, server) {
			return
		}
		p.wg.Go(func() { p.pipe(client, server) })
		p.wg.Go(func() { p.pipe(server, client) })
	}
}

// track records a pair of connections to close at the end, or closes them and reports false
// if the proxy is closing.
func (p *pgProxy) track(conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range conns {
			c.Close()
		}
		return false
	}
	for _, c := range conns {
		p.conns[c] = true
	}
	return true
}

// pipe copies from one side to the other until either ends, then closes both.
func (p *pgProxy) pipe(from, to net.Conn) {
	io.Copy(to, from)
	from.Close()
	to.Close()
	p.mu.Lock()
	delete(p.conns, from)
	delete(p.conns, to)
	p.mu.Unlock()
}

// TestStoreCommandsOnPostgres runs `keyward migrate` and `keyward admin create-key` against
// a PostgreSQL database, as an operator recovering access to a cluster would, and signs in to
// a node with the key made.
func TestStoreCommandsOnPostgres(t *testing.T) {
	database := testPostgresDatabase(t)
	const password = "do-not-print-this"
	withPassword := *database
	withPassword.User = url.UserPassword(database.User.Username(), password)
	secret := make([]byte, 32)
	rand.Read(secret)
	shared := "1:" + base64.StdEncoding.EncodeToString(secret)

	run := func(args ...string) (string, error) {
		root := newRootCmd(nil, nil)
		var out, errOut bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&errOut)
		root.SetArgs(args)
		err := root.ExecuteContext(t.Context())
		if strings.Contains(out.String()+errOut.String(), password) || (err != nil && strings.Contains(err.Error(), password)) {
			t.Errorf("keyward %s printed the database password", args[0])
		}
		return out.String(), err
	}
	out, err := run("migrate", "--database", withPassword.String())
	if err != nil || !strings.Contains(out, "is up to date") {
		t.Fatalf("migrate: %q, %v", out, err)
	}
	if _, err := run("admin", "create-key", "--database", withPassword.String()); err == nil || !strings.Contains(err.Error(), "every node shares") {
		t.Errorf("admin create-key without a server secret: %v, want an error asking for the shared secret", err)
	}
	out, err = run("admin", "create-key", "--database", withPassword.String(), "--server-secret", shared, "--name", "recovery")
	if err != nil {
		t.Fatalf("admin create-key: %v", err)
	}
	token := adminKeyPattern.FindString(out)
	if token == "" {
		t.Fatalf("admin create-key printed no key:\n%s", out)
	}

	n := startNode(t, "solo", &withPassword, shared)
	cl := &cluster{token: token, client: &http.Client{Timeout: 10 * time.Second}}
	cl.mustCall(t, n, http.StatusOK, "GET", "/v1/whoami", nil)
	if strings.Contains(n.stderr.String(), password) {
		t.Errorf("the node logged the database password:\n%s", n.stderr.String())
	}
}
