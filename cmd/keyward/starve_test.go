package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestSlowConnectionsCannotStarveVerification runs the server under a 256-descriptor limit,
// its connection cap left to its default (sized to that limit), and opens 400 connections
// that send their headers a line at a time and never finish — more than the process could
// hold. Meanwhile a client verifies a key: every one of its requests must be answered.
// Without the cap, accept fails with EMFILE once the slow connections hold every
// descriptor, and verification stops until they time out.
func TestSlowConnectionsCannotStarveVerification(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("needs bash to lower the descriptor limit")
	}
	const slow, verifications = 400, 300
	cmd := exec.Command("bash", "-c", `ulimit -n 256 && exec "$0" "$@"`, binary(t),
		"serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "keyward-data"), "--rate-limits", "off")
	cmd.Env = append(cmd.Environ(), "KEYWARD_LOG_LEVEL=info")
	p := startCommand(t, cmd)
	token := adminKeyPattern.FindString(p.stderr.String())
	projectID := p.mustCall(http.StatusCreated, token, "POST", "/v1/projects", map[string]any{"name": "starve"})["id"].(string)
	key := p.mustCall(http.StatusCreated, token, "POST", "/v1/api-keys", map[string]any{"project_id": projectID, "name": "k"})["key"].(string)
	addr := strings.TrimPrefix(p.url, "http://")

	// The attackers: each keeps one slow connection open, opening another when the server
	// closes it, until stop.
	stop := make(chan struct{})
	var attackers sync.WaitGroup
	var opened atomic.Int64
	for range slow {
		attackers.Add(1)
		go func() {
			defer attackers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					select {
					case <-stop:
						return
					case <-time.After(50 * time.Millisecond):
						continue
					}
				}
				opened.Add(1)
				_, err = io.WriteString(c, "POST /v1/keys/verify HTTP/1.1\r\nHost: keyward\r\n")
				for err == nil {
					select {
					case <-stop:
						c.Close()
						return
					case <-time.After(500 * time.Millisecond):
					}
					_, err = io.WriteString(c, "X-Slow: 1\r\n")
				}
				c.Close()
			}
		}()
	}
	defer func() {
		close(stop)
		attackers.Wait()
	}()
	for opened.Load() < slow { // every attacker has had a connection accepted or queued
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second)

	// A new connection for every request: each must get past the slow ones to be accepted.
	// The timeout detects a stall, not slowness: without the cap, a new connection waits
	// in the backlog until slow ones reach the server's 10 s header timeout (9.3 s measured),
	// while with it every verification here took milliseconds.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var latencies []time.Duration
	failed := 0
	body := fmt.Sprintf(`{"key":%q}`, key)
	for range verifications {
		start := time.Now()
		res, err := client.Post(p.url+"/v1/keys/verify", "application/json", strings.NewReader(body))
		if err != nil {
			if failed == 0 {
				t.Logf("first failure: %v", err)
			}
			failed++
			continue
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"code":"VALID"`)) {
			if failed == 0 {
				t.Logf("first failure: %d %s", res.StatusCode, b)
			}
			failed++
			continue
		}
		latencies = append(latencies, time.Since(start))
	}
	if failed > 0 {
		t.Errorf("%d of %d verifications failed while %d slow connections were held open", failed, verifications, slow)
	}
	if len(latencies) > 0 {
		slices.Sort(latencies)
		t.Logf("%d slow connections (%d opened in all); %d verifications: p50 %s, p99 %s, max %s",
			slow, opened.Load(), len(latencies), latencies[len(latencies)/2], latencies[len(latencies)*99/100], latencies[len(latencies)-1])
	}
	p.stop(syscall.SIGTERM)
}

// TestSlowBodiesHoldNothing checks the body deadline on every route: an answer that needs no
// body (a 401) goes out without waiting for the body to arrive, and a body that does not
// arrive within --body-timeout is refused rather than waited on.
func TestSlowBodiesHoldNothing(t *testing.T) {
	p := startProcess(t, []string{"--data", filepath.Join(t.TempDir(), "keyward-data"), "--body-timeout", "1s"}, nil)
	token := adminKeyPattern.FindString(p.stderr.String())
	u, _ := url.Parse(p.url)

	// send writes a request's head and the first byte of a 100-byte body, and returns the
	// status line the server answers before the rest is sent (it never is).
	send := func(auth string) string {
		t.Helper()
		c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		head := "POST /v1/projects HTTP/1.1\r\nHost: keyward\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
		if auth != "" {
			head += "Authorization: Bearer " + auth + "\r\n"
		}
		if _, err := io.WriteString(c, head+"\r\n{"); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		return strings.TrimSpace(line)
	}
	if got := send(""); got != "HTTP/1.1 401 Unauthorized" {
		t.Errorf("an unauthenticated request with a slow body answered %q, want 401", got)
	}
	if got := send(token); got != "HTTP/1.1 408 Request Timeout" {
		t.Errorf("an authenticated request whose body never arrives answered %q, want 408 once --body-timeout passes", got)
	}
	p.stop(syscall.SIGTERM)
}
