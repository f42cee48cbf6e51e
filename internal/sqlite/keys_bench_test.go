package sqlite

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// BenchmarkKeyByHash measures the store's half of a verification cache miss: reading a key
// by its hash, with its credits and project accesses, from a database of 1 000 keys (half of
// them with a project access), from every parallel goroutine.
func BenchmarkKeyByHash(b *testing.B) {
	ctx := context.Background()
	s, acct, proj, other := benchStore(b)
	hashes := make([][]byte, 1000)
	keys := make([]*keyward.Key, len(hashes))
	for i := range keys {
		hashes[i] = make([]byte, 32)
		rand.Read(hashes[i])
		keys[i] = &keyward.Key{ID: keyward.NewID(), AccountID: acct.ID, ProjectID: proj.ID, Name: fmt.Sprint("k", i),
			Prefix: "kw_bench", Last4: "abcd", Hash: hashes[i], HashScheme: "hmac-sha256:1",
			Scopes: []string{"read"}, RateLimitTier: keyward.TierStandard, CreatedAt: acct.CreatedAt, CreatedBy: acct.ID}
		if i%2 == 1 {
			keys[i].ProjectAccesses = []keyward.ProjectAccess{{ProjectID: other.ID, RoleID: "viewer"}}
		}
	}
	if err := s.CreateKeys(ctx, keys); err != nil {
		b.Fatal(err)
	}
	var next atomic.Uint64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1) * 7919)
		for pb.Next() {
			if _, err := s.KeyByHash(ctx, hashes[i%len(hashes)]); err != nil {
				panic(err)
			}
			i++
		}
	})
}

// benchStore opens a store in a temporary directory, closed when b ends, with an account and
// two of its projects.
func benchStore(b *testing.B) (s *Store, acct *keyward.Account, proj, other *keyward.Project) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "keyward.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	now := time.Now().UTC().Truncate(time.Minute)
	acct = &keyward.Account{ID: keyward.NewID(), Name: "acme", KeyPrefix: "kw", CreatedAt: now}
	proj = &keyward.Project{ID: keyward.NewID(), AccountID: acct.ID, Name: "p", KeyPrefix: "kw", CreatedAt: now}
	other = &keyward.Project{ID: keyward.NewID(), AccountID: acct.ID, Name: "q", KeyPrefix: "kw", CreatedAt: now}
	if err := s.CreateAccount(ctx, acct); err != nil {
		b.Fatal(err)
	}
	for _, p := range []*keyward.Project{proj, other} {
		if err := s.CreateProject(ctx, p); err != nil {
			b.Fatal(err)
		}
	}
	return s, acct, proj, other
}

// BenchmarkTouchKeys measures what a flush's last-used write costs a key: 20 000 keys each
// used again since the last write, in one TouchKeys call as the verifier makes it. The
// figure is per key.
func BenchmarkTouchKeys(b *testing.B) {
	ctx := context.Background()
	s, acct, proj, _ := benchStore(b)
	keys := benchKeys(b, s, proj, 20_000)
	uses := make([]keyward.KeyUse, len(keys))
	b.ResetTimer()
	for n := range b.N {
		for i, k := range keys {
			uses[i] = keyward.KeyUse{KeyID: k.ID, At: acct.CreatedAt.Add(time.Duration(n+1) * time.Minute)}
		}
		if err := s.TouchKeys(ctx, uses); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/key")
}

// benchKeys stores n plain keys of proj and returns them.
func benchKeys(b *testing.B, s *Store, proj *keyward.Project, n int) []*keyward.Key {
	keys := make([]*keyward.Key, n)
	for i := range keys {
		hash := make([]byte, 32)
		rand.Read(hash)
		keys[i] = &keyward.Key{ID: keyward.NewID(), AccountID: proj.AccountID, ProjectID: proj.ID, Name: fmt.Sprint("k", i),
			Prefix: "kw_bench", Last4: "abcd", Hash: hash, HashScheme: "hmac-sha256:1",
			Scopes: []string{"read"}, RateLimitTier: keyward.TierStandard, CreatedAt: proj.CreatedAt, CreatedBy: proj.AccountID}
	}
	if err := s.CreateKeys(context.Background(), keys); err != nil {
		b.Fatal(err)
	}
	return keys
}
