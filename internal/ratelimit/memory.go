package ratelimit

import (
	"context"
	"strings"
	"sync"
	"time"
)

// sweepInterval is how often Memory drops the buckets at rest.
const sweepInterval = time.Minute

// Memory is a Limiter that keeps its state in this process, so each node limits on its own:
// behind a balancer over n nodes, a key gets up to n times its limit. It does not keep
// credits. Take on an existing bucket takes no lock but the bucket's own and allocates
// nothing. Close stops its sweeper.
type Memory struct {
	// buckets maps a bucket id to its *bucket. A sync.Map reads without a lock, so that
	// parallel verifications of different keys never wait on one another.
	buckets sync.Map

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// bucket is one bucket's state, guarded by mu.
type bucket struct {
	mu sync.Mutex
	// dead: the sweeper dropped the bucket from the map. A Take that finds it dead looks the
	// bucket up again, so that no update lands in a bucket nobody will see.
	dead bool
	tat  int64 // the theoretical arrival time, Unix ns
	// quotaEnd is the end of the quota window that count counts, Unix ns. The end rather
	// than the window's index so that the sweeper needs no limit to know the window is over.
	quotaEnd int64
	count    int64
	// rest is when the bucket is as good as fresh again: the later of tat and quotaEnd.
	rest int64
	// seen is the latest now a Take brought, a sample of the clock for the sweeper.
	seen int64
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns a Memory and starts its sweeper, which drops buckets at rest every
// minute so that they do not pile up.
func NewMemory() *Memory {
	m := &Memory{stop: make(chan struct{}), done: make(chan struct{})}
	go m.sweepLoop()
	return m
}

// Close stops the sweeper. Take still works after it, but nothing is swept.
func (m *Memory) Close() {
	m.closeOnce.Do(func() {
		close(m.stop)
		<-m.done
	})
}

// KeepsCredits reports false: the caller spends credits in the database.
func (m *Memory) KeepsCredits() bool { return false }

// Take decides req at now and records it when allowed. It ignores req.Credits and never
// returns an error.
func (m *Memory) Take(_ context.Context, req *Request, now time.Time) (Decision, error) {
	p := paramsOf(&req.Limit)
	t := now.UnixNano()
	for {
		b := m.bucketOf(req)
		b.mu.Lock()
		if b.dead {
			b.mu.Unlock()
			// The sweeper deletes it right after marking it; help, rather than spin.
			m.buckets.CompareAndDelete(req.Bucket, b)
			if req.Slot != nil {
				req.Slot.b.CompareAndSwap(b, nil)
			}
			continue
		}
		b.seen = max(b.seen, t)
		ahead := max(b.tat-t, 0)
		rateOK := ahead+p.interval <= p.tau
		var end, count int64
		quotaOK := true
		if p.window > 0 {
			end = (t/p.window + 1) * p.window
			if b.quotaEnd == end {
				count = b.count
			}
			quotaOK = count < req.Limit.QuotaLimit
		}
		if rateOK && quotaOK {
			ahead += p.interval
			count++
			b.tat, b.quotaEnd, b.count = t+ahead, end, count
			b.rest = max(b.tat, end)
		}
		b.mu.Unlock()
		return decision(p, &req.Limit, rateOK, quotaOK, ahead, count, end-t), nil
	}
}

// bucketOf returns req's bucket: the one its slot remembers, else the one the map holds,
// which the slot then remembers. A remembered bucket may have been swept; Take sees it dead
// and forgets it.
func (m *Memory) bucketOf(req *Request) *bucket {
	if req.Slot == nil {
		return m.bucket(req.Bucket)
	}
	if b := req.Slot.b.Load(); b != nil {
		return b
	}
	b := m.bucket(req.Bucket)
	req.Slot.b.Store(b)
	return b
}

// bucket returns the bucket named id, creating it if need be.
func (m *Memory) bucket(id string) *bucket {
	if v, ok := m.buckets.Load(id); ok {
		return v.(*bucket)
	}
	// The map keeps its key: a copy, so that it does not pin whatever id was cut from.
	v, _ := m.buckets.LoadOrStore(strings.Clone(id), new(bucket))
	return v.(*bucket)
}

func (m *Memory) sweepLoop() {
	defer close(m.done)
	tick := time.NewTicker(sweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			m.sweep()
		}
	}
}

// sweep drops the buckets at rest, and returns how many it dropped. A bucket at rest (its
// TAT passed, its quota window over) is as good as a fresh one, so dropping it loses
// nothing. It is marked dead under its lock first, so that a Take holding it cannot record
// into it after the check.
//
// Rest is judged by the latest now any Take has brought, not by the sweeper's own clock:
// Take's now is the caller's (a test's may be anything), and a lagging clock only delays a
// drop.
func (m *Memory) sweep() (dropped int) {
	var clock int64
	m.buckets.Range(func(_, v any) bool {
		b := v.(*bucket)
		b.mu.Lock()
		clock = max(clock, b.seen)
		b.mu.Unlock()
		return true
	})
	m.buckets.Range(func(id, v any) bool {
		b := v.(*bucket)
		b.mu.Lock()
		b.dead = b.rest <= clock
		dead := b.dead
		b.mu.Unlock()
		if dead {
			m.buckets.CompareAndDelete(id, b)
			dropped++
		}
		return true
	})
	return dropped
}
