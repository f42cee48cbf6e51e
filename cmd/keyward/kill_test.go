package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// envKillCreates sets how many creates TestKillDuringConcurrentCreates fires (default 1,000).
const envKillCreates = "KEYWARD_TEST_KILL_CREATES"

// TestKillDuringConcurrentCreates fires creates at a real `keyward serve`, many at once, kills
// it with SIGKILL once about half have been answered, restarts it on the same data, and
// checks that every key whose create answered 201 verifies VALID: an answer is given only
// after the key is durable. Creates in flight at the kill have no answer and promise nothing.
func TestKillDuringConcurrentCreates(t *testing.T) {
	total := 1000
	if s := os.Getenv(envKillCreates); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 2 {
			t.Fatalf("%s=%q: want a number of creates", envKillCreates, s)
		}
		total = n
	}
	t.Run("sqlite", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		flags := []string{"--data", data, "--rate-limits", "off"}
		killDuringCreates(t, total, func() *process { return startProcess(t, flags, nil) })
	})
	t.Run("postgres", func(t *testing.T) {
		database := testPostgresDatabase(t)
		secret := make([]byte, 32)
		rand.Read(secret)
		env := []string{"KEYWARD_DATABASE_URL=" + database.String(), "KEYWARD_SERVER_SECRET=1:" + base64.StdEncoding.EncodeToString(secret)}
		flags := []string{"--data", filepath.Join(t.TempDir(), "unused"), "--rate-limits", "off"}
		killDuringCreates(t, total, func() *process { return startProcess(t, flags, env) })
	})
}

// killDuringCreates runs the test on the server start starts, once before the kill and once
// after.
func killDuringCreates(t *testing.T, total int, start func() *process) {
	const concurrency = 50
	p := start()
	admin := adminKeyPattern.FindString(p.stderr.String())
	if admin == "" {
		t.Fatalf("no admin key printed:\n%s", p.stderr.String())
	}
	project := p.mustCall(http.StatusCreated, admin, "POST", "/v1/projects", map[string]any{"name": "kill"})["id"].(string)

	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	var (
		next, answered atomic.Int64
		mu             sync.Mutex
		keys           []string
		refused        []string // answers other than 201 before the kill
		killed         = make(chan struct{})
		killOnce       sync.Once
		wg             sync.WaitGroup
	)
	kill := func() {
		killOnce.Do(func() {
			p.cmd.Process.Signal(syscall.SIGKILL)
			close(killed)
		})
	}
	for range concurrency {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(total) {
					return
				}
				res, b, err := send(client, p.url, admin, "POST", "/v1/api-keys", map[string]any{"project_id": project, "name": fmt.Sprintf("k%d", i)})
				if err != nil {
					return // the server is gone: this create has no answer
				}
				var k struct{ Key string }
				json.Unmarshal(b, &k)
				mu.Lock()
				if res.StatusCode == http.StatusCreated && k.Key != "" {
					keys = append(keys, k.Key)
				} else {
					select {
					case <-killed:
					default:
						refused = append(refused, fmt.Sprintf("%d %s", res.StatusCode, b))
					}
				}
				mu.Unlock()
				if answered.Add(1) >= int64(total/2) {
					kill()
				}
			}
		})
	}
	wg.Wait()
	kill()
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not die within 30 s of SIGKILL")
	}
	for _, r := range refused {
		t.Errorf("a create before the kill answered %s", r)
	}

	again := start()
	t.Cleanup(func() {
		if again.cmd.ProcessState == nil {
			again.stop(syscall.SIGTERM)
		}
	})
	lost := 0
	for _, k := range keys {
		if code := again.verifyCode(k); code != "VALID" {
			lost++
			if lost <= 5 {
				t.Errorf("a key whose create answered 201 verifies as %s after the kill", code)
			}
		}
	}
	t.Logf("%d creates fired at %d at once, SIGKILL after %d answers: %d answered 201, %d without an answer, %d of the answered lost",
		total, concurrency, total/2, len(keys), int(min(next.Load()-1, int64(total)))-len(keys), lost)
}
