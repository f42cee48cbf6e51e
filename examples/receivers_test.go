// Package examples_test runs the webhook receiver examples as real processes and sends them
// Keyward's signed webhooks, so that the examples the docs point to are known to work: a
// good message is accepted and printed, a tampered one or one signed with another secret
// is refused, and during a rotation a receiver that knows only one of the two secrets
// accepts.
package examples_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/webhook"
)

const (
	startTimeout   = 30 * time.Second
	installTimeout = 3 * time.Minute
)

// output collects a process's stdout and stderr and notices the line a receiver prints once
// it listens.
type output struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	listening chan string // receives the base URL once
	sent      bool
}

var listeningLine = regexp.MustCompile(`listening on (http://127\.0\.0\.1:[0-9]+)`)

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if !o.sent {
		if m := listeningLine.FindSubmatch(o.buf.Bytes()); m != nil {
			o.sent = true
			o.listening <- string(m[1])
		}
	}
	return len(p), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits, a bounded time, until the output contains s.
func (o *output) waitFor(s string) bool {
	deadline := time.Now().Add(5 * time.Second)
	for {
		if strings.Contains(o.String(), s) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// start runs cmd, which must listen on 127.0.0.1 port 0 and print "listening on URL", and
// returns the URL and its output. The process is killed, and waited for, at cleanup.
func start(t *testing.T, cmd *exec.Cmd, secret webhook.Secret) (string, *output) {
	t.Helper()
	out := &output{listening: make(chan string, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(),
		"KEYWARD_WEBHOOK_SECRET="+secret.Reveal(),
		"KEYWARD_WEBHOOK_ADDR=127.0.0.1:0",
		"PYTHONDONTWRITEBYTECODE=1",
	)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not exit after kill", cmd)
		}
	})
	select {
	case url := <-out.listening:
		return url, out
	case err := <-exited:
		exited <- err // for the cleanup
		t.Fatalf("%s exited before listening: %v\noutput:\n%s", cmd, err, out)
	case <-time.After(startTimeout):
		t.Fatalf("%s did not print \"listening on\" within %v\noutput:\n%s", cmd, startTimeout, out)
	}
	return "", nil
}

// need fails the test, or skips it when skipEnv is "1", unless every program is on PATH;
// packages are the Debian packages that provide them.
func need(t *testing.T, skipEnv, packages string, programs ...string) {
	t.Helper()
	for _, p := range programs {
		if _, err := exec.LookPath(p); err != nil {
			if os.Getenv(skipEnv) == "1" {
				t.Skipf("%s not found, and %s=1", p, skipEnv)
			}
			t.Fatalf("%s not found on PATH: this example's test needs it (apt-get install %s), or set %s=1 to skip the test", p, packages, skipEnv)
		}
	}
}

func goReceiver(t *testing.T) *exec.Cmd {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "webhook-receiver")
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	build := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".")
	build.Dir = "webhook-receiver"
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return exec.Command(bin)
}

func nodeReceiver(t *testing.T) *exec.Cmd {
	need(t, "KEYWARD_TEST_SKIP_NODE", "nodejs npm", "node", "npm")
	// Install into a copy, so that the test leaves no node_modules in the repository.
	dir := t.TempDir()
	for _, name := range []string{"package.json", "package-lock.json", "server.js"} {
		b, err := os.ReadFile(filepath.Join("webhook-receiver-node", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), installTimeout)
	defer cancel()
	install := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--prefer-offline")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm ci (bounded by %v): %v\n%s", installTimeout, err, out)
	}
	cmd := exec.Command("node", "server.js")
	cmd.Dir = dir
	return cmd
}

func pythonReceiver(t *testing.T) *exec.Cmd {
	need(t, "KEYWARD_TEST_SKIP_PYTHON", "python3", "python3")
	path, err := filepath.Abs(filepath.Join("webhook-receiver-python", "server.py"))
	if err != nil {
		t.Fatal(err)
	}
	// -I: isolated, so neither the user's site-packages nor PYTHON* variables change what is
	// tested; -B: no bytecode files in the repository.
	return exec.Command("python3", "-I", "-B", path)
}

func TestReceivers(t *testing.T) {
	receivers := []struct {
		name    string
		command func(*testing.T) *exec.Cmd
	}{
		{"go", goReceiver},
		{"node", nodeReceiver},
		{"python", pythonReceiver},
	}
	for _, r := range receivers {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			secret, other := newSecret(t), newSecret(t)
			url, out := start(t, r.command(t), secret)
			testReceiver(t, url, out, secret, other)
		})
	}
}

// newKey is the secret inside the test event, which a receiver must not print.
const newKey = "kw_live_N3wK3yTh4tMustN0tB3Pr1nt3dAnywh3r3"

func testReceiver(t *testing.T, url string, out *output, secret, other webhook.Secret) {
	body := []byte(`{"type":"api_key.rotated","timestamp":"2026-12-06T05:00:00Z","data":{"id":"01a24963-99d2-76b2-8c4d-a2a818b31adb","name":"checkout-eu","secret":"` + newKey + `"}}`)
	tampered := bytes.Replace(body, []byte("checkout-eu"), []byte("checkout-us"), 1)
	tests := []struct {
		name     string
		body     []byte
		signed   []byte // the body the signature is made over
		secrets  []webhook.Secret
		noHeader bool
		want     int
	}{
		{name: "signed with its secret", body: body, signed: body, secrets: []webhook.Secret{secret}, want: http.StatusNoContent},
		{name: "tampered body", body: tampered, signed: body, secrets: []webhook.Secret{secret}, want: http.StatusBadRequest},
		{name: "signed with another secret", body: body, signed: body, secrets: []webhook.Secret{other}, want: http.StatusBadRequest},
		{name: "rotation, its secret second", body: body, signed: body, secrets: []webhook.Secret{other, secret}, want: http.StatusNoContent},
		{name: "no signature headers", body: body, noHeader: true, want: http.StatusBadRequest},
	}
	for i, tt := range tests {
		id := fmt.Sprintf("msg_test%d", i)
		req, err := http.NewRequest(http.MethodPost, url+"/webhooks/keyward", bytes.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		if !tt.noHeader {
			req.Header = webhook.Headers(id, time.Now(), tt.signed, tt.secrets...)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v\noutput:\n%s", tt.name, err, out)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s: status %d, want %d\noutput:\n%s", tt.name, resp.StatusCode, tt.want, out)
			continue
		}
		if tt.want == http.StatusNoContent {
			if line := "event api_key.rotated at 2026-12-06T05:00:00Z (webhook-id " + id + ")"; !out.waitFor(line) {
				t.Errorf("%s: output lacks %q:\n%s", tt.name, line, out)
			}
		} else if strings.Contains(out.String(), "webhook-id "+id+")") {
			t.Errorf("%s: refused, but printed as an event:\n%s", tt.name, out)
		}
	}
	if !out.waitFor(fmt.Sprintf("new secret received (%d chars)", len(newKey))) {
		t.Errorf("output does not say the new secret arrived:\n%s", out)
	}
	if !out.waitFor(`"name":"checkout-eu"`) {
		t.Errorf("output lacks the event's data:\n%s", out)
	}
	if s := out.String(); strings.Contains(s, newKey) || strings.Contains(s, secret.Reveal()) {
		t.Errorf("output contains a secret:\n%s", s)
	}
	t.Logf("output:\n%s", out)
}

func newSecret(t *testing.T) webhook.Secret {
	t.Helper()
	s, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
