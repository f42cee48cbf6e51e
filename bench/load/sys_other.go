//go:build !linux

package main

import (
	"os/exec"
	"time"
)

// setProcAttrs leaves the server in this program's process group: a Ctrl-C reaches both,
// the server stops on its own, and stopping it again is harmless.
func setProcAttrs(*exec.Cmd) {}

// selfCPU is not read outside Linux.
func selfCPU() (time.Duration, bool) { return 0, false }

// processCPU is not read outside Linux.
func processCPU(int) (time.Duration, bool) { return 0, false }

// machineBusy is not read outside Linux.
func machineBusy() (time.Duration, bool) { return 0, false }

// childPIDs are not read outside Linux.
func childPIDs(int) []int { return nil }
