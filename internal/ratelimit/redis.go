package ratelimit

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions tune a Redis limiter. Zero values take the defaults.
type RedisOptions struct {
	// Prefix starts every key (default "keyward:").
	Prefix string
	// Timeout bounds each Take and Ping (default 250ms).
	Timeout time.Duration
	// BreakerCooldown is how long Take fails fast with ErrUnavailable after Redis could not
	// be reached (default 1s). Then one Take probes Redis while the others keep failing
	// fast; when it gets an answer the breaker closes.
	BreakerCooldown time.Duration
}

// Redis is a Limiter that keeps its state in Redis, shared by every node, and spends
// credits in the same step. A Take with credits or a quota is one script call in one round
// trip (shared with the Takes made at the same moment: see submit): a Lua script that does
// the GCRA, the quota and the credits atomically, on Redis's clock so that nodes with
// skewed clocks agree. A Take with a rate limit alone spends a cell this node leased from
// the bucket earlier, and makes a round trip only to lease more (see lease.go). It needs
// Redis 5 or later, which replicates a script's effects rather than the script, so that a
// script may read TIME and still write (tested with Redis 7).
//
// A bucket has two keys, <prefix>rl:{<bucket>}, a hash with the TAT and the quota count
// that expires once the bucket is at rest, and <prefix>cr:{<bucket>}, a hash with the copy
// of the credits that does not expire. The braces are a Redis Cluster hash tag: both keys
// of one bucket are in one slot.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	// boundsCalls: the client honours context deadlines on the socket. See call.
	boundsCalls bool
	breaker     breaker
	batches     batches
	// leases maps a bucket id to this node's *lease of it; see lease.go.
	leases  sync.Map
	sweeper sweeper
	// leaseLife and leaseWindow are the constants of lease.go, in ns, and leaseClock
	// the clock leases are timed by (the breaker's): fields so that tests can set them.
	leaseLife, leaseWindow int64
	leaseClock             func() int64
}

var _ Limiter = (*Redis)(nil)

//go:embed take.lua
var takeSource string

// takeScript is run with EVALSHA, falling back to EVAL when Redis does not have it yet.
var takeScript = redis.NewScript(takeSource)

// NewRedis returns a Redis limiter using client, which it does not close.
//
// Take is bounded by opts.Timeout whatever the client's options, but a client built with
// ContextTimeoutEnabled bounds it more cheaply: see call.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	if opts.Prefix == "" {
		opts.Prefix = "keyward:"
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 250 * time.Millisecond
	}
	if opts.BreakerCooldown <= 0 {
		opts.BreakerCooldown = time.Second
	}
	r := &Redis{
		client:      client,
		prefix:      opts.Prefix,
		timeout:     opts.Timeout,
		boundsCalls: honoursDeadlines(client),
		breaker:     breaker{cooldown: int64(opts.BreakerCooldown), epoch: time.Now()},
		leaseLife:   int64(leaseLife),
		leaseWindow: int64(leaseWindow),
	}
	r.leaseClock = r.breaker.clock
	return r
}

// KeepsCredits reports true: Take spends Request.Credits.
func (r *Redis) KeepsCredits() bool { return true }

// Take decides req and records it when allowed, with Redis's clock; now serves only to find
// the credits' refill boundary. A request with credits or a quota runs take.lua every time;
// one with a rate limit alone is served from this node's lease of the bucket (see lease.go)
// and goes to Redis only when the lease is spent.
//
// The error wraps ErrUnavailable when Redis could not be reached, and then the breaker
// opens: until its cooldown passes, Take returns ErrUnavailable without trying. Any other
// error is Redis refusing the script, a bug; it does not open the breaker, since Redis
// answered.
func (r *Redis) Take(ctx context.Context, req *Request, now time.Time) (Decision, error) {
	p := paramsOf(&req.Limit)
	if req.Credits == nil && req.Limit.QuotaLimit <= 0 {
		return r.takeLeased(ctx, req, &p)
	}
	v, err := r.run(ctx, r.takeCall(req, &p, now))
	if err != nil {
		return Decision{}, err
	}
	if len(v) != 7 {
		return Decision{}, fmt.Errorf("ratelimit: unexpected reply from the take script: %v", v)
	}
	d := decision(p, &req.Limit, v[0] == 1, v[1] == 1, v[2], v[3], v[4])
	if req.Credits != nil {
		d.CreditsOK, d.CreditsRemaining = v[5] == 1, v[6]
	}
	return d, nil
}

// run sends c, through the breaker, and returns its reply. The error wraps ErrUnavailable
// when Redis could not be reached, and is ErrUnavailable itself while the breaker is open.
func (r *Redis) run(ctx context.Context, c *scriptCall) ([]int64, error) {
	probe, ok := r.breaker.admit()
	if !ok {
		return nil, ErrUnavailable
	}
	r.submit(c)
	wait := time.NewTimer(r.timeout)
	defer wait.Stop()
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, r.failed(ctx, probe, ctx.Err())
	case <-wait.C:
		// Queued behind batches that Redis does not answer: as a timeout of its own call.
		return nil, r.failed(ctx, probe, context.DeadlineExceeded)
	}
	if c.err != nil {
		return nil, r.failed(ctx, probe, c.err)
	}
	r.breaker.answered(probe)
	return c.reply, nil
}

// Concurrent Takes share round trips: each joins a queue, and up to maxPipelines batches
// are in flight at once, each a pipeline of up to maxBatch script calls, one write and one
// read. With one Take at a time this is the plain round trip; under load, the Takes that
// arrive while a batch is out go together in the next, which saves the client and Redis a
// system call or two each. (Redis runs pipelined scripts one after another, each atomically,
// as if sent apart.)
const (
	maxPipelines = 4
	maxBatch     = 64
)

// takeCall builds req's script call: its keys and arguments, as take.lua reads them.
func (r *Redis) takeCall(req *Request, p *params, now time.Time) *scriptCall {
	args := []any{p.interval, p.tau, req.Limit.QuotaLimit, p.window / int64(time.Second), 0, 0, 0, 0, 0, 0, 0}
	if c := req.Credits; c != nil {
		args[4], args[5], args[6], args[8] = 1, max(req.Cost, 0), c.Remaining, c.Version
		if !c.RefilledAt.IsZero() {
			args[7] = c.RefilledAt.UnixMicro()
		}
		if c.Refill != nil {
			args[9], args[10] = c.Refill.Amount, c.Refill.Boundary(now).UnixMicro()
		}
	}
	return &scriptCall{script: takeScript, keys: []string{r.prefix + "rl:{" + req.Bucket + "}", r.prefix + "cr:{" + req.Bucket + "}"},
		args: args, done: make(chan struct{})}
}

// scriptCall is one script call (take.lua's or lease.lua's), queued for a batch.
type scriptCall struct {
	script *redis.Script
	keys   []string
	args   []any
	// Set before done is closed.
	reply []int64
	err   error
	done  chan struct{}
}

// batches is the queue of Takes waiting for a pipeline, and how many pipelines are out.
type batches struct {
	mu       sync.Mutex
	queue    []*scriptCall
	inflight int
}

// next takes up to maxBatch calls off the queue. b.mu is held.
func (b *batches) next() []*scriptCall {
	n := min(len(b.queue), maxBatch)
	batch := b.queue[:n:n]
	b.queue = b.queue[n:]
	if len(b.queue) == 0 {
		b.queue = nil
	}
	return batch
}

// submit queues c and, when fewer than maxPipelines batches are out, sends a batch (c's, or
// an earlier one) from this goroutine.
func (r *Redis) submit(c *scriptCall) {
	b := &r.batches
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if b.inflight >= maxPipelines {
		b.mu.Unlock()
		return // a batch that is out sends this one when it comes back
	}
	b.inflight++
	batch := b.next()
	b.mu.Unlock()
	r.send(batch)
	r.sent()
}

// sent ends a batch's turn: the queue, if anything waits in it, goes out next from a
// goroutine of its own, so that the Take whose goroutine sent this batch returns now rather
// than serving others for as long as they keep coming.
func (r *Redis) sent() {
	b := &r.batches
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.inflight--
		b.mu.Unlock()
		return
	}
	batch := b.next()
	b.mu.Unlock()
	go func() {
		r.send(batch)
		r.sent()
	}()
}

// send runs batch as one pipeline, within the timeout, and answers each call. Scripts are
// called by hash; a Redis that does not have the script yet (first use, a restart, SCRIPT
// FLUSH) is sent it and the batch again.
func (r *Redis) send(batch []*scriptCall) {
	var cmds []*redis.Cmd
	err := r.call(context.Background(), func(ctx context.Context) error {
		if len(batch) == 1 {
			// Alone: a plain call, which costs the client less than a pipeline of one.
			cmds = []*redis.Cmd{batch[0].script.Run(ctx, r.client, batch[0].keys, batch[0].args...)}
			return cmds[0].Err()
		}
		run := func() error {
			pipe := r.client.Pipeline()
			cmds = make([]*redis.Cmd, len(batch))
			for i, c := range batch {
				cmds[i] = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
			}
			_, err := pipe.Exec(ctx)
			return err
		}
		err := run()
		if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
			if err = loadScripts(ctx, r.client, batch); err == nil {
				err = run()
			}
		}
		return err
	})
	for i, c := range batch {
		// A failure of the pipeline as a whole (the network, the timeout) says nothing of
		// cmds, which a call abandoned at its deadline may still be writing; a reply error
		// comes only once the pipeline is done, and each command carries its own.
		if err != nil && !isReply(err) {
			c.err = err
		} else {
			c.reply, c.err = cmds[i].Int64Slice()
		}
		close(c.done)
	}
}

// loadScripts sends Redis the scripts that batch calls.
func loadScripts(ctx context.Context, client redis.UniversalClient, batch []*scriptCall) error {
	var loaded []*redis.Script
	for _, c := range batch {
		if slices.Contains(loaded, c.script) {
			continue
		}
		if err := c.script.Load(ctx, client).Err(); err != nil {
			return err
		}
		loaded = append(loaded, c.script)
	}
	return nil
}

// isReply reports whether err is an answer of Redis's (to one command of a pipeline) rather
// than a failure of the pipeline.
func isReply(err error) bool {
	var reply redis.Error
	return errors.As(err, &reply)
}

// Ping reports whether Redis answers within the timeout, for readiness. It neither consults
// nor moves the breaker.
func (r *Redis) Ping(ctx context.Context) error {
	err := r.call(ctx, func(ctx context.Context) error { return r.client.Ping(ctx).Err() })
	if err != nil {
		return fmt.Errorf("ratelimit: ping redis: %w", err)
	}
	return nil
}

// call runs send with the timeout. A client built without ContextTimeoutEnabled bounds its
// socket reads and writes by its own timeouts (3s by default, and again for each retry),
// not by the context's deadline, and against a blackholed Redis would hold Take for that
// long; so call then runs send in a goroutine and stops waiting at the deadline. The
// abandoned call ends when the client's timeouts fire (and Redis may still record it). The
// goroutine costs a Take some tens of microseconds: a client with ContextTimeoutEnabled
// avoids it.
func (r *Redis) call(ctx context.Context, send func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if r.boundsCalls {
		return send(ctx)
	}
	done := make(chan error, 1)
	go func() { done <- send(ctx) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// failed records a failed call in the breaker and returns the error for Take.
func (r *Redis) failed(ctx context.Context, probe bool, err error) error {
	switch {
	case ctx.Err() != nil:
		// The caller gave up, which says nothing about Redis.
		r.breaker.release(probe)
		return fmt.Errorf("ratelimit: %w", err)
	case unreachable(err):
		r.breaker.trip(probe)
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	default:
		r.breaker.answered(probe)
		return fmt.Errorf("ratelimit: take script: %w", err)
	}
}

// unreachable reports whether err means that Redis could not be reached or cannot serve,
// rather than that it refused the command.
func unreachable(err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true // the network, a timeout, the pool, a closed client
	}
	return redis.IsLoadingError(err) || redis.IsReadOnlyError(err) || redis.IsClusterDownError(err) ||
		redis.IsTryAgainError(err) || redis.IsMasterDownError(err) || redis.IsMaxClientsError(err)
}

// honoursDeadlines reports whether client bounds its socket I/O by the context's deadline.
func honoursDeadlines(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// breaker keeps Take from waiting on a Redis known to be down. It is lock-free: when closed,
// admitting a call is one atomic load.
type breaker struct {
	cooldown int64     // ns
	epoch    time.Time // the origin of openUntil, for a monotonic clock
	// openUntil is when the cooldown ends, in ns since epoch; 0 when the breaker is closed.
	openUntil atomic.Int64
	probing   atomic.Bool // a call is probing the open breaker
}

func (b *breaker) clock() int64 { return int64(time.Since(b.epoch)) + 1 }

// admit reports whether a call may go to Redis, and whether it is the one probe.
func (b *breaker) admit() (probe, ok bool) {
	until := b.openUntil.Load()
	if until == 0 {
		return false, true
	}
	if b.clock() < until || !b.probing.CompareAndSwap(false, true) {
		return false, false
	}
	return true, true
}

// answered records that Redis answered: the breaker closes.
func (b *breaker) answered(probe bool) {
	// Load first: storing on every call would bounce the cache line between cores.
	if b.openUntil.Load() != 0 {
		b.openUntil.Store(0)
	}
	b.release(probe)
}

// trip records that Redis could not be reached: the breaker opens for a cooldown.
func (b *breaker) trip(probe bool) {
	b.openUntil.Store(b.clock() + b.cooldown)
	b.release(probe)
}

// release ends a probe without a verdict on Redis.
func (b *breaker) release(probe bool) {
	if probe {
		b.probing.Store(false)
	}
}
