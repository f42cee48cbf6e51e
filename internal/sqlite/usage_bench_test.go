package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// BenchmarkAddUsage measures what a minute's usage write costs a key: the counts of 20 000
// keys, one outcome each, written as the verifier writes them (batches of 2 000), into a
// table that already holds earlier minutes of the same keys. The figure is per count.
func BenchmarkAddUsage(b *testing.B) {
	ctx := context.Background()
	s, acct, proj, _ := benchStore(b)
	now := acct.CreatedAt
	keys := benchKeys(b, s, proj, 20_000)
	minute := 0
	write := func() {
		counts := make([]keyward.UsageCount, len(keys))
		for i, k := range keys {
			counts[i] = keyward.UsageCount{KeyID: k.ID, AccountID: acct.ID, ProjectID: proj.ID,
				Minute: now.Add(time.Duration(minute) * time.Minute), Outcome: keyward.VerifyValid, Count: int64(i%7 + 1)}
		}
		minute++
		for len(counts) > 0 {
			n := min(len(counts), 2000)
			if err := s.AddUsage(ctx, counts[:n]); err != nil {
				b.Fatal(err)
			}
			counts = counts[n:]
		}
	}
	write() // a minute already stored
	b.ResetTimer()
	for range b.N {
		write()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(keys)), "ns/count")
}
