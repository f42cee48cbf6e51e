package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestBackupUnderWriteLoad backs up a running server's store while clients create keys as fast
// as it takes them, restores the backup into a new data directory, starts a server on it, and
// checks that every key answered 201 before the backup started verifies VALID there, and that
// no key asked for after the backup finished is in it.
func TestBackupUnderWriteLoad(t *testing.T) {
	const (
		writers      = 4
		beforeBackup = 1000 // keys answered 201 before the backup starts
		maxKeys      = 3000 // a bound on the load, whatever the machine's speed
	)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	p := startServer(t, data)
	token := adminKeyPattern.FindString(p.stderr.String())
	projectID := p.mustCall(http.StatusCreated, token, "POST", "/v1/projects", map[string]any{"name": "backup"})["id"].(string)

	// created records each key with when its request was sent, in the order of the 201s.
	type created struct {
		key  string
		sent time.Time
	}
	var (
		mu       sync.Mutex
		keys     []created
		failures []string
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	deadline := time.Now().Add(2 * time.Minute)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				mu.Lock()
				n := len(keys)
				mu.Unlock()
				if n >= maxKeys || time.Now().After(deadline) {
					return
				}
				sent := time.Now()
				status, b, err := p.tryCall(token, "POST", "/v1/api-keys", map[string]any{"project_id": projectID, "name": fmt.Sprintf("w%d-%d", w, i)})
				var k struct{ Key string }
				if err != nil || status != http.StatusCreated || json.Unmarshal(b, &k) != nil {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%d %s %v", status, b, err))
					mu.Unlock()
					return
				}
				mu.Lock()
				keys = append(keys, created{k.Key, sent})
				mu.Unlock()
			}
		}()
	}
	waitFor := func(n int) {
		t.Helper()
		for {
			mu.Lock()
			got, failed := len(keys), len(failures)
			mu.Unlock()
			if got >= n || failed > 0 || time.Now().After(deadline) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(beforeBackup)

	mu.Lock()
	answeredBefore := len(keys)
	mu.Unlock()
	backup := filepath.Join(dir, "keyward-backup.db")
	out, err := runKeyward(t, "backup", "--to", backup, "--data", data)
	backupEnded := time.Now()
	if err != nil {
		close(stop)
		wg.Wait()
		t.Fatalf("keyward backup: %v\n%s", err, out)
	}
	mu.Lock()
	answeredByEnd := len(keys)
	mu.Unlock()
	waitFor(answeredByEnd + 300) // the load goes on after the backup too
	close(stop)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d creates failed under load, the first: %s", len(failures), failures[0])
	}
	if !strings.Contains(out, "WARNING") || !strings.Contains(out, backup+".secret") {
		t.Errorf("keyward backup did not warn about the secret:\n%s", out)
	}
	if info, err := os.Stat(backup + ".secret"); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the secret file: %v %v, want mode 0600", info, err)
	}

	restored := filepath.Join(dir, "restored")
	if out, err := runKeyward(t, "restore", "--from", backup, "--secret", backup+".secret", "--data", restored); err != nil {
		t.Fatalf("keyward restore: %v\n%s", err, out)
	}
	p.stop(syscall.SIGTERM)
	again := startServer(t, restored)
	again.mustCall(http.StatusOK, token, "GET", "/v1/projects", nil)

	var valid, lost, during, inBackupAfter, laterFound, later int
	for i, k := range keys {
		code := again.verifyCode(k.key)
		switch {
		case i < answeredBefore:
			if code == "VALID" {
				valid++
			} else {
				lost++
				t.Errorf("key %d, answered 201 before the backup started, verifies as %s after the restore", i, code)
			}
		case k.sent.After(backupEnded):
			later++
			if code != "NOT_FOUND" {
				laterFound++
				t.Errorf("key %d, asked for after the backup ended, verifies as %s after the restore", i, code)
			}
		default: // asked for before the backup ended: in it or not, both are consistent
			during++
			if code == "VALID" {
				inBackupAfter++
			}
		}
	}
	t.Logf("%d keys answered 201 before the backup started: %d VALID after the restore, %d lost; "+
		"%d asked for before it ended and answered after it started (%d of them in it); %d asked for after it ended, %d of them found",
		answeredBefore, valid, lost, during, inBackupAfter, later, laterFound)

	// What restore refuses: a directory in use, one not empty without --force, and a secret
	// that lacks the version the backup's keys were hashed under.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", restored}, "is not empty"},
		{[]string{"--data", restored, "--force"}, "open in another process"},
		{[]string{"--data", filepath.Join(dir, "new"), "--secret", writeFile(t, dir, "other.secret", "7:"+strings.Repeat("A", 44))}, "version(s) [1]"},
	} {
		args := append([]string{"restore", "--from", backup, "--secret", backup + ".secret"}, c.args...)
		if out, err := runKeyward(t, args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("keyward %s = %v, want an error saying %q\n%s", strings.Join(args, " "), err, c.want, out)
		}
	}
	if out, err := runKeyward(t, "healthcheck", "--url", again.url+"/readyz"); err != nil || !strings.Contains(out, "ready") {
		t.Errorf("keyward healthcheck of a ready server = %v\n%s", err, out)
	}
	again.stop(syscall.SIGTERM)
	if _, err := runKeyward(t, "healthcheck", "--url", again.url+"/readyz", "--timeout", "2s"); err == nil {
		t.Errorf("keyward healthcheck of a stopped server succeeded")
	}
}

// TestBackupRefusesPostgres checks that backup and restore point a PostgreSQL store to pg_dump
// rather than copying an unused data directory.
func TestBackupRefusesPostgres(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KEYWARD_DATABASE_URL", "postgres://keyward@127.0.0.1:1/keyward")
	for _, args := range [][]string{
		{"backup", "--to", filepath.Join(dir, "b.db")},
		{"restore", "--from", filepath.Join(dir, "b.db"), "--secret", filepath.Join(dir, "b.db.secret"), "--data", filepath.Join(dir, "data")},
	} {
		if _, err := runKeyward(t, args...); err == nil || !strings.Contains(err.Error(), "pg_dump") {
			t.Errorf("keyward %s = %v, want a refusal naming pg_dump", strings.Join(args, " "), err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "b.db")); err == nil {
		t.Errorf("a backup file was written for a PostgreSQL store")
	}
}

// writeFile writes content to dir/name, mode 0600, and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
