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
	tree := helpers(pid)
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
		if running(p) {
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
		if c := comm(pid); parentOf(pid) == self && strings.Contains(c, "chrom") {
			out = append(out, strconv.Itoa(pid)+" "+c)
		}
	})
	return out
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
