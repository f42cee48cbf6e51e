package jobs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// switchLease is a lease the test hands out and takes back.
type switchLease struct {
	held     atomic.Bool
	released atomic.Bool
}

func (l *switchLease) Acquire(context.Context) (bool, error) { return l.held.Load(), nil }
func (l *switchLease) Release(context.Context) error         { l.released.Store(true); return nil }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// waitFor polls cond for up to five seconds: the runner's goroutines run on their own time.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestEveryNodeTasksRunWithoutTheLease(t *testing.T) {
	lease := &switchLease{}
	r := New(Config{Lease: lease, LeaseEvery: time.Millisecond, Logger: quiet()})
	var local, leader atomic.Int64
	r.Add(Task{Name: "local", Every: time.Millisecond, Run: func(context.Context) error { local.Add(1); return nil }})
	r.Add(Task{Name: "leader", Every: time.Millisecond, LeaderOnly: true, Run: func(context.Context) error { leader.Add(1); return nil }})
	r.Start(t.Context())
	waitFor(t, "the every-node task to run several times", func() bool { return local.Load() >= 5 })
	if n := leader.Load(); n != 0 {
		t.Errorf("the leader-only task ran %d times on a node that does not lead", n)
	}
	lease.held.Store(true)
	waitFor(t, "the leader-only task to run once the node leads", func() bool { return leader.Load() >= 3 })
	lease.held.Store(false)
	waitFor(t, "the node to notice it no longer leads", func() bool { return !r.Leader() })
	before := leader.Load()
	time.Sleep(20 * time.Millisecond)
	// One run may have begun just before the lease was checked.
	if n := leader.Load(); n > before+1 {
		t.Errorf("the leader-only task ran %d more times after the lease was lost", n-before)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !lease.released.Load() {
		t.Error("Stop did not release the lease")
	}
}

func TestAtStartRunsAtOnceAndOnLeading(t *testing.T) {
	lease := &switchLease{}
	r := New(Config{Lease: lease, LeaseEvery: time.Millisecond, Logger: quiet()})
	var local, leader atomic.Int64
	r.Add(Task{Name: "local", Every: time.Hour, AtStart: true, Run: func(context.Context) error { local.Add(1); return nil }})
	r.Add(Task{Name: "leader", Every: time.Hour, AtStart: true, LeaderOnly: true, Run: func(context.Context) error { leader.Add(1); return nil }})
	r.Start(t.Context())
	defer r.Stop(context.Background())
	waitFor(t, "the every-node task's first run", func() bool { return local.Load() == 1 })
	lease.held.Store(true)
	waitFor(t, "the leader-only task's run on leading", func() bool { return leader.Load() == 1 })
	time.Sleep(10 * time.Millisecond)
	if local.Load() != 1 || leader.Load() != 1 {
		t.Errorf("runs = %d, %d; want one each before the hour is up", local.Load(), leader.Load())
	}
}

func TestFailuresAndPanicsDoNotStopATask(t *testing.T) {
	r := New(Config{Logger: quiet()})
	var runs atomic.Int64
	r.Add(Task{Name: "flaky", Every: time.Millisecond, Run: func(context.Context) error {
		switch runs.Add(1) {
		case 1:
			return errors.New("failed once")
		case 2:
			panic("and then panicked")
		}
		return nil
	}})
	r.Start(t.Context())
	waitFor(t, "the task to run on after a failure and a panic", func() bool { return runs.Load() >= 4 })
	if err := r.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := runs.Load()
	time.Sleep(10 * time.Millisecond)
	if runs.Load() != after {
		t.Error("the task ran after Stop returned")
	}
}

func TestRunNowAndTimeout(t *testing.T) {
	r := New(Config{Logger: quiet()})
	r.Add(Task{Name: "slow", Every: time.Hour, Timeout: 5 * time.Millisecond, Run: func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}})
	if err := r.RunNow(t.Context(), "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("RunNow of a task past its timeout = %v, want the deadline", err)
	}
	if err := r.RunNow(t.Context(), "missing"); err == nil {
		t.Error("RunNow of an unknown task succeeded")
	}
}

func TestAddRefusesWiringMistakes(t *testing.T) {
	for name, task := range map[string]Task{
		"no name":     {Every: time.Second, Run: func(context.Context) error { return nil }},
		"no interval": {Name: "x", Run: func(context.Context) error { return nil }},
		"no function": {Name: "x", Every: time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Add accepted it")
				}
			}()
			New(Config{}).Add(task)
		})
	}
}
