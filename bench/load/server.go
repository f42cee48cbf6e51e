package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"
)

// keywardProcess is a `keyward serve` this program started on 127.0.0.1, with a temporary
// data directory that stop removes.
type keywardProcess struct {
	dir   string
	url   string
	token string
	log   *serverLog

	cmd     *exec.Cmd
	exited  chan struct{} // closed once the process has been waited for
	waitErr error
}

// startKeyward builds Keyward (unless bin names a binary) and starts it with extra flags
// after its own, so that they win. It returns once the server has printed its admin key and
// answers /readyz. On error nothing is left running.
func startKeyward(ctx context.Context, bin string, extra []string, progress io.Writer) (_ *keywardProcess, err error) {
	dir, err := os.MkdirTemp("", "keyward-bench-")
	if err != nil {
		return nil, err
	}
	p := &keywardProcess{dir: dir, log: newServerLog(20)}
	defer func() {
		if err != nil {
			p.stop()
		}
	}()

	if bin == "" {
		bin = filepath.Join(dir, "keyward")
		if runtime.GOOS == "windows" {
			bin += ".exe"
		}
		fmt.Fprintln(progress, "building keyward …")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/keyward/keyward/cmd/keyward")
		build.Stdout, build.Stderr = progress, progress
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("building keyward (run from the repository, or pass -keyward-bin): %w", err)
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--addr", addr, "--data", filepath.Join(dir, "data"), "--log-level", "warn"}, extra...)
	// Not CommandContext: an interrupted run must still stop the server gracefully, in stop.
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	p.cmd.WaitDelay = 5 * time.Second
	setProcAttrs(p.cmd)
	if err := p.cmd.Start(); err != nil {
		p.cmd = nil
		return nil, fmt.Errorf("starting keyward: %w", err)
	}
	p.exited = make(chan struct{})
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	p.url = "http://" + addr
	if err := p.waitReady(ctx, 60*time.Second); err != nil {
		return nil, err
	}
	return p, nil
}

// waitReady waits for the admin key on stderr and a 200 from /readyz.
func (p *keywardProcess) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-p.exited:
			return fmt.Errorf("keyward exited before it was ready (%v); its last output:\n%s", p.waitErr, strings.Join(p.log.tail(), "\n"))
		case <-deadline.C:
			return fmt.Errorf("keyward was not ready within %s; its last output:\n%s", limit, strings.Join(p.log.tail(), "\n"))
		case <-tick.C:
		}
		if p.token = p.log.adminKey(); p.token == "" {
			continue
		}
		resp, err := hc.Get(p.url + "/readyz")
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
}

// pid is the server's process id, or 0.
func (p *keywardProcess) pid() int {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// stop interrupts the server so that it shuts down gracefully, kills it if it has not
// stopped within 20 s, waits for it, and removes the data directory. It reports how the
// process ended.
func (p *keywardProcess) stop() error {
	var err error
	if p.cmd != nil {
		select {
		case <-p.exited:
		default:
			if p.cmd.Process.Signal(os.Interrupt) != nil {
				p.cmd.Process.Kill()
			}
			select {
			case <-p.exited:
			case <-time.After(20 * time.Second):
				p.cmd.Process.Kill()
				<-p.exited
				err = errors.New("keyward did not stop within 20 s of an interrupt and was killed")
			}
		}
		if err == nil && p.waitErr != nil {
			err = fmt.Errorf("keyward exited with %v", p.waitErr)
		}
	}
	return errors.Join(err, os.RemoveAll(p.dir))
}

// freeAddr finds a free port on 127.0.0.1. Another process could take it before Keyward
// listens on it; Keyward would then fail to start, and the run with it.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// adminKeyPattern matches the admin key in Keyward's first-start banner.
var adminKeyPattern = regexp.MustCompile(`kwadmin_[A-Za-z0-9]+`)

// serverLog is where the server's output goes. It takes the admin key out of the first-start
// banner, keeps the banner out of the log (the key is a secret), and keeps a count and the
// last lines of the rest: at --log-level warn, every line is worth a look.
type serverLog struct {
	mu       sync.Mutex
	partial  []byte
	inBanner bool
	key      string
	lines    int
	last     []string
	keep     int
}

func newServerLog(keep int) *serverLog { return &serverLog{keep: keep} }

// Write takes output in any chunks and handles it line by line.
func (l *serverLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	if len(l.partial) > 64<<10 { // a runaway line without an end: keep memory bounded
		l.line(string(l.partial))
		l.partial = l.partial[:0]
	}
	return len(b), nil
}

func (l *serverLog) line(s string) {
	if strings.Contains(s, "Keyward created the root admin key") {
		l.inBanner = true
	}
	if k := adminKeyPattern.FindString(s); k != "" {
		if l.key == "" {
			l.key = k
		}
		if strings.Contains(s, "export KEYWARD_TOKEN=") {
			l.inBanner = false
		}
		return
	}
	if l.inBanner || strings.TrimSpace(s) == "" {
		return
	}
	l.lines++
	l.last = append(l.last, s)
	if len(l.last) > l.keep {
		l.last = l.last[1:]
	}
}

func (l *serverLog) adminKey() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.key
}

// tail is the last lines the server wrote, banner left out.
func (l *serverLog) tail() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.last...)
}

func (l *serverLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines
}

// bareAnswer is what the baseline server answers to every request.
var bareAnswer = []byte(`{"valid":true}`)

// bareVerify reads the request body and answers 200 {"valid":true}: the least a verification
// endpoint over net/http can do, against which Keyward's cost is measured.
func bareVerify(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20)); err != nil {
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(bareAnswer)
}

// startBare serves bareVerify on 127.0.0.1 in this process, with the server timeouts
// Keyward uses. It returns the URL to post to and a function that stops the server.
func startBare() (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(bareVerify),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	served := make(chan struct{})
	go func() {
		srv.Serve(ln)
		close(served)
	}()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
		<-served
	}
	return "http://" + ln.Addr().String() + "/v1/keys/verify", stop, nil
}
