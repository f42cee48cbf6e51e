//go:build keyward_crashtest

package main

import (
	"os"
	"syscall"
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
