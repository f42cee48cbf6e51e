package sqlite

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
)

// TestBackupAndRestore backs up an open store (its writes still in the WAL), restores the
// copy over another database, and checks what each step refuses.
func TestBackupAndRestore(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "keyward.db")
	s := open(t, path)
	hasher, err := keyformat.NewHasher(keyformat.Secret{Version: 3, Value: make([]byte, keyformat.SecretMinLen)})
	if err != nil {
		t.Fatal(err)
	}
	svc := keyward.NewService(s, hasher)
	for _, name := range []string{"a", "b"} {
		if _, _, err := svc.CreateAdminKey(ctx, keyward.DefaultAccountName, name); err != nil {
			t.Fatalf("CreateAdminKey: %v", err)
		}
	}
	if inUse, err := InUse(ctx, path); err != nil || !inUse {
		t.Errorf("InUse of an open store = %v, %v; want true", inUse, err)
	}

	backup := filepath.Join(dir, "backup.db")
	rep, err := Backup(ctx, path, backup)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	if rep.AdminKeys != 2 || !slices.Equal(rep.HashSchemes, []string{"hmac-sha256:3"}) || rep.Bytes == 0 {
		t.Errorf("Backup report = %+v, want 2 admin keys under hmac-sha256:3", rep)
	}
	if info, err := os.Stat(backup); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, %v; want mode 0600", info, err)
	}
	if _, err := Backup(ctx, path, backup); err == nil {
		t.Errorf("a second Backup to the same file overwrote it")
	}
	if _, err := Backup(ctx, filepath.Join(dir, "nothing.db"), filepath.Join(dir, "b2.db")); keyward.ErrorCode(err) != keyward.ENotFound {
		t.Errorf("Backup of a missing database = %v, want ENotFound", err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp-*")); len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}

	junk := filepath.Join(dir, "junk.db")
	os.WriteFile(junk, []byte("not a database, not at all, and long enough to be read as one"), 0o600)
	if _, err := CheckBackup(ctx, junk); err == nil {
		t.Errorf("CheckBackup accepted a file that is not a database")
	}

	// Restore over another store's files, closed, with a WAL left beside them.
	target := filepath.Join(dir, "other", "keyward.db")
	other := open(t, target)
	other.Close()
	if inUse, err := InUse(ctx, target); err != nil || inUse {
		t.Errorf("InUse of a closed store = %v, %v; want false", inUse, err)
	}
	os.WriteFile(target+"-wal", []byte("stale"), 0o600)
	if _, err := Restore(ctx, backup, target, ".replaced-test"); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if _, err := os.Stat(target + "-wal"); err == nil {
		t.Errorf("a WAL is left beside the restored database")
	}
	if aside, _ := filepath.Glob(target + ".replaced-*"); len(aside) != 2 {
		t.Errorf("the replaced database and its WAL kept aside: %v, want 2 files", aside)
	}
	restored := open(t, target)
	if n, err := restored.CountAdminKeys(ctx); err != nil || n != 2 {
		t.Errorf("restored store has %d admin keys (%v), want 2", n, err)
	}
}
