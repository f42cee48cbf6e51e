// Package browsertest drives a real, headless Chromium from Go tests through chromedp, so that
// the dashboard's tests exercise what a browser really does: HTML parsing, forms, cookies,
// Content-Security-Policy, media queries. It never downloads a browser: it runs the one the
// machine has (Debian's chromium package), and fails the test with the install command when
// there is none.
//
// It is a test helper: only _test.go files of other packages import it.
//
//	b := browsertest.New(t)
//	tab := b.Tab(t)
//	tab.Navigate(srv.URL + "/ui/")
//	if got := tab.Text("h1"); got != "Keys" { ... }
//	if v := browsertest.SeriousViolations(tab.Axe(t)); len(v) > 0 { ... }
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"
)

// Environment variables that New reads.
const (
	// EnvChromium names the browser's executable; without it New looks on PATH.
	EnvChromium = "KEYWARD_TEST_CHROMIUM"
	// EnvSkip set to 1 makes a missing browser skip the test instead of failing it.
	EnvSkip = "KEYWARD_TEST_SKIP_BROWSER"
)

// candidates are the executables New looks for on PATH, in order.
var candidates = []string{"chromium", "chromium-browser", "chromium-headless-shell", "google-chrome"}

// Timeouts. Every action of a Tab runs under ActionTimeout; starting the browser and opening a
// tab, which chromedp cannot run under a deadline (the context of the first call owns the
// process or the tab), are stopped by a timer after StartTimeout.
const (
	ActionTimeout = 20 * time.Second
	StartTimeout  = 30 * time.Second
	closeTimeout  = 10 * time.Second
)

// Browser is one headless browser process, shared by the tabs of a test.
type Browser struct {
	// Path is the executable that runs, Version the product it reports (e.g.
	// "Chrome/156.0.8078.114").
	Path, Version string

	allocCancel context.CancelFunc
	ctx         context.Context
	cancel      context.CancelFunc
	pid         int
	closeOnce   sync.Once
	output      syncBuffer
}

// findBrowser returns the executable to run, or "" when the machine has none.
func findBrowser() string {
	if p := os.Getenv(EnvChromium); p != "" {
		if full, err := exec.LookPath(p); err == nil {
			return full
		}
		return ""
	}
	for _, name := range candidates {
		if full, err := exec.LookPath(name); err == nil {
			return full
		}
	}
	return ""
}

// allocatorOptions are the flags the browser starts with: chromedp's defaults (headless, no
// first run, no default-browser check, no background networking, no extensions, no sync,
// --disable-dev-shm-usage, ...) plus what a container or CI runner as root needs. No sandbox:
// Chromium's sandbox refuses to run as root and needs user namespaces that containers often
// lack; the pages are our own, served on 127.0.0.1. No GPU: there is none, and software GL is
// not needed for screenshots. The user-data-dir is chromedp's own temporary directory, which it
// removes (after killing any leftover child that still uses it) when the allocator ends.
func allocatorOptions(path string, output *syncBuffer) []chromedp.ExecAllocatorOption {
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	return append(opts,
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.Flag("accept-lang", "en-US"),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(output),
	)
}

// New starts a headless browser for the test and stops it when the test ends (or at Close).
// Without a browser on the machine it fails the test, naming the package to install, unless
// KEYWARD_TEST_SKIP_BROWSER=1, which skips it.
func New(t testing.TB) *Browser {
	t.Helper()
	path := findBrowser()
	if path == "" {
		where := "none of " + strings.Join(candidates, ", ") + " is on PATH"
		if p := os.Getenv(EnvChromium); p != "" {
			where = EnvChromium + "=" + p + " is not an executable"
		}
		if os.Getenv(EnvSkip) == "1" {
			t.Skipf("browsertest: no browser (%s); skipping, as %s=1", where, EnvSkip)
		}
		t.Fatalf("browsertest: no browser: %s. Install one: apt-get install chromium "+
			"(or set %s to a Chromium or Chrome executable; %s=1 skips these tests)", where, EnvChromium, EnvSkip)
	}

	b := &Browser{Path: path}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), allocatorOptions(path, &b.output)...)
	b.allocCancel = allocCancel
	b.ctx, b.cancel = chromedp.NewContext(allocCtx,
		chromedp.WithErrorf(func(format string, args ...any) { t.Logf("browsertest: chromedp: "+format, args...) }))
	t.Cleanup(b.Close)

	// The first call starts the process and must not run under a deadline, which would end the
	// browser with it; a timer cancels it instead if the start hangs.
	var ver browser.GetVersionResult
	err := bounded(b.cancel, StartTimeout, func() error {
		var err error
		ver, err = chromedp.CallBrowser(b.ctx, browser.GetVersion, cdp.Empty{})
		return err
	})
	if err != nil {
		b.Close()
		t.Fatalf("browsertest: starting %s: %v\nits last output:\n%s", path, err, lastLines(b.output.Bytes(), 20))
	}
	b.Version = ver.Product
	if p := chromedp.FromContext(b.ctx).Browser.Process(); p != nil {
		b.pid = p.Pid
	}
	return b
}

// PID is the browser's main process id (0 when unknown), for tests of the harness itself.
func (b *Browser) PID() int { return b.pid }

// Close stops the browser: politely first (Browser.close), then by cancelling the allocator,
// which kills what is left, waits for the process and removes its user-data-dir; then it
// waits for the browser's helper processes to be gone too (killing stragglers after a second). It runs at
// the end of the test by itself; calling it earlier, or twice, is fine.
func (b *Browser) Close() {
	b.closeOnce.Do(func() {
		helpers := helpers(b.pid)
		ctx, cancel := context.WithTimeout(b.ctx, closeTimeout)
		_ = chromedp.Cancel(ctx) // errors here mean it was already gone; the allocator makes sure
		cancel()
		b.cancel()
		b.allocCancel()
		endHelpers(helpers)
	})
}

// bounded runs f, cancelling through cancel if it has not returned after d, and reports the
// timeout as such.
func bounded(cancel context.CancelFunc, d time.Duration, f func() error) error {
	timedOut := make(chan struct{})
	timer := time.AfterFunc(d, func() { close(timedOut); cancel() })
	err := f()
	if !timer.Stop() {
		<-timedOut
		return errors.Join(errors.New("timed out after "+d.String()), err)
	}
	return err
}

// syncBuffer collects the browser's stdout and stderr, which chromedp writes from its own
// goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.buf.Bytes())
}

// lastLines returns the end of a browser's output, for error messages.
func lastLines(b []byte, n int) string {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
