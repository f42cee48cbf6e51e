package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/openapitest"
)

// These tests run the real keyward binary as a separate process: what a person runs is what
// is tested, down to signals and crashes.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds keyward once per test run, with the crash hook of the keyward_crashtest tag
// (inert unless KEYWARD_CRASH_AT is set).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "keyward-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "keyward")
		out, err := exec.Command("go", "build", "-tags", "keyward_crashtest", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	// No test may read or write the profiles of the person running the tests.
	cfgDir, err := os.MkdirTemp("", "keyward-config-")
	if err != nil {
		panic(err)
	}
	os.Setenv(envKeywardConfig, filepath.Join(cfgDir, "config.json"))
	os.Unsetenv(envKeywardProfile)
	code := m.Run()
	os.RemoveAll(cfgDir)
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// process is a running `keyward serve`.
type process struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
	exited chan error

	// checker holds the answers tryCall gets to the document the process serves, fetched
	// on the first call.
	checkerOnce sync.Once
	checker     *openapitest.Checker
}

// check checks an answer against the process's OpenAPI document, and a request the process
// took (sent is its body) too.
func (p *process) check(req *http.Request, sent []byte, res *http.Response, body []byte) {
	p.checkerOnce.Do(func() {
		res, err := http.Get(p.url + "/openapi.json")
		if err != nil {
			return // the process is gone (a crash test): nothing to check against
		}
		defer res.Body.Close()
		doc, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode != http.StatusOK {
			return
		}
		if p.checker, err = openapitest.New(doc); err != nil {
			p.t.Errorf("the served OpenAPI document: %v", err)
		}
	})
	if p.checker == nil {
		return
	}
	if res.StatusCode < 300 {
		taken := req.Clone(req.Context())
		taken.Body = io.NopCloser(bytes.NewReader(sent))
		p.checker.CheckRequest(taken)
	}
	p.checker.Check(req, res.StatusCode, res.Header, body)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var listeningURL = regexp.MustCompile(` url=(http://127\.0\.0\.1:\d+)`)

// startServer runs `keyward serve` on a random loopback port over dataDir and waits until
// it listens. The process is killed when the test ends if it is still running.
func startServer(t *testing.T, dataDir string) *process {
	t.Helper()
	return startProcess(t, []string{"--data", dataDir}, nil)
}

// startProcess runs `keyward serve --addr 127.0.0.1:0` with more flags and environment
// variables (after this process's own) and waits until it listens. The process is killed
// when the test ends if it is still running.
func startProcess(t *testing.T, flags, env []string) *process {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, flags...)...)
	cmd.Env = append(append(os.Environ(), "KEYWARD_LOG_LEVEL=info"), env...)
	return startCommand(t, cmd)
}

// startCommand starts cmd, a command that ends by running `keyward serve` (under a wrapper
// such as a shell setting limits, say), and waits until the server listens.
func startCommand(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, cmd: cmd, stderr: &lockedBuffer{}, exited: make(chan error, 1)}
	t.Cleanup(func() {
		if p.checker == nil {
			return
		}
		for _, v := range p.checker.Violations() {
			t.Errorf("openapi violation: %s", v)
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			if m := listeningURL.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, pipe)
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-p.exited
		}
	})
	select {
	case p.url = <-found:
	case err := <-p.exited:
		t.Fatalf("keyward exited before listening: %v\n%s", err, p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("keyward did not listen within 30s:\n%s", p.stderr.String())
	}
	return p
}

// stop sends sig and waits for the process to exit.
func (p *process) stop(sig os.Signal) error {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatalf("keyward did not exit within 30s of %v", sig)
		return nil
	}
}

// runKeyward runs the keyward command in this process with args and returns what it wrote
// to stdout and stderr, together.
func runKeyward(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd(nil, nil)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

var adminKeyPattern = regexp.MustCompile(`kwadmin_[0-9A-Za-z]{42}`)

func (p *process) call(token, method, path string, body any) (int, []byte) {
	p.t.Helper()
	status, b, err := p.tryCall(token, method, path, body)
	if err != nil {
		p.t.Fatal(err)
	}
	return status, b
}

// tryCall sends a request and returns the answer, or the error of a request that got none.
func (p *process) tryCall(token, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	var sent []byte
	if body != nil {
		sent, _ = json.Marshal(body)
		rd = bytes.NewReader(sent)
	}
	req, err := http.NewRequest(method, p.url+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err == nil {
		p.check(req, sent, res, b)
	}
	return res.StatusCode, b, err
}

// mustCallList sends a request that must answer 200 with a JSON array, and returns it.
func (p *process) mustCallList(token, method, path string) []map[string]any {
	p.t.Helper()
	status, b := p.call(token, method, path, nil)
	var out []map[string]any
	if status != http.StatusOK || json.Unmarshal(b, &out) != nil {
		p.t.Fatalf("%s %s = %d %s, want 200 and a list", method, path, status, b)
	}
	return out
}

func (p *process) mustCall(want int, token, method, path string, body any) map[string]any {
	p.t.Helper()
	status, b := p.call(token, method, path, body)
	if status != want {
		p.t.Fatalf("%s %s = %d %s, want %d", method, path, status, b, want)
	}
	var m map[string]any
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &m); err != nil {
			p.t.Fatalf("decoding %s: %v", b, err)
		}
	}
	return m
}

func (p *process) verifyCode(key string) string {
	p.t.Helper()
	return p.mustCall(http.StatusOK, "", "POST", "/v1/keys/verify", map[string]any{"key": key})["code"].(string)
}

func TestServeBootstrapsOnce(t *testing.T) {
	data := filepath.Join(t.TempDir(), "keyward-data")
	first := startServer(t, data)
	token := adminKeyPattern.FindString(first.stderr.String())
	if token == "" {
		t.Fatalf("first start printed no admin key:\n%s", first.stderr.String())
	}
	first.mustCall(http.StatusOK, token, "GET", "/v1/projects", nil)
	if err := first.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v", err)
	}
	info, err := os.Stat(filepath.Join(data, "server-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("server-secret mode = %v, want 0600", perm)
	}

	second := startServer(t, data)
	if adminKeyPattern.MatchString(second.stderr.String()) {
		t.Errorf("second start printed an admin key again:\n%s", second.stderr.String())
	}
	second.mustCall(http.StatusOK, token, "GET", "/v1/projects", nil)
	second.stop(syscall.SIGTERM)
}

// TestCrashKeepsEveryCreatedKey kills the server without warning right after it answered
// 201s, and checks that a restart still verifies every one of those keys.
func TestCrashKeepsEveryCreatedKey(t *testing.T) {
	data := filepath.Join(t.TempDir(), "keyward-data")
	p := startServer(t, data)
	token := adminKeyPattern.FindString(p.stderr.String())
	projectID := p.mustCall(http.StatusCreated, token, "POST", "/v1/projects", map[string]any{"name": "crash"})["id"].(string)
	var keys []string
	for i := range 20 {
		k := p.mustCall(http.StatusCreated, token, "POST", "/v1/api-keys", map[string]any{"project_id": projectID, "name": fmt.Sprintf("k%d", i)})
		keys = append(keys, k["key"].(string))
	}
	revokedID := p.mustCall(http.StatusCreated, token, "POST", "/v1/api-keys", map[string]any{"project_id": projectID, "name": "revoked"})
	p.mustCall(http.StatusNoContent, token, "DELETE", "/v1/api-keys/"+revokedID["id"].(string), nil)
	p.stop(syscall.SIGKILL)

	again := startServer(t, data)
	for _, k := range keys {
		if code := again.verifyCode(k); code != "VALID" {
			t.Errorf("after a crash, a key answered 201 verifies as %s", code)
		}
	}
	if code := again.verifyCode(revokedID["key"].(string)); code != "REVOKED" {
		t.Errorf("after a crash, a key answered 204 to DELETE verifies as %s", code)
	}
	again.stop(syscall.SIGTERM)
	for _, k := range append(keys, revokedID["key"].(string)) {
		if strings.Contains(p.stderr.String()+again.stderr.String(), k[len(k)-20:]) {
			t.Errorf("the server's output holds a key secret")
		}
	}
}

// TestShutdownFlushesLastUsed checks that SIGTERM writes the buffered last-used times,
// which are otherwise written only once a second.
func TestShutdownFlushesLastUsed(t *testing.T) {
	data := filepath.Join(t.TempDir(), "keyward-data")
	p := startServer(t, data)
	token := adminKeyPattern.FindString(p.stderr.String())
	projectID := p.mustCall(http.StatusCreated, token, "POST", "/v1/projects", map[string]any{"name": "p"})["id"].(string)
	k := p.mustCall(http.StatusCreated, token, "POST", "/v1/api-keys", map[string]any{"project_id": projectID, "name": "k"})
	if code := p.verifyCode(k["key"].(string)); code != "VALID" {
		t.Fatalf("verify = %s", code)
	}
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "shutting down") {
		t.Errorf("no graceful shutdown in the log:\n%s", p.stderr.String())
	}
	again := startServer(t, data)
	got := again.mustCall(http.StatusOK, token, "GET", "/v1/api-keys/"+k["id"].(string), nil)
	if got["last_used_at"] == nil {
		t.Errorf("last_used_at is null after a verification and a graceful shutdown")
	}
	again.stop(syscall.SIGTERM)
}
