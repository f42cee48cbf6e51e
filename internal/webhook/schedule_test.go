package webhook_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/webhook"
)

// fixedSource always draws the same number, so that Float64 is known: 0 gives 0, 1<<52
// gives 0.5, and all 53 low bits set give the largest value below 1.
type fixedSource uint64

func (s fixedSource) Uint64() uint64 { return uint64(s) }

var (
	lowest  = rand.New(fixedSource(0))
	middle  = rand.New(fixedSource(1 << 52))
	highest = rand.New(fixedSource(1<<53 - 1))
)

func TestSchedule(t *testing.T) {
	want := []time.Duration{
		5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
		10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
	}
	got := webhook.Schedule()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Schedule (-want +got):\n%s", diff)
	}
	var total time.Duration
	for _, d := range got {
		total += d
	}
	if want := 75*time.Hour + 35*time.Minute + 5*time.Second; total != want {
		t.Errorf("the schedule spans %v, want %v (a little over three days)", total, want)
	}
	if webhook.MaxAttempts != len(want)+1 {
		t.Errorf("MaxAttempts got %d, want %d", webhook.MaxAttempts, len(want)+1)
	}
	got[0] = 0
	if webhook.Schedule()[0] != 5*time.Second {
		t.Errorf("changing Schedule's result changed the schedule")
	}
}

func TestNextAttempt(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name    string
		attempt int
		rnd     *rand.Rand
		want    time.Duration // after now
		wantOK  bool
	}{
		{name: "none made yet", attempt: 0, rnd: middle, want: 0, wantOK: true},
		{name: "after the first", attempt: 1, rnd: middle, want: 5 * time.Second, wantOK: true},
		{name: "after the second", attempt: 2, rnd: middle, want: 5 * time.Minute, wantOK: true},
		{name: "after the fifth", attempt: 5, rnd: middle, want: 5 * time.Hour, wantOK: true},
		{name: "after the ninth", attempt: 9, rnd: middle, want: 24 * time.Hour, wantOK: true},
		{name: "lowest jitter", attempt: 9, rnd: lowest, want: 24 * time.Hour * 8 / 10, wantOK: true},
		{name: "lowest jitter, first", attempt: 1, rnd: lowest, want: 4 * time.Second, wantOK: true},
		{name: "after the last", attempt: 10, rnd: middle, wantOK: false},
		{name: "past the last", attempt: 11, rnd: middle, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, ok := webhook.NextAttempt(tt.attempt, now, tt.rnd)
			if ok != tt.wantOK {
				t.Fatalf("got ok %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				if !at.IsZero() {
					t.Errorf("got %v with ok false, want the zero time", at)
				}
				return
			}
			if got := at.Sub(now); got != tt.want {
				t.Errorf("got now+%v, want now+%v", got, tt.want)
			}
		})
	}
}

// TestNextAttemptJitterBounds: every delay stays within ±20% of the schedule's, at the
// extremes of the random source and for many draws of a real one.
func TestNextAttemptJitterBounds(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	seeded := rand.New(rand.NewPCG(1, 2))
	for i, d := range webhook.Schedule() {
		attempt := i + 1
		lo, hi := time.Duration(float64(d)*0.8), time.Duration(float64(d)*1.2)
		check := func(name string, rnd *rand.Rand) time.Duration {
			t.Helper()
			at, ok := webhook.NextAttempt(attempt, now, rnd)
			got := at.Sub(now)
			if !ok || got < lo || got > hi {
				t.Fatalf("attempt %d, %s: got now+%v (ok %v), want within [%v, %v]", attempt, name, got, ok, lo, hi)
			}
			return got
		}
		if got := check("lowest", lowest); got != lo {
			t.Errorf("attempt %d, lowest: got now+%v, want now+%v", attempt, got, lo)
		}
		if got := check("highest", highest); hi-got > time.Millisecond {
			t.Errorf("attempt %d, highest: got now+%v, want just under now+%v", attempt, got, hi)
		}
		seen := map[time.Duration]bool{}
		for range 200 {
			seen[check("seeded", seeded)] = true
			check("global", nil)
		}
		if len(seen) < 100 {
			t.Errorf("attempt %d: 200 draws gave %d different times, want them spread", attempt, len(seen))
		}
	}
}
