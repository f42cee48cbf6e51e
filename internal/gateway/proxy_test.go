package gateway_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
)

// upstream is an API behind the keyed proxy. It records what reaches it and answers with
// its name; /upload answers the size and SHA-256 of the body it read, /download streams
// what ?bytes= asks for (a first line, then, once released, the rest, with its SHA-256 in a
// trailer), and /ws echoes WebSocket messages.
type upstream struct {
	name string
	url  *url.URL

	mu    sync.Mutex
	calls int
	seen  *http.Request // the last request, its header a copy
	// release lets a download go on past its first line; released says whether it did.
	release  chan struct{}
	released bool
}

func startUpstream(t *testing.T, name string) *upstream {
	t.Helper()
	u := &upstream{name: name, release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(srv.Close)
	u.url, _ = url.Parse(srv.URL)
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.calls++
	seen := r.Clone(context.Background())
	seen.Body = nil
	u.seen = seen
	u.mu.Unlock()
	switch r.URL.Path {
	case "/upload":
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	case "/download":
		var n int64
		fmt.Sscan(r.URL.Query().Get("bytes"), &n)
		w.Header().Set("Trailer", "X-Content-Sha256")
		h := sha256.New()
		out := io.MultiWriter(w, h)
		io.WriteString(out, "first\n")
		http.NewResponseController(w).Flush()
		select {
		case <-u.release:
			u.mu.Lock()
			u.released = true
			u.mu.Unlock()
		case <-time.After(10 * time.Second): // the proxy held the first line back
		}
		io.Copy(out, pattern(n))
		w.Header().Set("X-Content-Sha256", hex.EncodeToString(h.Sum(nil)))
	case "/ws":
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, msg); err != nil {
				return
			}
		}
	default:
		io.WriteString(w, u.name)
	}
}

// last returns how many requests reached u, and the last one.
func (u *upstream) last() (int, *http.Request) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.calls, u.seen
}

// pattern is n bytes the same on every call, streamed rather than held in memory.
func pattern(n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{7}), n)
}

// sha256Of is the hex SHA-256 of what r holds.
func sha256Of(t *testing.T, r io.Reader) string {
	t.Helper()
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// proxyURL serves f's keyed proxy with defaultUpstream until the test ends.
func (f *fixture) proxyURL(defaultUpstream *url.URL) string {
	f.t.Helper()
	h, err := f.g.Proxy(defaultUpstream)
	if err != nil {
		f.t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	f.t.Cleanup(srv.Close)
	return srv.URL
}

// proxyPolicy is testPolicy with routes to upstreams: %[1]s and %[2]s are their URLs.
const proxyPolicy = testPolicy + `
upstreams:
  - {host: billing.example.com, url: "%[2]s"}
  - {path_prefix: /billing/, url: "%[2]s"}
  - {path_prefix: /kept/, url: "%[1]s", keep_credential: true}
`

// newProxyFixture is a fixture whose policy routes to two upstreams, orders (the default)
// and billing, and its proxy's URL.
func newProxyFixture(t *testing.T, proxies httpwire.Proxies) (f *fixture, proxy string, orders, billing *upstream) {
	t.Helper()
	orders, billing = startUpstream(t, "orders"), startUpstream(t, "billing")
	f = newFixtureWith(t, fmt.Sprintf(proxyPolicy, orders.url, billing.url), proxies)
	return f, f.proxyURL(orders.url), orders, billing
}

// TestProxyForwardsIdentityNotKey: an allowed request reaches the upstream with who its key
// stands for and without the key; identity headers a client sends are never passed on,
// under any spelling; X-Forwarded-* say where the request came from, believing a trusted
// proxy in front and nobody else.
func TestProxyForwardsIdentityNotKey(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		proxies              httpwire.Proxies
		wantFor, wantFwdHost string
		wantProto            string
	}{
		{"from a trusted proxy", loopback, "203.0.113.9, 127.0.0.1", "api.example.com", "https"},
		{"from anyone else", nil, "127.0.0.1", "", "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, proxy, orders, _ := newProxyFixture(t, tc.proxies)
			k, good := f.key(keyward.CreateKeyInput{Scopes: []string{"orders:read", "orders:write"}, RateLimit: &keyward.RateLimit{Rate: 100, Period: time.Second, Burst: 100}})
			res := f.send(proxy, "GET", "/v1/orders/7?ref=x", map[string]string{
				"Authorization": "Bearer " + good, "X-API-Key": good,
				"X-Keyward-Key-Id": "key_spoofed", "X-Keyward-Account-Id": "acc_spoofed", "X-Keyward-User-Id": "usr_spoofed",
				"X-Keyward-Role": "owner", "X_Keyward_Role": "owner",
				"RateLimit": `"rate";r=1000000;t=1`, "Connection": "X-Keyward-Key-Id",
				"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Host": "api.example.com", "X-Forwarded-Proto": "https",
				"Accept": "text/plain",
			}, nil)
			if b, _ := io.ReadAll(res.Body); res.StatusCode != 200 || string(b) != "orders" {
				t.Fatalf("GET /v1/orders/7 = %d %q, want 200 from orders", res.StatusCode, b)
			}
			_, seen := orders.last()
			wantHost := tc.wantFwdHost
			if wantHost == "" {
				wantHost = strings.TrimPrefix(proxy, "http://")
			}
			for name, want := range map[string]string{
				"Authorization": "", "X-Api-Key": "", "X_keyward_role": "", "X-Keyward-Role": "", "X-Keyward-User-Id": "",
				"X-Keyward-Key-Id": k.ID, "X-Keyward-Account-Id": k.AccountID, "X-Keyward-Project-Id": f.proj.ID,
				"X-Keyward-Scopes": "orders:read orders:write", "Ratelimit": `"rate";r=99;t=1`,
				"X-Forwarded-For": tc.wantFor, "X-Forwarded-Host": wantHost, "X-Forwarded-Proto": tc.wantProto,
				"Accept": "text/plain",
			} {
				if got := strings.Join(seen.Header.Values(name), "|"); got != want {
					t.Errorf("upstream's %s = %q, want %q", name, got, want)
				}
			}
			if got := seen.URL.RequestURI(); got != "/v1/orders/7?ref=x" {
				t.Errorf("upstream's request URI = %q, want /v1/orders/7?ref=x", got)
			}
		})
	}
}

// TestProxyClientAddress: a key's networks are held against the TCP peer, or against the
// client a trusted proxy in front names, never against what anyone else says.
func TestProxyClientAddress(t *testing.T) {
	for _, tc := range []struct {
		name         string
		proxies      httpwire.Proxies
		forwardedFor string
		status       int
	}{
		{"a trusted proxy names a client in the key's network", loopback, "203.0.113.9", 200},
		{"a trusted proxy names none", loopback, "", 403},
		{"anyone else names one", nil, "203.0.113.9", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, proxy, _, _ := newProxyFixture(t, tc.proxies)
			_, key := f.key(keyward.CreateKeyInput{AllowedIPs: []string{"203.0.113.0/24"}})
			h := map[string]string{"Authorization": "Bearer " + key}
			if tc.forwardedFor != "" {
				h["X-Forwarded-For"] = tc.forwardedFor
			}
			if res := f.send(proxy, "GET", "/anything", h, nil); res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
		})
	}
}

// TestProxyKeepCredential: an upstream that keeps the credential gets the key too.
func TestProxyKeepCredential(t *testing.T) {
	f, proxy, orders, _ := newProxyFixture(t, nil)
	k, good := f.key(keyward.CreateKeyInput{})
	for _, h := range []map[string]string{{"Authorization": "Bearer " + good}, {"X-API-Key": good}} {
		res := f.send(proxy, "GET", "/kept/x", h, nil)
		if res.StatusCode != 200 {
			t.Fatalf("GET /kept/x = %d, want 200", res.StatusCode)
		}
		_, seen := orders.last()
		for name, want := range h {
			if got := seen.Header.Get(name); got != want {
				t.Errorf("upstream's %s = %q, want the key", name, got)
			}
		}
		if got := seen.Header.Get("X-Keyward-Key-Id"); got != k.ID {
			t.Errorf("upstream's X-Keyward-Key-Id = %q, want %q", got, k.ID)
		}
	}
}

// TestProxyRefuses: a refused request never reaches the upstream, and is answered as
// ForwardAuth answers it: 401 for a missing, garbage or revoked key, 403 naming a missing
// scope, 429 over the limit.
func TestProxyRefuses(t *testing.T) {
	f, proxy, orders, _ := newProxyFixture(t, nil)
	_, narrow := f.key(keyward.CreateKeyInput{Scopes: []string{"orders:read"}})
	revokedKey, revoked := f.key(keyward.CreateKeyInput{})
	if _, err := f.svc.RevokeKey(context.Background(), f.owner, revokedKey.ID); err != nil {
		t.Fatal(err)
	}
	_, limited := f.key(keyward.CreateKeyInput{Scopes: []string{"orders:read"}, RateLimit: &keyward.RateLimit{Rate: 1, Period: time.Minute, Burst: 1}})
	if res := f.send(proxy, "GET", "/v1/orders/1", map[string]string{"X-API-Key": limited}, nil); res.StatusCode != 200 {
		t.Fatalf("the limited key's first request = %d, want 200", res.StatusCode)
	}
	for _, tc := range []struct {
		name, method, path, key string
		status                  int
	}{
		{"no key", "GET", "/v1/orders/1", "", 401},
		{"garbage", "GET", "/v1/orders/1", "letmein", 401},
		{"revoked", "GET", "/v1/orders/1", revoked, 401},
		{"missing scope", "POST", "/v1/orders", narrow, 403},
		{"over the limit", "GET", "/v1/orders/1", limited, 429},
		{"a WebSocket without a key", "GET", "/ws", "", 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{}
			if tc.key != "" {
				h["Authorization"] = "Bearer " + tc.key
			}
			if tc.path == "/ws" {
				h["Connection"], h["Upgrade"], h["Sec-WebSocket-Version"], h["Sec-WebSocket-Key"] = "Upgrade", "websocket", "13", "dGhlIHNhbXBsZSBub25jZQ=="
			}
			before, _ := orders.last()
			res := f.send(proxy, tc.method, tc.path, h, nil)
			if res.StatusCode != tc.status { // not reading the body, which a 101's never ends
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			body, _ := io.ReadAll(res.Body)
			if after, _ := orders.last(); after != before {
				t.Errorf("the upstream was called %d times, want never", after-before)
			}
			if tc.status == 429 {
				if res.Header.Get("Retry-After") == "" || res.Header.Get("RateLimit") == "" {
					t.Errorf("429 without Retry-After or RateLimit: %v", res.Header)
				}
				return // the forward-auth request would spend the limit again
			}
			// The same request through forward-auth gets the same answer.
			h["X-Forwarded-Method"], h["X-Forwarded-Uri"] = tc.method, tc.path
			fa := f.ask("GET", "/gateway/forward-auth", h, "")
			faBody, _ := io.ReadAll(fa.Body)
			if fa.StatusCode != res.StatusCode || string(faBody) != string(body) {
				t.Errorf("proxy: %d %s\nforward-auth: %d %s", res.StatusCode, body, fa.StatusCode, faBody)
			}
			for _, name := range []string{"WWW-Authenticate", "Content-Type", "Cache-Control"} {
				if got, want := res.Header.Get(name), fa.Header.Get(name); got != want {
					t.Errorf("%s = %q, forward-auth's %q", name, got, want)
				}
			}
		})
	}
}

// TestProxyRoutes: a request goes to the upstream whose host or path prefix it matches, or
// else to the default; without a default, one that no upstream serves is answered 404.
func TestProxyRoutes(t *testing.T) {
	f, proxy, _, _ := newProxyFixture(t, nil)
	noDefault := f.proxyURL(nil)
	_, good := f.key(keyward.CreateKeyInput{Scopes: []string{"orders:read"}})
	for _, tc := range []struct {
		name, proxy, host, path, want string
		status                        int
	}{
		{"the default", proxy, "", "/v1/orders/1", "orders", 200},
		{"by host", proxy, "billing.example.com", "/v1/orders/1", "billing", 200},
		{"by host, any case and port", proxy, "BILLING.example.com:8443", "/v1/orders/1", "billing", 200},
		{"by path prefix", proxy, "", "/billing/invoices", "billing", 200},
		{"the longer prefix before the host", proxy, "billing.example.com", "/kept/x", "orders", 200},
		{"no default, by path prefix", noDefault, "", "/billing/invoices", "billing", 200},
		{"no default, nothing matches", noDefault, "", "/v1/orders/1", "", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Authorization": "Bearer " + good}
			if tc.host != "" {
				h["Host"] = tc.host
			}
			res := f.send(tc.proxy, "GET", tc.path, h, nil)
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status || (tc.want != "" && string(b) != tc.want) {
				t.Errorf("got %d %q, want %d from %q", res.StatusCode, b, tc.status, tc.want)
			}
		})
	}
}

// TestProxyStreams: a 10 MB upload reaches the upstream intact without the proxy holding it,
// and a download comes back as the upstream writes it, with its trailer.
func TestProxyStreams(t *testing.T) {
	f, proxy, orders, _ := newProxyFixture(t, nil)
	_, good := f.key(keyward.CreateKeyInput{})
	const size = 10 << 20
	want := sha256Of(t, pattern(size))

	t.Run("upload", func(t *testing.T) {
		// A reader of unknown length: the body goes chunked, as a stream.
		body := io.MultiReader(pattern(size))
		res := f.send(proxy, "PUT", "/upload", map[string]string{"Authorization": "Bearer " + good}, body)
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || string(b) != fmt.Sprintf("%d %s", size, want) {
			t.Errorf("upload = %d %q, want 200 %q", res.StatusCode, b, fmt.Sprintf("%d %s", size, want))
		}
	})

	t.Run("download", func(t *testing.T) {
		res := f.send(proxy, "GET", fmt.Sprintf("/download?bytes=%d", size), map[string]string{"Authorization": "Bearer " + good}, nil)
		first := make([]byte, len("first\n"))
		if _, err := io.ReadFull(res.Body, first); err != nil || string(first) != "first\n" {
			t.Fatalf("first line = %q, %v", first, err)
		}
		// The upstream writes the rest only once the first line has reached the client.
		close(orders.release)
		h := sha256.New()
		h.Write(first)
		n, err := io.Copy(h, res.Body)
		if err != nil || n != size {
			t.Fatalf("read %d bytes after the first line, %v; want %d", n, err, size)
		}
		orders.mu.Lock()
		released := orders.released
		orders.mu.Unlock()
		if !released {
			t.Error("the first line reached the client only after the upstream gave up waiting: the proxy held it back")
		}
		if got, want := hex.EncodeToString(h.Sum(nil)), res.Trailer.Get("X-Content-Sha256"); got != want || want == "" {
			t.Errorf("the download's SHA-256 = %s, its trailer says %q", got, want)
		}
	})
}

// TestProxyWebSocket: a WebSocket upgrade goes through, with the identity headers and
// without the key.
func TestProxyWebSocket(t *testing.T) {
	f, proxy, orders, _ := newProxyFixture(t, nil)
	k, good := f.key(keyward.CreateKeyInput{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(proxy, "http")+"/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + good}}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("status %d, want 101", res.StatusCode)
	}
	for i := range 3 {
		msg := fmt.Sprintf("hello %d", i)
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		typ, got, err := c.Read(ctx)
		if err != nil || typ != websocket.MessageText || string(got) != msg {
			t.Fatalf("echo = %v %q %v, want %q", typ, got, err, msg)
		}
	}
	c.Close(websocket.StatusNormalClosure, "")
	_, seen := orders.last()
	if seen.Header.Get("Authorization") != "" || seen.Header.Get("X-Keyward-Key-Id") != k.ID {
		t.Errorf("the upgrade reached the upstream with Authorization %q and X-Keyward-Key-Id %q, want none and %s",
			seen.Header.Get("Authorization"), seen.Header.Get("X-Keyward-Key-Id"), k.ID)
	}
}

// TestProxyUpstreamUnreachable: 502 as problem+json, logged once, without the key.
func TestProxyUpstreamUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	ln.Close()
	f := newFixtureWith(t, testPolicy, nil)
	proxy := f.proxyURL(gone)
	_, good := f.key(keyward.CreateKeyInput{})
	res := f.send(proxy, "GET", "/v1/anything?token=in-the-query", map[string]string{"Authorization": "Bearer " + good}, nil)
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusBadGateway || res.Header.Get("Content-Type") != "application/problem+json" || !strings.Contains(string(b), `"code":"bad_gateway"`) {
		t.Errorf("got %d %s %s, want 502 application/problem+json, code bad_gateway", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "the upstream could not be reached"); n != 1 || !strings.Contains(logs, gone.Host) {
		t.Errorf("logged %d times, want once, naming %s:\n%s", n, gone.Host, logs)
	}
	for _, secret := range []string{good, "in-the-query"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
}

// TestProxyNeedsAnUpstream: a proxy with nowhere to send requests is a mistake at start.
func TestProxyNeedsAnUpstream(t *testing.T) {
	f := newFixture(t)
	for name, u := range map[string]*url.URL{
		"none":          nil,
		"not http":      {Scheme: "ftp", Host: "example.com"},
		"without host":  {Scheme: "http", Path: "/x"},
		"relative path": {Path: "upstream"},
	} {
		if _, err := f.g.Proxy(u); err == nil {
			t.Errorf("%s: Proxy(%v) = nil error, want one", name, u)
		}
	}
}

// BenchmarkProxy sends a GET with a key through the keyed proxy over loopback HTTP/1.1 to an
// upstream, next to the same through a bare httputil.ReverseProxy set up alike: the
// difference is what the key costs. The client, both proxies and the upstream share this
// process; bench/load -proxy measures them apart.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"valid":true}`) }))
	b.Cleanup(up.Close)
	target, _ := url.Parse(up.URL)
	f := newFixtureWith(b, testPolicy, nil)
	_, key := f.key(keyward.CreateKeyInput{RateLimit: &keyward.RateLimit{Rate: 1_000_000, Period: time.Second, Burst: 1_000_000}})
	keyed, err := f.g.Proxy(target)
	if err != nil {
		b.Fatal(err)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 256
	bare := &httputil.ReverseProxy{
		Rewrite:       func(pr *httputil.ProxyRequest) { pr.SetURL(target); pr.SetXForwarded() },
		Transport:     transport,
		FlushInterval: -1,
		BufferPool:    bufferPool{},
	}
	for name, h := range map[string]http.Handler{"bare": bare, "keyed": keyed} {
		b.Run(name, func(b *testing.B) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			req, _ := http.NewRequest("GET", srv.URL+"/v1/things", nil)
			req.Header.Set("Authorization", "Bearer "+key)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					res, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
		})
	}
}

// bufferPool lends the bare proxy 32 KiB buffers, as the keyed proxy's pool does.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }
