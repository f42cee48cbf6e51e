package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/ratelimit"
)

var errRefused = errors.New("refused")

// nodes returns n limiters sharing one Redis and one prefix, each with a client of its
// own, as n nodes would be. Their timeout is long: these tests are about counts, and a
// machine busy with -race must not fail them by opening a breaker.
func nodes(t *testing.T, n int) []*ratelimit.Redis {
	t.Helper()
	var lims []*ratelimit.Redis
	var prefix string
	for range n {
		client := testRedis(t)
		if prefix == "" {
			// The first limiter's prefix, and its cleanup, serve all.
			_, prefix = newRedis(t, client)
		}
		lims = append(lims, ratelimit.NewRedis(client, ratelimit.RedisOptions{Prefix: prefix, Timeout: 10 * time.Second}))
	}
	return lims
}

// TestRedisLeasesAcrossNodes: three nodes driving one bucket as hard as they can, each
// spending what it leases, let through burst + rate × elapsed, within the 3 % that bench/load
// -accuracy holds the server to. Elapsed ends at the last allowed Take: after it the
// goroutines are only finishing their last calls.
func TestRedisLeasesAcrossNodes(t *testing.T) {
	lims := nodes(t, 3)
	limit := keyward.RateLimit{Rate: 100, Period: time.Second, Burst: 100}
	const run = 1500 * time.Millisecond
	var allowed, refused atomic.Int64
	var last atomic.Int64 // the last allowed Take's end, ns after start
	var wg sync.WaitGroup
	start := time.Now()
	for i := range 3 * len(lims) {
		wg.Go(func() {
			lim := lims[i%len(lims)]
			req := &ratelimit.Request{Bucket: "lineage", Limit: limit, Cost: 1, Slot: new(ratelimit.Slot)}
			// Bounded: a Take is at least one atomic operation, and the run ends.
			for n := 0; n < 1_000_000 && time.Since(start) < run; n++ {
				d, err := lim.Take(context.Background(), req, time.Now())
				if err != nil {
					t.Errorf("Take: %v", err)
					return
				}
				if d.Allowed {
					allowed.Add(1)
					for at := int64(time.Since(start)); ; {
						if prev := last.Load(); prev >= at || last.CompareAndSwap(prev, at) {
							break
						}
					}
				} else {
					refused.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Duration(last.Load())
	want := float64(limit.Burst) + float64(limit.Rate)*elapsed.Seconds()
	got := float64(allowed.Load())
	if refused.Load() == 0 {
		t.Fatalf("nothing was refused in %v (%v allowed): the bucket was not driven past its limit", elapsed, got)
	}
	if ratio := got / want; ratio < 0.97 || ratio > 1.03 {
		t.Errorf("allowed %v in %v, want %.1f ± 3%% (burst %d + %d/s): ratio %.4f", got, elapsed, want, limit.Burst, limit.Rate, ratio)
	}
	t.Logf("allowed %v of %.1f (%d refused) in %v", got, want, refused.Load(), elapsed)
}

// TestRedisLeaseGivenBack: a node that leased cells and went quiet gives them back when
// its lease has lived its life, and another node can then spend the whole burst. The rate
// is one an hour, so nothing refills during the test; the first node's clock is the test's.
func TestRedisLeaseGivenBack(t *testing.T) {
	lims := nodes(t, 2)
	a, b := lims[0], lims[1]
	var clock atomic.Int64
	a.SetLeaseClock(func() time.Duration { return time.Duration(clock.Load()) })
	// Leases of up to burst/2 = 200 cells, whatever the rate, and a quarter of what the
	// bucket has left.
	a.SetLeaseWindow(1000 * time.Hour)
	const burst = 400
	limit := keyward.RateLimit{Rate: 1, Period: time.Hour, Burst: burst}
	reqA := &ratelimit.Request{Bucket: "lineage", Limit: limit, Cost: 1, Slot: new(ratelimit.Slot)}

	// a's first lease is one cell; spent in no time, the next is the most it may hold: a
	// quarter of the 399 cells left, 99.
	for i := range 2 {
		d := take(t, a, reqA, time.Now())
		if want := int64(burst - 1 - i); !d.Allowed || d.Rate.Remaining != want {
			t.Fatalf("a's take %d: %+v; want allowed, %d remaining", i, d, want)
		}
	}
	// takeAll takes with b until refused and returns how many it was allowed.
	reqB := &ratelimit.Request{Bucket: "lineage", Limit: limit, Cost: 1}
	takeAll := func() int {
		t.Helper()
		for n := range burst + 1 {
			if d := take(t, b, reqB, time.Now()); !d.Allowed {
				return n
			}
		}
		t.Fatalf("b was allowed more than the burst, %d", burst)
		return 0
	}
	// a holds 98 cells: b gets the rest.
	const held = (burst-1)/4 - 1
	if got := takeAll(); got != burst-2-held {
		t.Fatalf("b was allowed %d while a held its lease, want %d", got, burst-2-held)
	}
	// a's lease outlives its life: its sweeper gives the cells back.
	clock.Add(int64(a.LeaseLife()))
	eventually(t, "b allowed a cell a gave back", func() error {
		if d := take(t, b, reqB, time.Now()); !d.Allowed {
			return errRefused
		}
		return nil
	})
	if got := takeAll(); got != held-1 {
		t.Errorf("b was allowed %d more once a gave its lease back, want %d", got+1, held)
	}
	// a holds nothing now, and the bucket is empty.
	if d := take(t, a, reqA, time.Now()); d.Allowed {
		t.Errorf("a after the burst was spent: %+v, want refused", d)
	}
}

// TestRedisQuotaExactAcrossNodes: a quota is not leased; 100 Takes at once over three nodes
// on a quota of 50 allow exactly 50.
func TestRedisQuotaExactAcrossNodes(t *testing.T) {
	lims := nodes(t, 3)
	limit := fast
	limit.QuotaLimit, limit.QuotaWindow = 50, keyward.MaxQuotaWindow
	var ok, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			req := &ratelimit.Request{Bucket: "lineage", Limit: limit, Cost: 1}
			d, err := lims[i%len(lims)].Take(context.Background(), req, time.Now())
			switch {
			case err != nil:
				t.Errorf("take %d: %v", i, err)
			case d.Allowed:
				ok.Add(1)
			default:
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 50 || refused.Load() != 50 {
		t.Errorf("the quota allowed %d and refused %d, want 50 and 50", ok.Load(), refused.Load())
	}
}
