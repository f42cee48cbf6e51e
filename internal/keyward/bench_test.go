package keyward_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/sqlite"
)

// BenchmarkCreate measures issuing a key end to end below HTTP: validation, generation,
// hashing and a durable insert into a real SQLite file (synchronous=FULL, so each create
// waits for its fsync).
func BenchmarkCreate(b *testing.B) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "keyward.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	hasher, err := keyformat.NewHasher(keyformat.Secret{Version: 1, Value: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		b.Fatal(err)
	}
	svc := keyward.NewService(store, hasher)
	admin, _, err := svc.CreateAdminKey(ctx, "bench", "root")
	if err != nil {
		b.Fatal(err)
	}
	owner := keyward.Principal{AccountID: admin.AccountID, Kind: keyward.KindAdminKey, ID: admin.ID, Permissions: keyward.Permissions{"*"}}
	proj, err := svc.CreateProject(ctx, owner, keyward.CreateProjectInput{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	in := keyward.CreateKeyInput{ProjectID: proj.ID, Name: "bench", Scopes: []string{"read", "write"}}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := svc.CreateKey(ctx, owner, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
