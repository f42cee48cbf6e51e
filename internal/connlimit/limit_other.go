//go:build !unix

package connlimit

// FileLimit is a conservative guess where the descriptor limit cannot be read.
func FileLimit() uint64 { return 1024 }
