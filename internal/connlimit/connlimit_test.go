package connlimit_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/connlimit"
)

// entered hears of each request to /block reaching its handler.
var entered = make(chan struct{}, 1)

// serve runs an HTTP server capped at max connections whose handler for /block blocks while
// release is open, and returns its address and listener.
func serve(t *testing.T, max int, release chan struct{}) (string, *connlimit.Listener) {
	t.Helper()
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := connlimit.New(tcp, max)
	srv := &http.Server{
		Handler: connlimit.Track(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				entered <- struct{}{}
				<-release
			}
			io.WriteString(w, "ok")
		})),
		ConnContext: l.ConnContext,
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return tcp.Addr().String(), l
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// get sends a GET on c and returns the status line, or the error reading it.
func get(c net.Conn, path string) (string, error) {
	if _, err := io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

// waitOpen waits until the listener holds n connections.
func waitOpen(t *testing.T, l *connlimit.Listener, n int) {
	t.Helper()
	for range 500 {
		if l.Stats().Open == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the listener holds %d connections, want %d", l.Stats().Open, n)
}

func TestNewConnectionReplacesTheLongestIdle(t *testing.T) {
	addr, l := serve(t, 2, make(chan struct{}))
	oldest := dial(t, addr)
	waitOpen(t, l, 1)
	time.Sleep(5 * time.Millisecond) // the two must not share an idle-since time
	younger := dial(t, addr)
	waitOpen(t, l, 2)
	newest := dial(t, addr)
	if got, err := get(newest, "/"); err != nil || got != "HTTP/1.1 200 OK" {
		t.Fatalf("the newest connection: %q %v", got, err)
	}
	if _, err := get(oldest, "/"); err == nil {
		t.Error("the longest idle connection was not closed to make room")
	}
	if got, err := get(younger, "/"); err != nil || got != "HTTP/1.1 200 OK" {
		t.Errorf("the younger connection was cut: %q %v", got, err)
	}
	if st := l.Stats(); st.Evicted != 1 || st.Refused != 0 || st.Max != 2 {
		t.Errorf("stats %+v, want 1 evicted", st)
	}
}

func TestBusyConnectionsAreNeverCut(t *testing.T) {
	release := make(chan struct{})
	addr, l := serve(t, 1, release)
	busy := dial(t, addr)
	if _, err := io.WriteString(busy, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	<-entered
	newcomer := dial(t, addr)
	if _, err := get(newcomer, "/"); err == nil {
		t.Error("a connection over the cap was served while the only one held was busy")
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(busy).ReadString('\n'); err != nil || strings.TrimSpace(line) != "HTTP/1.1 200 OK" {
		t.Errorf("the busy connection was cut: %q %v", line, err)
	}
	if st := l.Stats(); st.Refused != 1 || st.Evicted != 0 {
		t.Errorf("stats %+v, want 1 refused", st)
	}
}

func TestForFileLimit(t *testing.T) {
	for _, tc := range []struct {
		limit uint64
		want  int
	}{{1024, 768}, {256, 192}, {100, 36}, {64, 1}, {1 << 20, 786432}} {
		if got := connlimit.ForFileLimit(tc.limit); got != tc.want {
			t.Errorf("ForFileLimit(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
}
