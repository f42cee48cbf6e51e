package ratelimit_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/ratelimit"
)

// t0 is the synthetic clock's start: noon UTC, an hour and a day boundary away.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newMemory(t testing.TB) *ratelimit.Memory {
	t.Helper()
	m := ratelimit.NewMemory()
	t.Cleanup(m.Close)
	return m
}

func take(t testing.TB, l ratelimit.Limiter, req *ratelimit.Request, now time.Time) ratelimit.Decision {
	t.Helper()
	d, err := l.Take(context.Background(), req, now)
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	return d
}

// step is one Take in a sequence, at t0+at, and the decision it must get.
type step struct {
	name string
	at   time.Duration
	want ratelimit.Decision
}

func runSteps(t *testing.T, l ratelimit.Limiter, req *ratelimit.Request, steps []step) {
	t.Helper()
	for _, s := range steps {
		got := take(t, l, req, t0.Add(s.at))
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Fatalf("%s: decision (-want +got):\n%s", s.name, diff)
		}
	}
}

func rate(remaining int64, reset time.Duration) ratelimit.Window {
	return ratelimit.Window{Limit: 5, Remaining: remaining, Reset: reset}
}

func TestMemoryGCRA(t *testing.T) {
	// T = 100ms, tau = 500ms.
	const T = 100 * time.Millisecond
	req := &ratelimit.Request{Bucket: "lineage", Limit: keyward.RateLimit{Rate: 10, Period: time.Second, Burst: 5}}
	runSteps(t, newMemory(t), req, []step{
		{"burst 1", 0, ratelimit.Decision{Allowed: true, Rate: rate(4, T)}},
		{"burst 2", 0, ratelimit.Decision{Allowed: true, Rate: rate(3, 2*T)}},
		{"burst 3", 0, ratelimit.Decision{Allowed: true, Rate: rate(2, 3*T)}},
		{"burst 4", 0, ratelimit.Decision{Allowed: true, Rate: rate(1, 4*T)}},
		{"burst 5", 0, ratelimit.Decision{Allowed: true, Rate: rate(0, 5*T)}},
		{"past burst", 0, ratelimit.Decision{Rate: rate(0, 5*T), RetryAfter: T}},
		{"refused again", 0, ratelimit.Decision{Rate: rate(0, 5*T), RetryAfter: T}},
		{"1ns early", T - 1, ratelimit.Decision{Rate: rate(0, 4*T+1), RetryAfter: 1}},
		{"after T", T, ratelimit.Decision{Allowed: true, Rate: rate(0, 5*T)}},
		{"only one", T, ratelimit.Decision{Rate: rate(0, 5*T), RetryAfter: T}},
		{"partly refilled", 3*T + T/2, ratelimit.Decision{Allowed: true, Rate: rate(1, 3*T+T/2)}},
		{"partly refilled 2", 3*T + T/2, ratelimit.Decision{Allowed: true, Rate: rate(0, 4*T+T/2)}},
		{"partly refilled 3", 3*T + T/2, ratelimit.Decision{Rate: rate(0, 4*T+T/2), RetryAfter: T / 2}},
		{"long after", time.Hour, ratelimit.Decision{Allowed: true, Rate: rate(4, T)}},
	})
}

func TestMemoryQuota(t *testing.T) {
	quota := func(remaining int64, reset time.Duration) ratelimit.Window {
		return ratelimit.Window{Limit: 3, Remaining: remaining, Reset: reset}
	}
	rate := func(remaining int64, reset time.Duration) ratelimit.Window {
		return ratelimit.Window{Limit: 1000, Remaining: remaining, Reset: reset}
	}
	const T = time.Millisecond
	// Windows are hours from the epoch: t0 is at one's start, and t0-1m a minute before
	// the next one starts.
	req := &ratelimit.Request{Bucket: "lineage", Limit: keyward.RateLimit{
		Rate: 1000, Period: time.Second, Burst: 1000, QuotaLimit: 3, QuotaWindow: time.Hour}}
	runSteps(t, newMemory(t), req, []step{
		{"first", -time.Minute, ratelimit.Decision{Allowed: true, Rate: rate(999, T), Quota: quota(2, time.Minute)}},
		{"second", -time.Minute, ratelimit.Decision{Allowed: true, Rate: rate(998, 2*T), Quota: quota(1, time.Minute)}},
		{"third", -time.Minute, ratelimit.Decision{Allowed: true, Rate: rate(997, 3*T), Quota: quota(0, time.Minute)}},
		// The rate has room; the quota refuses, and nothing is consumed.
		{"over quota", -time.Minute, ratelimit.Decision{Rate: rate(997, 3*T), Quota: quota(0, time.Minute), RetryAfter: time.Minute}},
		{"still over", -time.Minute, ratelimit.Decision{Rate: rate(997, 3*T), Quota: quota(0, time.Minute), RetryAfter: time.Minute}},
		{"1ns before the window ends", -1, ratelimit.Decision{Rate: rate(1000, 0), Quota: quota(0, 1), RetryAfter: 1}},
		{"next window", 0, ratelimit.Decision{Allowed: true, Rate: rate(999, T), Quota: quota(2, time.Hour)}},
	})
}

func TestMemoryQuotaDayIsUTCDay(t *testing.T) {
	req := &ratelimit.Request{Bucket: "lineage", Limit: keyward.RateLimit{
		Rate: 1, Period: time.Second, Burst: 1, QuotaLimit: 1, QuotaWindow: 24 * time.Hour}}
	m := newMemory(t)
	// 23:59:30 in UTC+2 is 21:59:30 UTC: 2h30s to the UTC day's end.
	late := time.Date(2026, 3, 1, 23, 59, 30, 0, time.FixedZone("UTC+2", 2*3600))
	if d := take(t, m, req, late); !d.Allowed || d.Quota.Reset != 2*time.Hour+30*time.Second {
		t.Fatalf("first: got %+v, want allowed with quota reset 2h0m30s", d)
	}
	if d := take(t, m, req, late.Add(2*time.Hour)); d.Allowed || d.RetryAfter != 30*time.Second {
		t.Fatalf("same UTC day: got %+v, want refused, retry after 30s", d)
	}
	if d := take(t, m, req, late.Add(2*time.Hour+30*time.Second)); !d.Allowed || d.Quota.Reset != 24*time.Hour {
		t.Fatalf("next UTC day: got %+v, want allowed with quota reset 24h", d)
	}
}

func TestMemoryRefusedConsumesNothing(t *testing.T) {
	// Burst 1: refusals by the rate must not spend the quota, nor push the TAT.
	req := &ratelimit.Request{Bucket: "lineage", Limit: keyward.RateLimit{
		Rate: 1, Period: time.Second, Burst: 1, QuotaLimit: 5, QuotaWindow: time.Hour}}
	m := newMemory(t)
	take(t, m, req, t0)
	for i := range 10 {
		if d := take(t, m, req, t0.Add(time.Duration(i)*time.Millisecond)); d.Allowed {
			t.Fatalf("take %d within T: allowed, want refused", i)
		}
	}
	d := take(t, m, req, t0.Add(time.Second))
	if !d.Allowed || d.Quota.Remaining != 3 || d.Rate.Reset != time.Second {
		t.Fatalf("after T: got %+v, want allowed with 3 of the quota left and reset 1s", d)
	}
}

func TestMemorySimulation(t *testing.T) {
	// 60 requests a second for 10 seconds against 30 a second with a burst of 30: the burst,
	// then one every T.
	req := &ratelimit.Request{Bucket: "lineage", Limit: keyward.RateLimit{Rate: 30, Period: time.Second, Burst: 30}}
	m := newMemory(t)
	allowed := 0
	for i := range 600 {
		if take(t, m, req, t0.Add(time.Duration(int64(i)*int64(time.Second)/60))).Allowed {
			allowed++
		}
	}
	if allowed < 329 || allowed > 331 {
		t.Errorf("allowed %d of 600, want 330 ± 1", allowed)
	}
}

func TestMemoryConcurrentBurst(t *testing.T) {
	tests := []struct {
		name  string
		limit keyward.RateLimit
		want  int64
	}{
		{"rate", keyward.RateLimit{Rate: 1, Period: time.Hour, Burst: 100}, 100},
		{"quota", keyward.RateLimit{Rate: 1000, Period: time.Second, Burst: 1000, QuotaLimit: 77, QuotaWindow: time.Hour}, 77},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemory(t)
			var allowed atomic.Int64
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					req := &ratelimit.Request{Bucket: "lineage", Limit: tt.limit}
					for range 20 {
						d, _ := m.Take(context.Background(), req, t0)
						if d.Allowed {
							allowed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			if got := allowed.Load(); got != tt.want {
				t.Errorf("allowed %d of 1000 at one instant, want %d", got, tt.want)
			}
		})
	}
}

func TestMemorySweep(t *testing.T) {
	m := newMemory(t)
	rated := &ratelimit.Request{Bucket: "rated", Limit: keyward.RateLimit{Rate: 1, Period: time.Second, Burst: 2}}
	quota := &ratelimit.Request{Bucket: "quota", Limit: keyward.RateLimit{
		Rate: 1, Period: time.Second, Burst: 1, QuotaLimit: 1, QuotaWindow: time.Hour}}
	// The sweeper's clock is the latest now Take has seen; clock moves it.
	clock := &ratelimit.Request{Bucket: "clock", Limit: keyward.RateLimit{Rate: 1000, Period: time.Second, Burst: 1}}

	take(t, m, rated, t0)
	take(t, m, quota, t0)
	if n := m.Sweep(); n != 0 || m.Len() != 2 {
		t.Fatalf("at t0: dropped %d, %d left; want 0 dropped, 2 left", n, m.Len())
	}
	take(t, m, clock, t0.Add(time.Second))
	// rated's TAT (t0+1s) has passed; quota's window runs to 13:00.
	if n := m.Sweep(); n != 1 || m.Len() != 2 {
		t.Fatalf("at t0+1s: dropped %d, %d left; want 1 dropped, 2 left", n, m.Len())
	}
	take(t, m, clock, t0.Add(time.Hour))
	if n := m.Sweep(); n != 1 || m.Len() != 1 {
		t.Fatalf("at 13:00: dropped %d, %d left; want 1 dropped, 1 left", n, m.Len())
	}
	// A dropped bucket was at rest: it starts afresh.
	if d := take(t, m, rated, t0.Add(time.Hour)); d.Rate.Remaining != 1 {
		t.Errorf("rated after the sweep: %d remaining, want 1", d.Rate.Remaining)
	}
}

func TestMemorySweepRace(t *testing.T) {
	// Each round is 10s after the last, so every bucket is at rest when it starts. The
	// round's first Take moves the sweeper's clock, and the sweeper then races the others
	// to the buckets, dropping those they have not reached yet. An update lost to the
	// sweeper would let a bucket allow more than its burst in the round.
	const (
		buckets    = 8
		goroutines = 8
		rounds     = 200
		burst      = 3
	)
	limit := keyward.RateLimit{Rate: 1, Period: time.Second, Burst: burst}
	m := newMemory(t)
	dropped := 0
	for r := range rounds {
		now := t0.Add(time.Duration(r) * 10 * time.Second)
		take(t, m, &ratelimit.Request{Bucket: "clock", Limit: limit}, now)
		var allowed [buckets]atomic.Int64
		var takers, sweeper sync.WaitGroup
		var done atomic.Bool
		sweeper.Go(func() {
			for !done.Load() {
				dropped += m.Sweep()
			}
		})
		for g := range goroutines {
			takers.Go(func() {
				req := &ratelimit.Request{Limit: limit}
				for i := range 2 * buckets {
					b := (g + i) % buckets
					req.Bucket = fmt.Sprint("lineage-", b)
					d, _ := m.Take(context.Background(), req, now)
					if d.Allowed {
						allowed[b].Add(1)
					}
				}
			})
		}
		takers.Wait()
		done.Store(true)
		sweeper.Wait()
		for b := range allowed {
			if got := allowed[b].Load(); got != burst {
				t.Fatalf("round %d, bucket %d: allowed %d, want %d", r, b, got, burst)
			}
		}
	}
	t.Logf("the sweeper dropped %d buckets while they were in use", dropped)
}

func TestMemoryCloseStopsSweeper(t *testing.T) {
	before := runtime.NumGoroutine()
	m := ratelimit.NewMemory()
	m.Close()
	m.Close() // a second Close is harmless
	// The sweeper has returned; its goroutine may take a moment to be gone.
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 100 {
			t.Fatalf("%d goroutines after Close, want at most %d", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMemoryIgnoresCredits(t *testing.T) {
	m := newMemory(t)
	if m.KeepsCredits() {
		t.Fatal("KeepsCredits: got true, want false")
	}
	req := &ratelimit.Request{Bucket: "lineage", Limit: keyward.RateLimit{Rate: 1, Period: time.Second, Burst: 1},
		Credits: &keyward.Credits{Remaining: 10}, Cost: 1}
	if d := take(t, m, req, t0); !d.Allowed || d.CreditsOK || d.CreditsRemaining != 0 {
		t.Errorf("got %+v, want allowed with no credits reported", d)
	}
}

func TestMemoryOddLimits(t *testing.T) {
	tests := []struct {
		name  string
		limit keyward.RateLimit
		want  int // allowed at one instant
	}{
		// tau = Burst*T would be 2739 years; it is capped at about 103 days.
		{"burst beyond the cap", keyward.RateLimit{Rate: 1, Period: 24 * time.Hour, Burst: 1_000_000}, 103},
		{"zero limit", keyward.RateLimit{}, 1},
		{"fastest", keyward.RateLimit{Rate: keyward.MaxRateLimitRate, Period: time.Second, Burst: 3}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemory(t)
			req := &ratelimit.Request{Bucket: "lineage", Limit: tt.limit}
			allowed := 0
			for range 1000 {
				if take(t, m, req, t0).Allowed {
					allowed++
				}
			}
			if allowed != tt.want {
				t.Errorf("allowed %d at once, want %d", allowed, tt.want)
			}
		})
	}
}

func TestMemoryTakeAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	m := newMemory(t)
	req := &ratelimit.Request{Bucket: "01JQ3Z7X9K2M4N6P8R0T2V4W6Y", Limit: keyward.RateLimit{
		Rate: 100, Period: time.Second, Burst: 100, QuotaLimit: 1_000_000, QuotaWindow: 24 * time.Hour}}
	now := t0
	take(t, m, req, now)
	allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(10 * time.Millisecond)
		_, _ = m.Take(context.Background(), req, now)
	})
	if allocs != 0 {
		t.Errorf("Take on an existing bucket: %v allocations, want 0", allocs)
	}
}

func BenchmarkMemoryTake(b *testing.B) {
	m := newMemory(b)
	// Exactly one T per iteration: always allowed.
	req := &ratelimit.Request{Bucket: "01JQ3Z7X9K2M4N6P8R0T2V4W6Y", Limit: keyward.RateLimit{Rate: 100, Period: time.Second, Burst: 100}}
	now := t0
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(10 * time.Millisecond)
		if d, _ := m.Take(ctx, req, now); !d.Allowed {
			b.Fatal("refused")
		}
	}
}

func BenchmarkMemoryTakeParallel(b *testing.B) {
	m := newMemory(b)
	limit := keyward.RateLimit{Rate: keyward.MaxRateLimitRate, Period: time.Second, Burst: keyward.MaxRateLimitRate}
	ids := make([]string, 10_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("01JQ3Z7X9K2M4N6P8R%08d", i)
		take(b, m, &ratelimit.Request{Bucket: ids[i], Limit: limit}, t0)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		req := &ratelimit.Request{Limit: limit}
		i := int(next.Add(1)) * 7919
		now := t0
		for pb.Next() {
			i++
			now = now.Add(time.Microsecond)
			req.Bucket = ids[i%len(ids)]
			_, _ = m.Take(ctx, req, now)
		}
	})
}
