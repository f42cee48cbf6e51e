package main

import (
	"bufio"
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
// after its own, so that they win. It returns once the server answers /readyz and, if
// needToken, has printed its admin key. On error nothing is left running.
func startKeyward(ctx context.Context, bin string, extra []string, needToken bool, progress io.Writer) (_ *keywardProcess, err error) {
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
	if err := p.waitReady(ctx, 60*time.Second, needToken); err != nil {
		return nil, err
	}
	return p, nil
}

// waitReady waits for a 200 from /readyz and, if needToken, the admin key on stderr.
func (p *keywardProcess) waitReady(ctx context.Context, limit time.Duration, needToken bool) error {
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
		if p.token = p.log.adminKey(); p.token == "" && needToken {
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

// bareServerEnv, set to 1, makes this program a bare server instead of a load generator:
// the harness starts itself that way so that the baseline, like Keyward, is a process of its
// own.
const bareServerEnv = "KEYWARD_BENCH_BARE_SERVER"

// newBareServer is bareVerify behind an http.Server with the timeouts Keyward uses.
func newBareServer() *http.Server {
	return &http.Server{
		Handler:           http.HandlerFunc(bareVerify),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
}

// runChild makes this program one of the harness's own servers when the environment says
// so (bareServerEnv, bareProxyEnv), and reports whether it did, with the exit code.
func runChild() (int, bool) {
	if os.Getenv(bareServerEnv) == "1" {
		return serveChild(os.Stdin, os.Stdout, newBareServer(), "/v1/keys/verify"), true
	}
	if upstream := os.Getenv(bareProxyEnv); upstream != "" {
		srv, err := newBareProxy(upstream)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bare proxy:", err)
			return 1, true
		}
		return serveChild(os.Stdin, os.Stdout, srv, proxiedPath), true
	}
	return 0, false
}

// serveChild is a server process of the harness's: it listens on a free port of 127.0.0.1,
// writes the URL of path there as one line on stdout, and serves srv until its stdin closes
// (the harness closes it to stop it, and the kernel does when the harness dies).
func serveChild(stdin io.Reader, stdout io.Writer, srv *http.Server, path string) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bare server:", err)
		return 1
	}
	go func() {
		io.Copy(io.Discard, stdin)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			srv.Close()
		}
	}()
	fmt.Fprintf(stdout, "http://%s%s\n", ln.Addr(), path)
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "bare server:", err)
		return 1
	}
	return 0
}

// bareServer is the baseline server (or the bare proxy, or the upstream behind both
// proxies), in this process or in a process of its own.
type bareServer struct {
	url  string
	pid  int // 0 when it runs in this process
	stop func()
}

// startBare starts the baseline: in a child process running this same program (the
// default, a mirror of Keyward's own process), or, with inProcess, in this process.
func startBare(inProcess bool) (*bareServer, error) {
	if inProcess {
		return startBareHere()
	}
	return startChild(bareServerEnv + "=1")
}

// startChild runs this same program with env added to its environment, which makes it one
// of the harness's servers (see runChild), and returns once it has said where it listens.
func startChild(env string) (*bareServer, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	setProcAttrs(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() {
		stdin.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		if s.Scan() {
			line <- s.Text()
		}
		close(line)
		io.Copy(io.Discard, stdout)
	}()
	select {
	case u, ok := <-line:
		if ok && strings.HasPrefix(u, "http://127.0.0.1:") {
			return &bareServer{url: u, pid: cmd.Process.Pid, stop: stop}, nil
		}
	case <-time.After(30 * time.Second):
	}
	stop()
	return nil, errors.New("the child server process did not say where it listens")
}

// startBareHere serves bareVerify on 127.0.0.1 in this process.
func startBareHere() (*bareServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := newBareServer()
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
	return &bareServer{url: "http://" + ln.Addr().String() + "/v1/keys/verify", stop: stop}, nil
}
