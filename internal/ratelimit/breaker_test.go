package ratelimit

import (
	"testing"
	"time"
)

func TestBreaker(t *testing.T) {
	b := breaker{cooldown: int64(time.Hour), epoch: time.Now()}
	admit := func(name string, wantProbe, wantOK bool) {
		t.Helper()
		if probe, ok := b.admit(); probe != wantProbe || ok != wantOK {
			t.Fatalf("%s: admit got probe %v, ok %v; want %v, %v", name, probe, ok, wantProbe, wantOK)
		}
	}
	// cooled makes the cooldown pass.
	cooled := func() { b.openUntil.Store(1) }

	admit("closed", false, true)
	b.answered(false)
	admit("still closed", false, true)

	b.trip(false)
	admit("open", false, false)
	cooled()
	admit("cooled", true, true)
	admit("while probing", false, false)
	b.trip(true)
	admit("probe failed", false, false)
	cooled()
	admit("cooled again", true, true)
	b.release(true) // the caller gave up: no verdict
	admit("after no verdict", true, true)
	b.answered(true)
	admit("probe answered", false, true)
}
