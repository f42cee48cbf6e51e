//go:build !keyward_crashtest

package main

import "time"

// checkpoint is the service's hook between the writes of one operation: none in a real
// binary. The process tests build with the keyward_crashtest tag, which brings one that
// crashes on cue (checkpoint_crashtest.go).
func checkpoint() func(point string) { return nil }

// testClock is the clock of the process tests (checkpoint_crashtest.go): none here.
func testClock() func() time.Time { return nil }
