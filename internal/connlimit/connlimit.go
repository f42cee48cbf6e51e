// Package connlimit caps the connections an HTTP server holds open, so that a flood of slow
// or idle connections (slowloris) cannot use up the process's file descriptors and starve
// the requests that matter.
//
// A cap alone would not be enough: once slow connections fill it, a plain limit (like
// x/net/netutil.LimitListener) makes every new client wait behind them. Here a new
// connection over the cap takes the place of the connection that has waited longest without
// a request in its handler: one trickling its headers, or idle between keep-alive requests.
// A connection whose request is being answered is never cut; only when every connection is
// busy is the newcomer closed at once. Legitimate clients thus get through as long as the
// attacker's connections are not all mid-request, which a request-body deadline bounds.
package connlimit

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Listener is a net.Listener that holds at most Max connections. Serve it with an
// http.Server whose ConnContext is the Listener's ConnContext and whose handler is wrapped
// in Track, so that it knows which connections are busy.
type Listener struct {
	net.Listener
	max int
	now func() time.Time

	mu    sync.Mutex
	conns map[*conn]struct{}

	evicted, refused atomic.Uint64
}

// New caps l at n connections (at least 1).
func New(l net.Listener, n int) *Listener {
	return &Listener{Listener: l, max: max(n, 1), now: time.Now, conns: make(map[*conn]struct{})}
}

// ForFileLimit is the cap that suits a file-descriptor limit: three quarters of it, leaving
// the rest (at least 64) for the database, Redis, webhook deliveries and files.
func ForFileLimit(limit uint64) int {
	reserve := max(limit/4, 64)
	if limit <= reserve+1 {
		return 1
	}
	return int(min(limit-reserve, 1<<30))
}

// Stats are the listener's counters.
type Stats struct {
	Open    int    // connections held now
	Max     int    // the cap
	Evicted uint64 // connections closed to make room for newer ones
	Refused uint64 // new connections closed because every held one was busy
}

// Stats returns the counters, for metrics.
func (l *Listener) Stats() Stats {
	l.mu.Lock()
	open := len(l.conns)
	l.mu.Unlock()
	return Stats{Open: open, Max: l.max, Evicted: l.evicted.Load(), Refused: l.refused.Load()}
}

// Accept waits for the next connection and makes room for it if the cap is reached.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		lc := &conn{Conn: c, l: l}
		lc.idleSince.Store(l.now().UnixNano())
		l.mu.Lock()
		if len(l.conns) >= l.max {
			victim := l.longestIdleLocked()
			if victim == nil {
				l.mu.Unlock()
				l.refused.Add(1)
				c.Close()
				continue
			}
			delete(l.conns, victim)
			l.evicted.Add(1)
			// Closing the socket makes the server's read on it fail; its goroutine ends
			// and calls Close on the conn, which finds it already gone from the map.
			victim.Conn.Close()
		}
		l.conns[lc] = struct{}{}
		l.mu.Unlock()
		return lc, nil
	}
}

// longestIdleLocked is the held connection without a request in a handler that has been so
// the longest, or nil if every one is busy.
func (l *Listener) longestIdleLocked() *conn {
	var victim *conn
	var oldest int64
	for c := range l.conns {
		if c.busy.Load() > 0 {
			continue
		}
		if since := c.idleSince.Load(); victim == nil || since < oldest {
			victim, oldest = c, since
		}
	}
	return victim
}

// conn is a held connection.
type conn struct {
	net.Conn
	l         *Listener
	busy      atomic.Int32 // requests of this connection in a handler now
	idleSince atomic.Int64 // when it last had none, in Unix nanoseconds
	closeOnce sync.Once
}

func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

type connKey struct{}

// ConnContext is the http.Server ConnContext hook that lets Track find a request's
// connection.
func (l *Listener) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	if lc, ok := c.(*conn); ok && lc.l == l {
		return context.WithValue(ctx, connKey{}, lc)
	}
	return ctx
}

// Track marks a request's connection busy while next answers it, so that it is not cut to
// make room for another.
func Track(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(connKey{}).(*conn)
		if c == nil {
			next.ServeHTTP(w, r)
			return
		}
		c.busy.Add(1)
		defer func() {
			c.idleSince.Store(c.l.now().UnixNano())
			c.busy.Add(-1)
		}()
		next.ServeHTTP(w, r)
	})
}
