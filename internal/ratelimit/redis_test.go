package ratelimit_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/ratelimit"
)

// testRedis connects to the Redis that KEYWARD_TEST_REDIS names, or skips. edit, when
// given, changes the client's options.
func testRedis(t testing.TB, edit ...func(*redis.Options)) *redis.Client {
	t.Helper()
	url := os.Getenv("KEYWARD_TEST_REDIS")
	if url == "" {
		t.Skip("KEYWARD_TEST_REDIS is not set")
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("KEYWARD_TEST_REDIS: %v", err)
	}
	for _, f := range edit {
		f(opts)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	return client
}

// newRedis returns a limiter on client with a prefix of its own, whose keys it deletes at
// the end, so that parallel runs never meet.
func newRedis(t testing.TB, client *redis.Client) (*ratelimit.Redis, string) {
	t.Helper()
	prefix := "keyward-test:" + rand.Text() + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := client.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("deleting the test's keys: %v", err)
		}
	})
	return ratelimit.NewRedis(client, ratelimit.RedisOptions{Prefix: prefix}), prefix
}

// slow allows 5 at once and then one an hour: nothing refills during a test.
var slow = keyward.RateLimit{Rate: 1, Period: time.Hour, Burst: 5}

// fast never refuses in a test.
var fast = keyward.RateLimit{Rate: keyward.MaxRateLimitRate, Period: time.Second, Burst: keyward.MaxRateLimitRate}

func TestRedisRate(t *testing.T) {
	lim, _ := newRedis(t, testRedis(t))
	if !lim.KeepsCredits() {
		t.Fatal("KeepsCredits: got false, want true")
	}
	req := &ratelimit.Request{Bucket: "lineage", Limit: slow}
	allowed := 0
	for i := range 20 {
		d := take(t, lim, req, time.Now())
		if d.Rate.Limit != 5 || d.Quota != (ratelimit.Window{}) {
			t.Fatalf("take %d: windows %+v, %+v; want a rate limit of 5 and no quota", i, d.Rate, d.Quota)
		}
		if d.Allowed {
			allowed++
			if want := int64(5 - allowed); d.Rate.Remaining != want || d.RetryAfter != 0 {
				t.Errorf("take %d: %d remaining, retry after %v; want %d, 0", i, d.Rate.Remaining, d.RetryAfter, want)
			}
			if most := time.Duration(allowed) * time.Hour; d.Rate.Reset <= 0 || d.Rate.Reset > most {
				t.Errorf("take %d: reset %v, want in (0, %v]", i, d.Rate.Reset, most)
			}
			continue
		}
		if d.Rate.Remaining != 0 || d.RetryAfter <= 0 || d.RetryAfter > time.Hour {
			t.Errorf("take %d: refused with %d remaining, retry after %v; want 0, in (0, 1h]", i, d.Rate.Remaining, d.RetryAfter)
		}
	}
	if allowed != 5 {
		t.Errorf("allowed %d of 20, want 5", allowed)
	}
}

func TestRedisExactSpacing(t *testing.T) {
	client := testRedis(t)
	lim, prefix := newRedis(t, client)
	// T = 333333333ns, not a whole number of Redis's microseconds.
	const T = int64(time.Second / 3)
	req := &ratelimit.Request{Bucket: "lineage", Limit: keyward.RateLimit{Rate: 3, Period: time.Second, Burst: 3}}
	for i := range 3 {
		if d := take(t, lim, req, time.Now()); !d.Allowed {
			t.Fatalf("take %d: refused, want allowed", i)
		}
	}
	// Within the burst each Take adds T to the TAT: it is the first Take's time, a whole
	// microsecond, plus 3T to the nanosecond.
	s, err := client.HGet(context.Background(), prefix+"rl:{lineage}", "tat").Result()
	if err != nil {
		t.Fatal(err)
	}
	tat, err := strconv.ParseInt(s, 10, 64)
	if err != nil || (tat-3*T)%1000 != 0 {
		t.Errorf("TAT %q, %v; want a whole microsecond plus %d ns", s, err, 3*T)
	}
	if d := take(t, lim, req, time.Now()); d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > time.Duration(T) {
		t.Errorf("fourth: got %+v, want refused, retry after in (0, T]", d)
	}
}

func TestRedisQuota(t *testing.T) {
	lim, _ := newRedis(t, testRedis(t))
	// A window of 31 days: a test does not straddle two.
	limit := fast
	limit.QuotaLimit, limit.QuotaWindow = 3, keyward.MaxQuotaWindow
	req := &ratelimit.Request{Bucket: "lineage", Limit: limit}
	for i, want := range []int64{2, 1, 0, 0, 0} {
		d := take(t, lim, req, time.Now())
		if d.Allowed != (i < 3) || d.Quota.Limit != 3 || d.Quota.Remaining != want {
			t.Fatalf("take %d: allowed %v, quota %+v; want allowed %v, %d of 3 remaining", i, d.Allowed, d.Quota, i < 3, want)
		}
		if d.Quota.Reset <= 0 || d.Quota.Reset > keyward.MaxQuotaWindow {
			t.Errorf("take %d: quota reset %v, want in (0, 31d]", i, d.Quota.Reset)
		}
		if !d.Allowed && (d.RetryAfter != d.Quota.Reset || d.Binding() != d.Quota) {
			t.Errorf("take %d: retry after %v, binding %+v; want the quota's reset and the quota", i, d.RetryAfter, d.Binding())
		}
	}
}

func TestRedisKeys(t *testing.T) {
	client := testRedis(t)
	lim, prefix := newRedis(t, client)
	ctx := context.Background()
	take(t, lim, &ratelimit.Request{Bucket: "lineage", Limit: slow, Credits: &keyward.Credits{Remaining: 3}, Cost: 1}, time.Now())

	// One hour to the TAT: the rate key expires then.
	if ttl, err := client.PTTL(ctx, prefix+"rl:{lineage}").Result(); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("rate key's TTL: %v, %v; want in (0, 1h]", ttl, err)
	}
	if ttl, err := client.PTTL(ctx, prefix+"cr:{lineage}").Result(); err != nil || ttl != -1 {
		t.Errorf("credits key's TTL: %v, %v; want none (-1)", ttl, err)
	}
	got, err := client.HGetAll(ctx, prefix+"cr:{lineage}").Result()
	if want := map[string]string{"remaining": "2", "refilled_at": "0", "version": "0"}; err != nil || !cmp.Equal(got, want) {
		t.Errorf("credits hash: %v, %v; want %v", got, err, want)
	}
}

func TestRedisRefusedWritesNothing(t *testing.T) {
	client := testRedis(t)
	lim, prefix := newRedis(t, client)
	ctx := context.Background()
	limit := keyward.RateLimit{Rate: 1, Period: time.Hour, Burst: 1, QuotaLimit: 10, QuotaWindow: keyward.MaxQuotaWindow}
	req := &ratelimit.Request{Bucket: "lineage", Limit: limit, Credits: &keyward.Credits{Remaining: 10, Version: 1}, Cost: 1}
	if d := take(t, lim, req, time.Now()); !d.Allowed || !d.CreditsOK || d.CreditsRemaining != 9 {
		t.Fatalf("first: got %+v, want allowed, credits spent, 9 left", d)
	}
	state := func() [2]map[string]string {
		t.Helper()
		var s [2]map[string]string
		for i, key := range []string{prefix + "rl:{lineage}", prefix + "cr:{lineage}"} {
			m, err := client.HGetAll(ctx, key).Result()
			if err != nil {
				t.Fatalf("HGETALL %s: %v", key, err)
			}
			s[i] = m
		}
		return s
	}
	before := state()
	// Refused: neither a seed from a newer version nor the spend is written.
	req.Credits = &keyward.Credits{Remaining: 100, Version: 2}
	for i := range 5 {
		d := take(t, lim, req, time.Now())
		if d.Allowed || d.CreditsOK || d.CreditsRemaining != 100 {
			t.Fatalf("take %d: got %+v; want refused, credits unchecked, 100 reported", i, d)
		}
	}
	if diff := cmp.Diff(before, state()); diff != "" {
		t.Errorf("state after refusals (-before +after):\n%s", diff)
	}
}

func TestRedisCreditsConcurrent(t *testing.T) {
	tests := []struct {
		name    string
		clients int // as many nodes
	}{
		{"one client", 1},
		{"two clients", 2},
		{"three clients", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var limiters []*ratelimit.Redis
			var prefix string
			for range tt.clients {
				// The first limiter's prefix, and its cleanup, serve all.
				client := testRedis(t)
				if prefix == "" {
					_, prefix = newRedis(t, client)
				}
				limiters = append(limiters, ratelimit.NewRedis(client, ratelimit.RedisOptions{Prefix: prefix}))
			}
			credits := &keyward.Credits{Remaining: 50, Version: 1}
			var ok, refused atomic.Int64
			var wg sync.WaitGroup
			for i := range 100 {
				wg.Go(func() {
					req := &ratelimit.Request{Bucket: "lineage", Limit: fast, Credits: credits, Cost: 1}
					d, err := limiters[i%len(limiters)].Take(context.Background(), req, time.Now())
					switch {
					case err != nil || !d.Allowed:
						t.Errorf("take %d: %+v, %v; want allowed", i, d, err)
					case d.CreditsOK:
						ok.Add(1)
					default:
						refused.Add(1)
					}
				})
			}
			wg.Wait()
			if ok.Load() != 50 || refused.Load() != 50 {
				t.Errorf("credits covered %d and refused %d, want 50 and 50", ok.Load(), refused.Load())
			}
		})
	}
}

// creditStep is one Take spending 1 credit, with the credits as the database knows them,
// and the remaining credits it must report.
type creditStep struct {
	name    string
	now     time.Time
	credits keyward.Credits
	want    int64
}

func runCreditSteps(t *testing.T, lim ratelimit.Limiter, steps []creditStep) {
	t.Helper()
	for _, s := range steps {
		req := &ratelimit.Request{Bucket: "lineage", Limit: fast, Credits: &s.credits, Cost: 1}
		d := take(t, lim, req, s.now)
		if !d.Allowed || !d.CreditsOK || d.CreditsRemaining != s.want {
			t.Fatalf("%s: got %+v; want allowed, credits spent, %d left", s.name, d, s.want)
		}
	}
}

func TestRedisCreditsVersion(t *testing.T) {
	lim, _ := newRedis(t, testRedis(t))
	now := time.Now()
	runCreditSteps(t, lim, []creditStep{
		{"seeded", now, keyward.Credits{Remaining: 10, Version: 1}, 9},
		{"the database lags", now, keyward.Credits{Remaining: 10, Version: 1}, 8},
		{"set through the API", now, keyward.Credits{Remaining: 100, Version: 2}, 99},
		{"an older version", now, keyward.Credits{Remaining: 5, Version: 1}, 98},
		{"the same version", now, keyward.Credits{Remaining: 100, Version: 2}, 97},
	})
}

func TestRedisCreditsRefill(t *testing.T) {
	daily := &keyward.CreditRefill{Interval: keyward.RefillDaily, Amount: 7}
	now := time.Now()
	today := daily.Boundary(now)
	t.Run("due", func(t *testing.T) {
		lim, _ := newRedis(t, testRedis(t))
		stale := keyward.Credits{Remaining: 2, Refill: daily, RefilledAt: today.AddDate(0, 0, -1), Version: 1}
		runCreditSteps(t, lim, []creditStep{
			{"refilled on seeding", now, stale, 6},
			{"once a day", now, stale, 5},
			{"the next day", now.Add(24 * time.Hour), stale, 6},
			{"not again for an earlier now", now, stale, 5},
		})
	})
	t.Run("not due", func(t *testing.T) {
		lim, _ := newRedis(t, testRedis(t))
		fresh := keyward.Credits{Remaining: 2, Refill: daily, RefilledAt: today, Version: 1}
		runCreditSteps(t, lim, []creditStep{
			{"seeded", now, fresh, 1},
			{"no refill", now, fresh, 0},
		})
	})
}

func TestRedisCreditsCost(t *testing.T) {
	lim, _ := newRedis(t, testRedis(t))
	credits := &keyward.Credits{Remaining: 2}
	tests := []struct {
		cost   int64
		wantOK bool
		want   int64
	}{
		{3, false, 2},
		{2, true, 0},
		{1, false, 0},
		{0, true, 0},
	}
	for _, tt := range tests {
		d := take(t, lim, &ratelimit.Request{Bucket: "lineage", Limit: fast, Credits: credits, Cost: tt.cost}, time.Now())
		if !d.Allowed || d.CreditsOK != tt.wantOK || d.CreditsRemaining != tt.want {
			t.Fatalf("cost %d: got %+v; want allowed, credits ok %v, %d left", tt.cost, d, tt.wantOK, tt.want)
		}
	}
}

func TestRedisScriptError(t *testing.T) {
	client := testRedis(t)
	lim, prefix := newRedis(t, client)
	ctx := context.Background()
	// A string where the rate hash should be: Redis refuses HMGET, as it would a bug.
	if err := client.Set(ctx, prefix+"rl:{broken}", "x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	_, err := lim.Take(ctx, &ratelimit.Request{Bucket: "broken", Limit: slow}, time.Now())
	if err == nil || errors.Is(err, ratelimit.ErrUnavailable) {
		t.Fatalf("Take on a broken bucket: %v; want a script error, not ErrUnavailable", err)
	}
	// Redis answered: the breaker stays closed.
	if d := take(t, lim, &ratelimit.Request{Bucket: "lineage", Limit: slow}, time.Now()); !d.Allowed {
		t.Errorf("then another bucket: got %+v, want allowed", d)
	}
}

func TestRedisPing(t *testing.T) {
	lim, _ := newRedis(t, testRedis(t))
	if err := lim.Ping(context.Background()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// freeAddr returns a 127.0.0.1 address where nothing listens.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// countCalls counts the commands that reach the client's network layer, alone or in a
// pipeline.
type countCalls struct{ n atomic.Int64 }

func (c *countCalls) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *countCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}
func (c *countCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func TestRedisBreaker(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: freeAddr(t), MaxRetries: -1})
	t.Cleanup(func() { client.Close() })
	var calls countCalls
	client.AddHook(&calls)
	lim := ratelimit.NewRedis(client, ratelimit.RedisOptions{BreakerCooldown: time.Hour})
	req := &ratelimit.Request{Bucket: "lineage", Limit: slow}

	_, err := lim.Take(context.Background(), req, time.Now())
	if !errors.Is(err, ratelimit.ErrUnavailable) || calls.n.Load() == 0 {
		t.Fatalf("first Take: %v after %d calls; want ErrUnavailable after trying", err, calls.n.Load())
	}
	tried := calls.n.Load()
	for i := range 3 {
		if _, err := lim.Take(context.Background(), req, time.Now()); err != ratelimit.ErrUnavailable {
			t.Fatalf("Take %d with the breaker open: %v, want ErrUnavailable itself", i, err)
		}
	}
	if calls.n.Load() != tried {
		t.Errorf("the open breaker let %d calls through, want none", calls.n.Load()-tried)
	}
}

// blackhole accepts connections and never answers.
func blackhole(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

func TestRedisBlackholed(t *testing.T) {
	for _, honours := range []bool{false, true} {
		t.Run(fmt.Sprint("ContextTimeoutEnabled=", honours), func(t *testing.T) {
			addr := blackhole(t)
			// The client's own timeouts are long: only the limiter's can end Take.
			client := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: honours,
				DialTimeout: time.Minute, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
			t.Cleanup(func() { client.Close() })
			lim := ratelimit.NewRedis(client, ratelimit.RedisOptions{Timeout: 100 * time.Millisecond})
			done := make(chan error, 1)
			go func() {
				_, err := lim.Take(context.Background(), &ratelimit.Request{Bucket: "lineage", Limit: slow}, time.Now())
				done <- err
			}()
			select {
			case err := <-done:
				if !errors.Is(err, ratelimit.ErrUnavailable) {
					t.Errorf("Take: %v, want ErrUnavailable", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Take against a blackholed Redis has not returned after 10s")
			}
		})
	}
}

// startRedis runs redis-server on 127.0.0.1:port until the test ends or stop is called.
func startRedis(t *testing.T, path, port string) (stop func()) {
	t.Helper()
	cmd := exec.Command(path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting redis-server: %v", err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cmd.Process.Kill()
			cmd.Wait()
		})
	}
	t.Cleanup(stop)
	return stop
}

// eventually polls f every 50ms for up to 10s, until it returns nil.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	var err error
	for range 200 {
		if err = f(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: still failing after 10s: %v", what, err)
}

func TestRedisRestart(t *testing.T) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed")
	}
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	stop := startRedis(t, path, port)
	client := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { client.Close() })
	lim := ratelimit.NewRedis(client, ratelimit.RedisOptions{BreakerCooldown: 100 * time.Millisecond})
	req := &ratelimit.Request{Bucket: "lineage", Limit: fast}
	takeOK := func() error {
		d, err := lim.Take(context.Background(), req, time.Now())
		if err == nil && !d.Allowed {
			err = errors.New("refused")
		}
		return err
	}
	eventually(t, "Take once redis-server started", takeOK)

	stop()
	for i := range 2 {
		if _, err := lim.Take(context.Background(), req, time.Now()); !errors.Is(err, ratelimit.ErrUnavailable) {
			t.Fatalf("Take %d after redis-server died: %v, want ErrUnavailable", i, err)
		}
	}

	startRedis(t, path, port)
	eventually(t, "Take once redis-server restarted", takeOK)
}

func BenchmarkRedisTake(b *testing.B) {
	// A client without ContextTimeoutEnabled costs Take a goroutine; see Redis.call.
	for _, honours := range []bool{false, true} {
		b.Run(fmt.Sprint("ContextTimeoutEnabled=", honours), func(b *testing.B) {
			lim, _ := newRedis(b, testRedis(b, func(o *redis.Options) { o.ContextTimeoutEnabled = honours }))
			req := &ratelimit.Request{Bucket: "01JQ3Z7X9K2M4N6P8R0T2V4W6Y", Limit: fast,
				Credits: &keyward.Credits{Remaining: keyward.MaxCredits}, Cost: 1}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := lim.Take(ctx, req, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRedisTakeParallel is many verifications at once, as a busy node makes them: 16
// goroutines a core, each its own bucket.
func BenchmarkRedisTakeParallel(b *testing.B) {
	lim, _ := newRedis(b, testRedis(b, func(o *redis.Options) { o.ContextTimeoutEnabled = true }))
	var n atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		req := &ratelimit.Request{Bucket: fmt.Sprintf("01JQ3Z7X9K2M4N6P8R0T2V4W%02d", n.Add(1)), Limit: fast, Cost: 1}
		ctx := context.Background()
		for pb.Next() {
			if _, err := lim.Take(ctx, req, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestRedisPipelinesReloadTheScript: concurrent Takes go out together as a pipeline, which
// calls the script by hash; a Redis that has lost its scripts (a restart, SCRIPT FLUSH) is
// sent it again, and the batch after it.
func TestRedisPipelinesReloadTheScript(t *testing.T) {
	client := testRedis(t)
	lim, _ := newRedis(t, client)
	if err := client.ScriptFlush(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	var reqs []*ratelimit.Request
	for i := range 5 {
		reqs = append(reqs, &ratelimit.Request{Bucket: fmt.Sprintf("reload-%d", i), Limit: slow})
	}
	for i, err := range lim.SendTogether(reqs, time.Now()) {
		if err != nil {
			t.Errorf("call %d of a batch after SCRIPT FLUSH: %v", i, err)
		}
	}
	// Together, through Take: every one allowed once, then counted.
	var wg sync.WaitGroup
	for _, req := range reqs {
		wg.Go(func() {
			if d, err := lim.Take(context.Background(), req, time.Now()); err != nil || !d.Allowed || d.Rate.Remaining != slow.Burst-2 {
				t.Errorf("Take of %s after its batched one: %+v, %v", req.Bucket, d, err)
			}
		})
	}
	wg.Wait()
}
