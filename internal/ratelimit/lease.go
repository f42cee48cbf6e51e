package ratelimit

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/keyward"
)

// Leases: a bucket with a rate limit alone (no quota, no credits) is not asked about every
// request. Each node leases a few of its cells at once from Redis (lease.lua moves the TAT
// on by as many intervals, as that many Takes would) and spends them here, one atomic
// decrement each, going back to Redis when they run out. What is leased is what GCRA would
// have allowed at the moment of the lease, so that every node together never lets more
// through than the bucket holds: over any stretch of time, the cells spent are at most
// burst + rate × the stretch, plus the cells leased before it and spent in it (at most a
// lease per node), since a cell may be spent up to one life after Redis counted it. What a
// lease costs is the other way: cells held by one node are refused to the others until it
// spends them or gives them back, and a node refuses its own requests only when Redis has
// no cell left, whatever another node holds.
//
// So a lease stays small and short. It starts at one cell (a key verified now and then
// makes a round trip every time, exactly as Take with take.lua) and follows the rate the
// node spends it at, as many cells as that rate spends in a lease's life (leaseLife), up to
// maxLease: half the burst and what the rate gives in leaseWindow; and Redis grants at most
// a quarter of the cells the bucket has left (lease.lua). A key used well within its limit
// has a bucket near full and gets leases of several cells (7 of standard's 30), so that
// few of its verifications make a round trip; a key driven past its limit has a bucket near
// empty and gets one cell at a time, as exact as take.lua, so that no node holds cells the
// others were refused for long. (Before the quarter rule the bound was a flat eighth of the
// burst and 100 ms of the rate: 3 cells for standard, a round trip every third
// verification of a key used at half its rate.) It shrinks to
// what was spent when cells outlive the life; those cells go back to Redis (the TAT moved
// back, never below now), with the node's next lease of the bucket or by the sweeper,
// whichever comes first, so that a node gone quiet holds nothing for longer than a life.
// A node that stops without giving its cells back loses them for the bucket until its TAT
// passes: at most maxLease cells each.
//
// Quotas and credits are not leased: a lease's cells would count in a quota window when
// leased, not when spent, and a node that stopped would leave its cells counted for the
// rest of the window. They keep take.lua's exact round trip.
const (
	// leaseLife is how long a node may spend a lease's cells before giving them back. The
	// longer, the fewer round trips for a key verified a few times a second on a node (it
	// needs a lease's worth in a life to lease more than one cell), and the longer a
	// node gone quiet holds its few cells back from the others. A second, not the 100-250
	// ms first meant: with 1 000 keys over one node each key came a few times a second,
	// and 500 ms still left most leases at one or two cells (0.78 round trips a
	// verification in bench/load, against 0.34 with a second). What a node holds is
	// bounded by maxLease either way.
	leaseLife = time.Second
	// leaseWindow bounds a lease to what the rate gives in this time.
	leaseWindow = 500 * time.Millisecond
	// leaseBurstShare bounds a lease to this fraction of the burst; lease.lua bounds it to
	// a quarter of what the bucket has left.
	leaseBurstShare = 2
	// sweepEvery is how often the sweeper looks for leases that outlived their life.
	sweepEvery = 50 * time.Millisecond
	// leaseIdle is how long a bucket's lease state outlives its last round trip.
	leaseIdle = 10 * time.Second
)

//go:embed lease.lua
var leaseSource string

// leaseScript is lease.lua, called as takeScript is.
var leaseScript = redis.NewScript(leaseSource)

// lease is this node's lease of one bucket.
type lease struct {
	key string // the rate hash's key
	// grant is the latest lease from Redis; nil before the first.
	grant atomic.Pointer[grant]
	// renewing is held by the one Take that goes to Redis for the bucket; others wait for
	// its grant rather than each asking for their own.
	renewing chan struct{}
	// dead: the sweeper forgot the lease. A Slot that remembers it looks the bucket up
	// again. Its grants are still real and still given back.
	dead atomic.Bool
	// touched is when the lease last went to Redis, on the lease clock.
	touched atomic.Int64
	// size is how many cells to ask for next. Guarded by renewing.
	size int64
	// listed: the lease is in the sweeper's pending list. Guarded by sweeper.mu.
	listed bool
}

// grant is one lease from Redis.
type grant struct {
	// cells are the granted cells not yet spent.
	cells atomic.Int64
	// returned are the cells the sweeper gave back, so that the next lease knows they
	// went unspent.
	returned atomic.Int64
	n        int64 // granted
	at       int64 // when, on the lease clock
	ahead    int64 // Redis's TAT - now right after the grant, ns
	interval int64 // T when granted: what a cell is worth when given back
}

// spend takes one of g's cells at c (the lease clock), unless they are spent or g has
// outlived its life. It returns how many are left.
func (g *grant) spend(c, life int64) (left int64, ok bool) {
	if c-g.at >= life {
		return 0, false
	}
	for {
		n := g.cells.Load()
		if n <= 0 {
			return 0, false
		}
		if g.cells.CompareAndSwap(n, n-1) {
			return n - 1, true
		}
	}
}

// decision answers a request allowed with one of g's cells at c, left cells remaining: the
// bucket's TAT is where the grant left it (this node's unspent cells counted in), less the
// time since, and this node's unspent cells are still its to allow.
func (g *grant) decision(p *params, l *keyward.RateLimit, c, left int64) Decision {
	d := decision(*p, l, true, true, max(g.ahead-(c-g.at), 0), 0, 0)
	d.Rate.Remaining = min(d.Rate.Remaining+left, p.tau/p.interval)
	return d
}

// maxLease is the most cells one lease may hold under p.
func maxLease(p *params, window int64) int64 {
	return max(min(p.tau/p.interval/leaseBurstShare, window/p.interval), 1)
}

// takeLeased decides req, which has neither a quota nor credits, from this node's lease of
// its bucket, renewing the lease when it is spent.
func (r *Redis) takeLeased(ctx context.Context, req *Request, p *params) (Decision, error) {
	l := r.leaseOf(req)
	// While the breaker is open Redis is taken to be away, lease or not: the fail mode
	// applies, as it does to every Take.
	if r.breaker.openUntil.Load() == 0 {
		if g := l.grant.Load(); g != nil {
			c := r.leaseClock()
			if left, ok := g.spend(c, r.leaseLife); ok {
				return g.decision(p, &req.Limit, c, left), nil
			}
		}
	}
	return r.renew(ctx, l, req, p)
}

// renew leases cells of l's bucket and spends one: one round trip, which also gives back
// the cells of l's last grant that went unspent. Only one Take renews a lease at a time; a
// Take that waited for another's spends from its grant if it can.
func (r *Redis) renew(ctx context.Context, l *lease, req *Request, p *params) (Decision, error) {
	select {
	case l.renewing <- struct{}{}:
	case <-ctx.Done():
		return Decision{}, fmt.Errorf("ratelimit: %w", ctx.Err())
	}
	defer func() { <-l.renewing }()
	c := r.leaseClock()
	old := l.grant.Load()
	if old != nil && r.breaker.openUntil.Load() == 0 {
		if left, ok := old.spend(c, r.leaseLife); ok {
			return old.decision(p, &req.Limit, c, left), nil
		}
	}
	var give int64
	if old != nil {
		give = old.cells.Swap(0)
		l.adapt(old, give+old.returned.Load(), c, r.leaseLife)
	}
	l.size = min(max(l.size, 1), maxLease(p, r.leaseWindow))
	l.touched.Store(c)
	v, err := r.run(ctx, r.leaseCall(l.key, p.interval, p.tau, l.size, give))
	if err != nil {
		// Cells being given back are lost for the bucket until its TAT passes: fewer
		// allowed, never more.
		return Decision{}, err
	}
	if len(v) != 2 {
		return Decision{}, fmt.Errorf("ratelimit: unexpected reply from the lease script: %v", v)
	}
	granted, ahead := v[0], v[1]
	if granted <= 0 {
		return decision(*p, &req.Limit, false, true, ahead, 0, 0), nil
	}
	g := &grant{n: granted, at: r.leaseClock(), ahead: ahead, interval: p.interval}
	g.cells.Store(granted - 1)
	l.grant.Store(g)
	if granted > 1 {
		r.sweeper.hold(r, l)
	}
	return g.decision(p, &req.Limit, g.at, granted-1), nil
}

// adapt sets the size of l's next lease from its last one, old, renewed at c with unspent
// of its cells unspent: the cells that were spent when some outlived the life, else as many
// as the rate the node spent old at gives in a life, rounded up: the largest lease whose
// last cell is due before the life ends (at that rate, cell k is due (k-1)/rate after the
// grant).
func (l *lease) adapt(old *grant, unspent, c, life int64) {
	used := old.n - unspent
	if unspent > 0 {
		l.size = used
		return
	}
	elapsed := max(c-old.at, 1)
	l.size = (used*life + elapsed - 1) / elapsed
}

// leaseCall builds a call of lease.lua on the rate hash key.
func (r *Redis) leaseCall(key string, interval, tau, want, give int64) *scriptCall {
	return &scriptCall{script: leaseScript, keys: []string{key}, args: []any{interval, tau, want, give}, done: make(chan struct{})}
}

// leaseOf returns this node's lease of req's bucket: the one its slot remembers, unless
// the sweeper forgot it, else the one the map holds, which the slot then remembers.
func (r *Redis) leaseOf(req *Request) *lease {
	if req.Slot == nil {
		return r.lease(req.Bucket)
	}
	if l := req.Slot.l.Load(); l != nil && !l.dead.Load() {
		return l
	}
	l := r.lease(req.Bucket)
	req.Slot.l.Store(l)
	return l
}

// lease returns the lease of bucket id, creating it if need be.
func (r *Redis) lease(id string) *lease {
	if v, ok := r.leases.Load(id); ok {
		return v.(*lease)
	}
	l := &lease{key: r.prefix + "rl:{" + id + "}", renewing: make(chan struct{}, 1), size: 1}
	l.touched.Store(r.leaseClock())
	// The map keeps its key: a copy, so that it does not pin whatever id was cut from.
	v, loaded := r.leases.LoadOrStore(strings.Clone(id), l)
	if !loaded {
		r.sweeper.start(r)
	}
	return v.(*lease)
}

// sweeper gives back the cells of leases that outlived their life, and forgets the leases
// of buckets this node has not asked Redis about for leaseIdle. Its goroutine runs while
// the node holds any lease state, and starts again with the next.
type sweeper struct {
	mu      sync.Mutex
	running bool
	// pending are the leases whose latest grant may still hold cells.
	pending []*lease
}

// start starts the sweeper's goroutine unless it runs.
func (s *sweeper) start(r *Redis) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running {
		s.running = true
		go r.sweepLoop()
	}
}

// hold lists l, whose latest grant holds cells, for giving back when it has outlived its
// life. Its goroutine must run, which it does while the map holds l.
func (s *sweeper) hold(r *Redis, l *lease) {
	s.mu.Lock()
	if !l.listed {
		l.listed = true
		s.pending = append(s.pending, l)
	}
	running := s.running
	s.mu.Unlock()
	if !running {
		s.start(r) // l was forgotten and is renewed from a Slot
	}
}

// expired takes the unspent cells of the pending leases that have outlived their life at
// c, and unlists them, and returns the calls that give the cells back.
func (s *sweeper) expired(r *Redis, c int64) []*scriptCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	var calls []*scriptCall
	kept := s.pending[:0]
	for _, l := range s.pending {
		g := l.grant.Load()
		if c-g.at < r.leaseLife {
			kept = append(kept, l)
			continue
		}
		// A grant stored after the load is listed again by its renew, once mu is free.
		l.listed = false
		if k := g.cells.Swap(0); k > 0 {
			g.returned.Add(k)
			calls = append(calls, r.leaseCall(l.key, g.interval, 0, 0, k))
		}
	}
	clear(s.pending[len(kept):])
	s.pending = kept
	return calls
}

// stop ends the goroutine, reporting true, when nothing is pending and no lease is left.
func (s *sweeper) stop(r *Redis) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) > 0 {
		return false
	}
	empty := true
	r.leases.Range(func(any, any) bool {
		empty = false
		return false
	})
	if empty {
		s.running = false
	}
	return empty
}

func (r *Redis) sweepLoop() {
	tick := time.NewTicker(sweepEvery)
	defer tick.Stop()
	forgot := r.leaseClock()
	for range tick.C {
		c := r.leaseClock()
		r.giveBack(r.sweeper.expired(r, c))
		if c-forgot >= int64(leaseIdle) {
			r.forgetIdle(c)
			forgot = c
		}
		if r.sweeper.stop(r) {
			return
		}
	}
}

// giveBack sends calls, which give cells back, and waits for them. It does not go through
// the breaker, nor move it: while the breaker is open it drops them, and a failed one is
// dropped too. Cells not given back stay counted until the bucket's TAT passes.
func (r *Redis) giveBack(calls []*scriptCall) {
	if len(calls) == 0 || r.breaker.openUntil.Load() != 0 {
		return
	}
	for _, c := range calls {
		r.submit(c)
	}
	wait := time.NewTimer(r.timeout)
	defer wait.Stop()
	for _, c := range calls {
		select {
		case <-c.done:
		case <-wait.C:
			return
		}
	}
}

// forgetIdle drops the leases of buckets this node has not asked Redis about for
// leaseIdle. Their cells went back long ago.
func (r *Redis) forgetIdle(c int64) {
	r.leases.Range(func(id, v any) bool {
		l := v.(*lease)
		if c-l.touched.Load() < int64(leaseIdle) {
			return true
		}
		select {
		case l.renewing <- struct{}{}:
			l.dead.Store(true)
			r.leases.CompareAndDelete(id, l)
			<-l.renewing
		default: // being renewed right now: not idle
		}
		return true
	})
}
