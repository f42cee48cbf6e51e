package browsertest

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestCloseLeavesNoProcess(t *testing.T) {
	srv := server(t)
	b := New(t)
	tab := b.Tab(t)
	tab.Navigate(srv.URL + "/")
	pid := b.PID()
	if pid == 0 {
		t.Fatal("no browser pid")
	}
	dataDir := userDataDir(t, pid)
	tree := descendants(pid)
	if len(tree) == 0 {
		t.Fatalf("the browser (%d) has no helper processes; the test would check nothing", pid)
	}
	t.Logf("browser %d with %d helpers: %v", pid, len(tree), tree)
	start := time.Now()
	b.Close()
	t.Logf("Close took %v", time.Since(start).Round(time.Millisecond))
	if left := ours(dataDir); len(left) > 0 {
		t.Errorf("processes with the user-data-dir left after Close: %v", left)
	}
	for _, p := range append(tree, pid) {
		if alive(p) {
			t.Errorf("process %d (%s) of the browser is still there after Close", p, comm(p))
		}
	}
	if kids := chromiumChildren(); len(kids) > 0 {
		t.Errorf("chromium children of the test left after Close: %v", kids)
	}
	if _, err := os.Stat(dataDir); !os.IsNotExist(err) {
		t.Errorf("user-data-dir %s still there: %v", dataDir, err)
	}
	b.Close() // twice is fine
}

// userDataDir reads the --user-data-dir of the browser's main process.
func userDataDir(t *testing.T, pid int) string {
	t.Helper()
	for _, arg := range cmdline(pid) {
		if dir, ok := strings.CutPrefix(arg, "--user-data-dir="); ok {
			return dir
		}
	}
	t.Fatalf("process %d has no --user-data-dir: %q", pid, cmdline(pid))
	return ""
}

// ours lists the processes (as "pid comm") that run with the user-data-dir: the browser and
// every helper it started (zygote, renderers, network service, crashpad).
func ours(dataDir string) []string {
	var out []string
	forEachProcess(func(pid int) {
		for _, arg := range cmdline(pid) {
			if arg == "--user-data-dir="+dataDir {
				out = append(out, strconv.Itoa(pid)+" "+comm(pid))
				return
			}
		}
	})
	return out
}

// chromiumChildren lists the test process's children that are a browser (zombies included:
// one that was not waited for).
func chromiumChildren() []string {
	self := os.Getpid()
	var out []string
	forEachProcess(func(pid int) {
		if c := comm(pid); ppid(pid) == self && strings.Contains(c, "chrom") {
			out = append(out, strconv.Itoa(pid)+" "+c)
		}
	})
	return out
}

// descendants lists the processes under pid: the zygotes, renderers, GPU and utility
// processes, crashpad.
func descendants(pid int) []int {
	children := map[int][]int{}
	forEachProcess(func(p int) {
		if pp := ppid(p); pp > 0 {
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

// alive reports whether pid is a process that has not been reaped; a zombie counts, since it
// means nobody waited for it.
func alive(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

func ppid(pid int) int {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

func forEachProcess(f func(pid int)) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			f(pid)
		}
	}
}

func cmdline(pid int) []string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	var out []string
	for arg := range bytes.SplitSeq(bytes.TrimRight(b, "\x00"), []byte{0}) {
		out = append(out, string(arg))
	}
	return out
}

func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}
