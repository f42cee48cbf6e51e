//go:build keyward_crashtest

package main

import (
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// checkpoint returns, in binaries built with the keyward_crashtest tag (the process tests
// build theirs so), a hook that kills the process without warning when the service reaches
// the point named by KEYWARD_CRASH_AT, between two writes of one operation: the crash tests
// then show the store holds all of the operation or none of it.
func checkpoint() func(point string) {
	at := os.Getenv("KEYWARD_CRASH_AT")
	if at == "" {
		return nil
	}
	return func(point string) {
		if point == at {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way; nothing more may be written
		}
	}
}

// testClock returns, in binaries built with the keyward_crashtest tag, a clock that runs
// ahead of the wall clock by the duration written in the file KEYWARD_TEST_CLOCK_FILE names
// ("24h5m"), read again at most every 50 ms: the process tests move a running server's time
// (a key's rotation day, an expiry) without waiting for it. Without the variable it is nil.
func testClock() func() time.Time {
	path := os.Getenv("KEYWARD_TEST_CLOCK_FILE")
	if path == "" {
		return nil
	}
	var (
		mu     sync.Mutex
		offset time.Duration
		readAt time.Time
	)
	return func() time.Time {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if now.Sub(readAt) > 50*time.Millisecond {
			readAt = now
			if b, err := os.ReadFile(path); err == nil {
				if d, err := time.ParseDuration(strings.TrimSpace(string(b))); err == nil {
					offset = d
				}
			}
		}
		return now.Add(offset)
	}
}
