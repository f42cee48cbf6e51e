//go:build unix

package connlimit

import "syscall"

// FileLimit is the process's current limit on open file descriptors (which the Go runtime
// has already raised to the hard limit at start), or 1024 if it cannot be read.
func FileLimit() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == 0 {
		return 1024
	}
	return rl.Cur
}
