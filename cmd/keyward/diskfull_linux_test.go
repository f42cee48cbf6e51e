package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// setFileSizeLimit sets RLIMIT_FSIZE of the process pid: past limit bytes, a write to a
// regular file fails with EFBIG, as a full disk fails it with ENOSPC, and SQLite answers
// SQLITE_FULL either way. Go ignores the SIGXFSZ that comes with it.
func setFileSizeLimit(t *testing.T, pid int, limit uint64) {
	t.Helper()
	lim := syscall.Rlimit{Cur: limit, Max: ^uint64(0)}
	if _, _, errno := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), uintptr(syscall.RLIMIT_FSIZE),
		uintptr(unsafe.Pointer(&lim)), 0, 0, 0); errno != 0 {
		t.Skipf("prlimit(RLIMIT_FSIZE): %v", errno)
	}
}

// TestSQLiteDiskFull fills the disk under a running server, as far as its SQLite file can
// tell: its file-size limit is dropped to nothing, so that every write fails as on a full
// disk. Writes answer 503 service_unavailable with Retry-After, never 500; reads and
// verification go on; once there is room again writes succeed without a restart, and the
// attempts refused meanwhile are in the audit log.
func TestSQLiteDiskFull(t *testing.T) {
	p := startProcess(t, []string{"--data", filepath.Join(t.TempDir(), "data"), "--rate-limits", "off"}, nil)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", p.stderr.String())
		}
	})
	admin := adminKeyPattern.FindString(p.stderr.String())
	project := p.mustCall(http.StatusCreated, admin, "POST", "/v1/projects", map[string]any{"name": "full"})["id"].(string)
	created := p.mustCall(http.StatusCreated, admin, "POST", "/v1/api-keys", map[string]any{"project_id": project, "name": "k"})
	keyID, key := created["id"].(string), created["key"].(string)
	if code := p.verifyCode(key); code != "VALID" {
		t.Fatalf("before: %s", code)
	}

	setFileSizeLimit(t, p.cmd.Process.Pid, 0)
	writes := []struct {
		method, path string
		body         any
	}{
		{"POST", "/v1/projects", map[string]any{"name": "refused"}},
		{"POST", "/v1/api-keys", map[string]any{"project_id": project, "name": "refused"}},
		{"PATCH", "/v1/api-keys/" + keyID, map[string]any{"name": "renamed"}},
		{"POST", "/v1/api-keys/" + keyID + "/rotate", map[string]any{"grace_period_seconds": 60}},
		{"DELETE", "/v1/api-keys/" + keyID, nil},
	}
	counts := map[int]int{}
	for range 3 {
		for _, w := range writes {
			res, b, err := send(http.DefaultClient, p.url, admin, w.method, w.path, w.body)
			if err != nil {
				t.Fatalf("%s %s with the disk full: no answer: %v", w.method, w.path, err)
			}
			counts[res.StatusCode]++
			if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), `"code":"service_unavailable"`) || res.Header.Get("Retry-After") == "" {
				t.Errorf("%s %s with the disk full = %d %s (Retry-After %q), want 503 service_unavailable with Retry-After",
					w.method, w.path, res.StatusCode, b, res.Header.Get("Retry-After"))
			}
		}
	}
	if n := len(p.mustCallList(admin, "GET", "/v1/projects")); n != 1 {
		t.Errorf("projects listed with the disk full: %d, want 1", n)
	}
	if code := p.verifyCode(key); code != "VALID" {
		t.Errorf("verification with the disk full: %s, want VALID (the key was not revoked)", code)
	}

	setFileSizeLimit(t, p.cmd.Process.Pid, ^uint64(0))
	freed := time.Now()
	var status int
	for deadline := time.Now().Add(30 * time.Second); ; {
		if status, _ = p.call(admin, "POST", "/v1/projects", map[string]any{"name": "after"}); status == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("writes did not succeed within 30 s of room on the disk: last %d", status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	recovery := time.Since(freed)
	var refused int
	waitForBound(t, "the refused attempts in the audit log", 30*time.Second, func() bool {
		status, b := p.call(admin, "GET", "/v1/audit-events?outcome=failure&limit=100", nil)
		refused = strings.Count(string(b), `"error_code":"service_unavailable"`)
		return status == http.StatusOK && refused == 3*len(writes)
	})
	if code := p.verifyCode(key); code != "VALID" {
		t.Errorf("after: %s", code)
	}
	var summary []string
	for _, s := range []int{200, 201, 204, 500, 503} {
		if counts[s] > 0 {
			summary = append(summary, fmt.Sprintf("%d×%d", counts[s], s))
		}
	}
	t.Logf("disk full: %d writes answered %s; writes back %s after room was made; %d refused attempts audited",
		3*len(writes), strings.Join(summary, " "), recovery.Round(time.Millisecond), refused)
}
