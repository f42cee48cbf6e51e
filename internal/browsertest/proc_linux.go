package browsertest

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// helpers lists the processes under the browser's: zygotes, renderers, the GPU, network and
// utility processes, crashpad. Only the browser and a few of them carry --user-data-dir, by
// which chromedp finds leftovers, so Close looks them up by parentage first.
func helpers(pid int) []int {
	if pid == 0 {
		return nil
	}
	children := map[int][]int{}
	forEachProcess(func(p int) {
		if pp := parentOf(p); pp > 0 {
			children[pp] = append(children[pp], p)
		}
	})
	var out []int
	var walk func(int)
	walk = func(p int) {
		for _, c := range children[p] {
			out = append(out, c)
			walk(c)
		}
	}
	walk(pid)
	return out
}

// endHelpers waits for the helpers to exit, which they do by themselves soon after the browser
// (the zygotes when their socket closes), and kills those that are still running after a
// second. The helpers are not the test's children (they belong to the browser, and once it is
// gone to the machine's init), so there is nothing to wait for: it watches /proc.
func endHelpers(pids []int) {
	deadline := time.Now().Add(5 * time.Second)
	killAt := time.Now().Add(time.Second)
	for {
		var left []int
		for _, p := range pids {
			if running(p) {
				left = append(left, p)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return
		}
		if time.Now().After(killAt) {
			for _, p := range left {
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
		pids = left
		time.Sleep(10 * time.Millisecond)
	}
}

// running reports whether pid is a process that has not exited: a zombie has, and waits only
// for its parent to collect it.
func running(pid int) bool {
	state, ok := statusField(pid, "State:")
	return ok && !strings.HasPrefix(state, "Z")
}

func parentOf(pid int) int {
	v, _ := statusField(pid, "PPid:")
	n, _ := strconv.Atoi(v)
	return n
}

func statusField(pid int, name string) (string, bool) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "", false
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, name); ok {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

func forEachProcess(f func(pid int)) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			f(pid)
		}
	}
}
