package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The front-door tests put a real reverse proxy (nginx, Caddy, Traefik) between callers and
// an API, with the real keyward binary as its authentication service, and send requests
// through it as callers would. The configurations they write are the ones
// docs/integrations.md shows.

// frontDoorPolicy is the route policy the front-door tests run: a route that needs a scope, a
// public route, and the default for the rest.
const frontDoorPolicy = `routes:
  - method: GET
    path: /health
    public: true               # no key needed
  - path: /orders/             # /orders/ and every path below it
    scopes: [orders:read]
default: {}                    # any other route: a valid key, nothing more
`

// identityHeaders are the headers Keyward's allowed answer carries, which a front door
// copies into the request it sends upstream.
var identityHeaders = []string{
	"X-Keyward-Key-Id", "X-Keyward-Account-Id", "X-Keyward-Project-Id", "X-Keyward-Environment-Id",
	"X-Keyward-User-Id", "X-Keyward-Role", "X-Keyward-Scopes",
}

// frontDoor is a Keyward serving the gateway with frontDoorPolicy, the keys the cases use,
// and an upstream API that records what reaches it.
type frontDoor struct {
	keyward  *process
	upstream *recordingUpstream

	// The keys' secrets: reader has orders:read; plain has no scope; revoked was revoked;
	// limited has orders:read and its own limit of one request a minute (burst 1).
	reader, plain, revoked, limited string
	// Whom the reader key stands for, as Keyward tells the upstream.
	readerID, accountID, projectID string
}

// startFrontDoor starts Keyward, trusting loopback proxies' X-Forwarded-For, with the
// policy file, makes the keys through its API, and starts the upstream.
func startFrontDoor(t *testing.T) *frontDoor {
	t.Helper()
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte(frontDoorPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	kw := startProcess(t, []string{"--data", filepath.Join(dir, "data"),
		"--trusted-proxies", "127.0.0.1,::1", "--gateway-policy", policy}, nil)
	token := adminToken(t, kw)
	project := kw.mustCall(http.StatusCreated, token, "POST", "/v1/projects", map[string]any{"name": "shop", "key_prefix": "sk_live"})
	key := func(name string, fields map[string]any) map[string]any {
		t.Helper()
		body := map[string]any{"project_id": project["id"], "name": name}
		for k, v := range fields {
			body[k] = v
		}
		return kw.mustCall(http.StatusCreated, token, "POST", "/v1/api-keys", body)
	}
	reader := key("reader", map[string]any{"scopes": []string{"orders:read"}})
	plain := key("plain", nil)
	revoked := key("revoked", map[string]any{"scopes": []string{"orders:read"}})
	kw.mustCall(http.StatusNoContent, token, "DELETE", "/v1/api-keys/"+revoked["id"].(string), nil)
	limited := key("limited", map[string]any{"scopes": []string{"orders:read"},
		"rate_limit": map[string]any{"rate": 1, "period_seconds": 60, "burst": 1}})
	return &frontDoor{
		keyward:  kw,
		upstream: startRecordingUpstream(t),
		reader:   reader["key"].(string), plain: plain["key"].(string),
		revoked: revoked["key"].(string), limited: limited["key"].(string),
		readerID: reader["id"].(string), accountID: reader["account_id"].(string), projectID: project["id"].(string),
	}
}

// keywardAddr is Keyward's host:port, as a front door's configuration names it.
func (fd *frontDoor) keywardAddr() string { return strings.TrimPrefix(fd.keyward.url, "http://") }

// recordingUpstream is the API behind the front door: it answers 200 to everything and keeps
// the headers of each request by its URI.
type recordingUpstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen map[string]http.Header
}

func startRecordingUpstream(t *testing.T) *recordingUpstream {
	t.Helper()
	u := &recordingUpstream{seen: map[string]http.Header{}}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.seen[r.URL.RequestURI()] = r.Header.Clone()
		u.mu.Unlock()
		io.WriteString(w, "upstream\n")
	}))
	t.Cleanup(u.srv.Close)
	return u
}

// addr is the upstream's host:port.
func (u *recordingUpstream) addr() string { return u.srv.Listener.Addr().String() }

// request returns the headers of the request for uri that reached the upstream, or nil.
func (u *recordingUpstream) request(uri string) http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.seen[uri]
}

// doorCase is one request through a front door and what the caller must get.
type doorCase struct {
	name   string
	uri    string
	key    string // sent as Authorization: Bearer; none when ""
	status int
	// challenge must be within WWW-Authenticate ("" when none is checked).
	challenge string
}

// checkFrontDoor sends the five cases through the front door at base (http://host:port) and
// checks what the caller got and what reached the upstream: a valid key goes through with
// Keyward's identity headers, never the caller's; a missing, garbage or revoked key is 401; a
// missing scope 403 naming it; a key over its limit 429 with Retry-After.
func checkFrontDoor(t *testing.T, fd *frontDoor, base string) {
	t.Helper()
	for _, tc := range []doorCase{
		{name: "valid key", uri: "/orders/7?case=valid", key: fd.reader, status: 200},
		{name: "public route, no key", uri: "/health?case=public", status: 200},
		{name: "no key", uri: "/orders/7?case=none", status: 401, challenge: `Bearer realm="keyward"`},
		{name: "garbage key", uri: "/orders/7?case=garbage", key: "letmein", status: 401, challenge: `error="invalid_token"`},
		{name: "revoked key", uri: "/orders/7?case=revoked", key: fd.revoked, status: 401, challenge: `error="invalid_token"`},
		{name: "missing scope", uri: "/orders/7?case=scope", key: fd.plain, status: 403, challenge: `error="insufficient_scope", scope="orders:read"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := sendThrough(t, base, tc.uri, tc.key, map[string]string{
				// A caller who forges who they are.
				"X-Keyward-Key-Id": "spoofed-key", "X-Keyward-User-Id": "spoofed-user", "X-Keyward-Role": "owner",
			})
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if got := res.Header.Get("WWW-Authenticate"); !strings.Contains(got, tc.challenge) {
				t.Errorf("WWW-Authenticate = %q, want it to hold %q", got, tc.challenge)
			}
			seen := fd.upstream.request(tc.uri)
			if tc.status != 200 {
				if seen != nil {
					t.Errorf("a refused request reached the upstream")
				}
				return
			}
			if seen == nil {
				t.Fatal("an allowed request did not reach the upstream")
			}
			for _, name := range []string{"Authorization", "X-Api-Key"} {
				if v := seen.Get(name); v != "" {
					t.Errorf("the upstream got %s %q; the front door should remove the key", name, v)
				}
			}
			for _, name := range []string{"X-Keyward-User-Id", "X-Keyward-Role"} {
				if v := seen.Get(name); strings.HasPrefix(v, "spoofed") || v == "owner" {
					t.Errorf("the upstream got the caller's %s %q", name, v)
				}
			}
			if tc.key == "" {
				if v := seen.Get("X-Keyward-Key-Id"); v == "spoofed-key" {
					t.Errorf("a public route's upstream got the caller's X-Keyward-Key-Id")
				}
				return
			}
			for name, want := range map[string]string{
				"X-Keyward-Key-Id": fd.readerID, "X-Keyward-Account-Id": fd.accountID,
				"X-Keyward-Project-Id": fd.projectID, "X-Keyward-Scopes": "orders:read",
			} {
				if got := seen.Get(name); got != want {
					t.Errorf("the upstream got %s %q, want %q", name, got, want)
				}
			}
		})
	}
	t.Run("over the limit", func(t *testing.T) {
		if res := sendThrough(t, base, "/reports?case=limit-1", fd.limited, nil); res.StatusCode != 200 {
			t.Fatalf("the limited key's first request: status %d, want 200", res.StatusCode)
		}
		res := sendThrough(t, base, "/reports?case=limit-2", fd.limited, nil)
		if res.StatusCode != 429 {
			t.Fatalf("the limited key's second request: status %d, want 429", res.StatusCode)
		}
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("Retry-After = %q, want 1 to 60 seconds", res.Header.Get("Retry-After"))
		}
		if fd.upstream.request("/reports?case=limit-2") != nil {
			t.Error("a request over the limit reached the upstream")
		}
	})
}

// doorClient sends the cases; it keeps no connection between tests and follows no redirect.
var doorClient = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// sendThrough sends GET base+uri with key as a bearer token and extra headers, and returns
// the answer with its body read.
func sendThrough(t *testing.T, base, uri, key string, extra map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range extra {
		req.Header.Set(k, v)
	}
	res, err := doorClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	io.Copy(io.Discard, res.Body)
	return res
}

// lookBinary finds a front door's binary on PATH or in /usr/sbin (not on a user's PATH on
// Debian), or skips the test.
func lookBinary(t *testing.T, name, install string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if p := filepath.Join("/usr/sbin", name); isExecutable(p) {
		return p
	}
	t.Skipf("%s is not installed (%s); .ci/run installs it", name, install)
	return ""
}

func isExecutable(p string) bool {
	info, err := os.Stat(p)
	return err == nil && !info.IsDir() && info.Mode()&0o111 != 0
}

// freeAddr is a loopback address with a port nothing listens on right now, for a front door
// that cannot be told to pick its own.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// child is a front door running as a child process, in a process group of its own so that
// its workers end with it.
type child struct {
	name   string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
	err    error
}

// startChild starts cmd, its output kept for failure messages, and stops it when the test
// ends: SIGTERM, then, if it is still there after 10 s, SIGKILL to its whole group.
func startChild(t *testing.T, name string, cmd *exec.Cmd) *child {
	t.Helper()
	c := &child{name: name, cmd: cmd, out: &lockedBuffer{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		pid := cmd.Process.Pid
		syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not stop within 10s of SIGTERM; killing it", name)
		}
		// The group: workers that outlived their master, if any.
		if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			t.Errorf("killing %s's process group: %v", name, err)
		}
		<-c.exited
	})
	return c
}

// waitReady polls url until it answers with any status, failing the test with the child's
// output if the child exits or 30 s pass first.
func (c *child) waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := doorClient.Get(url)
		if err == nil {
			res.Body.Close()
			return
		}
		select {
		case <-c.exited:
			t.Fatalf("%s exited (%v) before answering:\n%s", c.name, c.err, c.out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %s within 30s (%v):\n%s", c.name, url, err, c.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeConfig writes a front door's configuration into dir and logs it, so that a failing
// run shows what ran.
func writeConfig(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s:\n%s", name, text)
	return p
}

// render fills a configuration template's {{NAME}} fields.
func render(tmpl string, fields map[string]string) string {
	for k, v := range fields {
		tmpl = strings.ReplaceAll(tmpl, "{{"+k+"}}", v)
	}
	if i := strings.Index(tmpl, "{{"); i >= 0 {
		panic(fmt.Sprintf("a template field is not filled: %s", tmpl[i:min(len(tmpl), i+30)]))
	}
	return tmpl
}
