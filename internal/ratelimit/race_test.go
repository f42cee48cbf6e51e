//go:build race

package ratelimit_test

// raceEnabled is set under the race detector, whose instrumentation makes allocation counts
// and timings meaningless.
const raceEnabled = true
