package main

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestCrashMidOperationIsAllOrNothing kills the server between two writes of one operation
// (the crash hook of the keyward_crashtest build, at the point KEYWARD_CRASH_AT names) and
// checks, after a restart, that the store holds none of the operation; then runs the same
// operation to the end and checks it holds all of it. On SQLite and on PostgreSQL.
func TestCrashMidOperationIsAllOrNothing(t *testing.T) {
	stores := map[string]func(t *testing.T, crashAt string) *process{
		"sqlite": func() func(t *testing.T, crashAt string) *process {
			var data string
			return func(t *testing.T, crashAt string) *process {
				if data == "" {
					data = filepath.Join(t.TempDir(), "keyward-data")
				}
				return startProcess(t, []string{"--data", data}, crashEnv(crashAt))
			}
		}(),
	}
	if os.Getenv(envPostgres) != "" {
		stores["postgres"] = func() func(t *testing.T, crashAt string) *process {
			var (
				database string
				secret   = "1:" + base64.StdEncoding.EncodeToString([]byte(randomHex(16)))
			)
			return func(t *testing.T, crashAt string) *process {
				if database == "" {
					database = testPostgresDatabase(t).String()
				}
				return startProcess(t, []string{"--data", filepath.Join(t.TempDir(), "unused")},
					append(crashEnv(crashAt), "KEYWARD_DATABASE_URL="+database, "KEYWARD_SERVER_SECRET="+secret))
			}
		}()
	}
	for name, start := range stores {
		t.Run(name, func(t *testing.T) {
			// The operation: a key update that changes the key's row (its name) and its
			// lineage's credits (another table), in that order.
			p := start(t, "")
			token := adminKeyPattern.FindString(p.stderr.String())
			if token == "" {
				t.Fatalf("no bootstrap admin key printed:\n%s", p.stderr.String())
			}
			k := p.mustCall(http.StatusCreated, token, "POST", "/v1/api-keys", map[string]any{
				"name": "before", "credits": map[string]any{"remaining": 10}})
			id := k["id"].(string)
			p.stop(syscall.SIGTERM)

			update := map[string]any{"name": "after", "credits": map[string]any{"remaining": 99}}
			crashing := start(t, "update-api-key:key-written")
			status, body := crashing.callUntilGone(token, "PATCH", "/v1/api-keys/"+id, update)
			if status != 0 {
				t.Fatalf("the update answered %d %s; want the process killed mid-way", status, body)
			}
			if err := waitExit(crashing); err == nil {
				t.Fatal("the crashing process exited cleanly")
			}

			again := start(t, "")
			got := again.mustCall(http.StatusOK, token, "GET", "/v1/api-keys/"+id, nil)
			credits, _ := got["credits"].(map[string]any)
			if got["name"] != "before" || credits == nil || credits["remaining"] != float64(10) {
				t.Errorf("after a crash between the update's writes: name %v, credits %v; want none of the update (before, 10)", got["name"], credits)
			}
			events := again.mustCallList(token, "GET", "/v1/audit-events?action=update-api-key&target_id="+id)
			if len(events) != 0 {
				t.Errorf("the crashed update left %d audit events; want none", len(events))
			}

			again.mustCall(http.StatusOK, token, "PATCH", "/v1/api-keys/"+id, update)
			got = again.mustCall(http.StatusOK, token, "GET", "/v1/api-keys/"+id, nil)
			credits, _ = got["credits"].(map[string]any)
			if got["name"] != "after" || credits == nil || credits["remaining"] != float64(99) {
				t.Errorf("after the update ran to the end: name %v, credits %v; want all of it (after, 99)", got["name"], credits)
			}
			if events := again.mustCallList(token, "GET", "/v1/audit-events?action=update-api-key&target_id="+id); len(events) != 1 {
				t.Errorf("the completed update left %d audit events; want one", len(events))
			}
			again.stop(syscall.SIGTERM)
		})
	}
}

func crashEnv(at string) []string {
	if at == "" {
		return nil
	}
	return []string{"KEYWARD_CRASH_AT=" + at}
}

// callUntilGone sends a request the server is expected to die answering: it returns status 0
// when the connection broke, else what the server answered.
func (p *process) callUntilGone(token, method, path string, body any) (int, []byte) {
	p.t.Helper()
	status, b, err := p.tryCall(token, method, path, body)
	if err != nil {
		return 0, nil
	}
	return status, b
}

// waitExit waits for a process that is exiting by itself and returns how it ended.
func waitExit(p *process) error {
	select {
	case err := <-p.exited:
		return err
	case <-time.After(30 * time.Second):
		p.t.Fatal("the process did not exit within 30s")
		return nil
	}
}
