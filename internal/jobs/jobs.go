// Package jobs runs Keyward's background work in one place, with one lifecycle: the periodic
// tasks a node runs for itself (writing its buffered key use, copying the token deny-list,
// reloading signing keys) and those one node runs for the whole deployment (pruning usage
// counts and expired denials, and scheduled rotation), started and stopped by `keyward serve`.
//
// Which node runs the deployment's tasks is decided by a Lease: a PostgreSQL advisory lock
// across nodes, or, with SQLite, trivially the one process. A lease can be lost without the
// holder knowing at once (its session dropped), so two nodes may briefly both believe they
// lead: a leader-only task must be safe to run twice at once (every task here relies on the
// store's atomic operations for that), and leading is about not doing the work N times, not
// about correctness.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Task is one periodic job.
type Task struct {
	// Name names the task in logs and for RunNow.
	Name string
	// Every is the time between the end of one run and the start of the next.
	Every time.Duration
	// LeaderOnly tasks run only on the node that holds the lease.
	LeaderOnly bool
	// AtStart runs the task once as soon as the runner starts (and, for a leader-only task,
	// as soon as the node leads), rather than after the first interval.
	AtStart bool
	// Timeout bounds one run (default 1 minute).
	Timeout time.Duration
	// Run does the work once. An error is logged; the task runs again at its next time.
	Run func(ctx context.Context) error
}

// Lease decides whether this node leads.
type Lease interface {
	// Acquire tries to hold the lease, or checks it is still held, and reports whether this
	// node holds it now.
	Acquire(ctx context.Context) (bool, error)
	// Release gives the lease up.
	Release(ctx context.Context) error
}

// Solo is the lease of a deployment of one process (SQLite): always held.
type Solo struct{}

// Acquire implements Lease.
func (Solo) Acquire(context.Context) (bool, error) { return true, nil }

// Release implements Lease.
func (Solo) Release(context.Context) error { return nil }

// Config configures a Runner.
type Config struct {
	// Lease decides whether this node runs leader-only tasks (default Solo).
	Lease Lease
	// LeaseEvery is how often the lease is acquired or checked (default 5 s): how long a
	// new leader may take to start after the old one is gone.
	LeaseEvery time.Duration
	Logger     *slog.Logger
}

// Runner runs tasks until Stop. It is safe for concurrent use.
type Runner struct {
	cfg    Config
	log    *slog.Logger
	leader atomic.Bool
	// led is closed and replaced each time this node becomes the leader, to wake the
	// leader-only tasks that run at start.
	ledMu sync.Mutex
	led   chan struct{}

	mu      sync.Mutex
	tasks   map[string]*Task
	started bool
	stop    context.CancelFunc
	wg      sync.WaitGroup
}

// New returns a Runner; add its tasks, then Start it.
func New(cfg Config) *Runner {
	if cfg.Lease == nil {
		cfg.Lease = Solo{}
	}
	if cfg.LeaseEvery <= 0 {
		cfg.LeaseEvery = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Runner{cfg: cfg, log: cfg.Logger, tasks: map[string]*Task{}, led: make(chan struct{})}
}

// Add adds a task. It panics on a task without a name, interval or function, or on a second
// task of one name: those are wiring mistakes.
func (r *Runner) Add(t Task) {
	if t.Name == "" || t.Every <= 0 || t.Run == nil {
		panic(fmt.Sprintf("jobs: task %q needs a name, an interval and a function", t.Name))
	}
	if t.Timeout <= 0 {
		t.Timeout = time.Minute
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.tasks[t.Name]; dup {
		panic("jobs: two tasks named " + t.Name)
	}
	if r.started {
		panic("jobs: task " + t.Name + " added after Start")
	}
	r.tasks[t.Name] = &t
}

// Start starts the lease and every task. The tasks outlive ctx's cancellation only until
// Stop; ctx's values reach every run.
func (r *Runner) Start(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return
	}
	r.started = true
	ctx, r.stop = context.WithCancel(context.WithoutCancel(ctx))
	r.wg.Add(1)
	go r.lead(ctx)
	for _, t := range r.tasks {
		r.wg.Add(1)
		go r.loop(ctx, t)
	}
}

// Stop stops every task, waits for runs in progress, and gives up the lease.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	stop := r.stop
	r.stop = nil
	r.mu.Unlock()
	if stop == nil {
		return nil
	}
	stop()
	r.wg.Wait()
	r.leader.Store(false)
	return r.cfg.Lease.Release(ctx)
}

// Leader reports whether this node held the lease at its last check.
func (r *Runner) Leader() bool { return r.leader.Load() }

// RunNow runs the named task once, now, on this node, whether or not it leads, and returns
// its error (tests, and operators' commands).
func (r *Runner) RunNow(ctx context.Context, name string) error {
	r.mu.Lock()
	t, ok := r.tasks[name]
	r.mu.Unlock()
	if !ok {
		return errors.New("jobs: no task " + name)
	}
	return r.run(ctx, t)
}

// lead acquires the lease, and checks it, every LeaseEvery.
func (r *Runner) lead(ctx context.Context) {
	defer r.wg.Done()
	tick := time.NewTicker(r.cfg.LeaseEvery)
	defer tick.Stop()
	for {
		actx, cancel := context.WithTimeout(ctx, r.cfg.LeaseEvery)
		held, err := r.cfg.Lease.Acquire(actx)
		cancel()
		if err != nil && ctx.Err() == nil {
			r.log.Warn("jobs: the leader lease could not be checked; leading nothing until it can", "err", err)
		}
		if was := r.leader.Swap(held); held != was {
			r.log.Info("jobs: leadership changed", "leader", held)
			if held {
				r.ledMu.Lock()
				close(r.led)
				r.led = make(chan struct{})
				r.ledMu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// becameLeader returns a channel closed the next time this node becomes the leader.
func (r *Runner) becameLeader() <-chan struct{} {
	r.ledMu.Lock()
	defer r.ledMu.Unlock()
	return r.led
}

func (r *Runner) loop(ctx context.Context, t *Task) {
	defer r.wg.Done()
	timer := time.NewTimer(t.Every)
	defer timer.Stop()
	now := t.AtStart // run without waiting for the interval, once this node may
	for {
		if now && (!t.LeaderOnly || r.Leader()) {
			r.logged(ctx, t)
			now = false
			timer.Reset(t.Every)
		}
		var led <-chan struct{}
		if t.LeaderOnly && t.AtStart {
			// The channel first, then the check: a leadership won in between closes it.
			led = r.becameLeader()
			if r.Leader() {
				if now {
					continue
				}
				led = nil
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-led:
			now = true
			continue
		case <-timer.C:
		}
		if !t.LeaderOnly || r.Leader() {
			r.logged(ctx, t)
		}
		timer.Reset(t.Every)
	}
}

// logged runs t once and logs a failure.
func (r *Runner) logged(ctx context.Context, t *Task) {
	if err := r.run(ctx, t); err != nil && ctx.Err() == nil {
		r.log.Warn("jobs: task failed", "task", t.Name, "err", err)
	}
}

// run runs t once within its timeout; a panic is an error, not the end of the process.
func (r *Runner) run(ctx context.Context, t *Task) (err error) {
	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("jobs: task %s panicked: %v", t.Name, v)
		}
	}()
	return t.Run(ctx)
}
