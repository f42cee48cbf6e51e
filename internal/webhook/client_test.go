package webhook_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/webhook"
)

// server is a test server on a random port of 127.0.0.1 that counts the connections it
// accepts.
type server struct {
	*httptest.Server
	conns atomic.Int64
}

// newServer starts a server on 127.0.0.1 (never another address) and closes it when the
// test ends.
func newServer(t *testing.T, h http.Handler) *server {
	t.Helper()
	s := unstartedServer(t, h)
	s.Start()
	return s
}

// newTLSServer is newServer with https; rootCAs trusts its certificate.
func newTLSServer(t *testing.T, h http.Handler) *server {
	t.Helper()
	s := unstartedServer(t, h)
	s.StartTLS()
	return s
}

func unstartedServer(t *testing.T, h http.Handler) *server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{Server: httptest.NewUnstartedServer(h)}
	s.Listener.Close()
	s.Listener = l
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	t.Cleanup(s.Close)
	return s
}

// rootCAs trusts the TLS server's certificate.
func (s *server) rootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return pool
}

// port is the server's port.
func (s *server) port() int { return s.Listener.Addr().(*net.TCPAddr).Port }

// guardedClient is the client Keyward delivers with, and a net under it: should the address
// check let something through, the test fails and the connection is not made, so that a
// broken check never sends a packet to an address that is not this machine's.
func guardedClient(t *testing.T, opts webhook.Options) *http.Client {
	t.Helper()
	var mu sync.Mutex
	return webhook.NewClientBeforeConnect(opts, func(network, address string) error {
		mu.Lock()
		defer mu.Unlock()
		if opts.AllowPrivate && strings.HasPrefix(address, "127.0.0.1:") {
			return nil
		}
		t.Errorf("the check let %s %s through", network, address)
		return errors.New("test: not connecting past a failed check")
	})
}

func TestClientRefusesForbiddenAddresses(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the server got a request for %s", r.URL)
	}))
	client := guardedClient(t, webhook.Options{Timeout: 2 * time.Second})
	p := srv.port()
	tests := []struct {
		name    string
		url     string
		wantMsg string
	}{
		{name: "loopback, served", url: fmt.Sprintf("http://127.0.0.1:%d/", p), wantMsg: "refused: 127.0.0.1 is a loopback address"},
		{name: "localhost resolves to loopback", url: fmt.Sprintf("http://localhost:%d/", p), wantMsg: "is a loopback address"},
		{name: "IPv4-mapped loopback", url: fmt.Sprintf("http://[::ffff:127.0.0.1]:%d/", p), wantMsg: "is a loopback address"},
		{name: "IPv6 loopback", url: fmt.Sprintf("http://[::1]:%d/", p), wantMsg: "refused: ::1 is a loopback address"},
		{name: "unspecified", url: fmt.Sprintf("http://0.0.0.0:%d/", p), wantMsg: "refused: 0.0.0.0 is an unspecified address"},
		{name: "cloud metadata", url: "http://169.254.169.254/latest/meta-data/", wantMsg: "refused: 169.254.169.254 is the link-local address of cloud metadata services"},
		{name: "private", url: "http://10.0.0.1/", wantMsg: "refused: 10.0.0.1 is a private address"},
		{name: "private IPv6", url: "https://[fd00::1]/", wantMsg: "refused: fd00::1 is a private address"},
		{name: "carrier-grade NAT", url: "http://100.64.0.1/", wantMsg: "refused: 100.64.0.1 is a carrier-grade NAT address"},
		{name: "NAT64 of loopback", url: "http://[64:ff9b::7f00:1]/", wantMsg: "refused: 64:ff9b::7f00:1 is a NAT64 address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.Post(tt.url, "application/json", strings.NewReader("{}"))
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got status %d, want a refusal", resp.StatusCode)
			}
			if !errors.Is(err, webhook.ErrForbiddenAddress) {
				t.Fatalf("got %v, want an error that is ErrForbiddenAddress", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("got %q, want it to say %q", err, tt.wantMsg)
			}
		})
	}
	if n := srv.conns.Load(); n != 0 {
		t.Errorf("the server accepted %d connections, want 0: the check must come before the connection", n)
	}
}

func TestClientAllowPrivateReachesLoopback(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	client := guardedClient(t, webhook.Options{AllowPrivate: true, Timeout: 2 * time.Second})
	resp, err := client.Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("got %v, want a response", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("got status %d, want 200", resp.StatusCode)
	}
}

// TestClientUsesNoProxy: a proxy named by the environment would connect in the client's
// place, past the address check. (The environment's proxy is never used for 127.0.0.1, so
// this cannot be shown with a request here; the transport is looked at instead.)
func TestClientUsesNoProxy(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://192.0.2.1:3128")
	t.Setenv("HTTP_PROXY", "http://192.0.2.1:3128")
	tr, ok := webhook.NewClient(webhook.Options{}).Transport.(*http.Transport)
	if !ok {
		t.Fatalf("the client's transport is not an *http.Transport")
	}
	if tr.Proxy != nil {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "https://example.com/", nil)
		u, err := tr.Proxy(req)
		t.Fatalf("the transport has a Proxy function, giving %v, %v; want none", u, err)
	}
}

func TestCheckURL(t *testing.T) {
	strict := webhook.Options{}
	dev := webhook.Options{AllowHTTP: true, AllowPrivate: true}
	tests := []struct {
		name          string
		url           string
		opts          webhook.Options
		wantMsg       string // "" for no error
		wantForbidden bool
	}{
		{name: "https", url: "https://hooks.example.com/keyward?x=1", opts: strict},
		{name: "https with port", url: "https://hooks.example.com:8443/in", opts: strict},
		{name: "public IPv4", url: "https://203.0.114.7/in", opts: strict},
		{name: "public IPv6", url: "https://[2606:4700::1111]/in", opts: strict},
		{name: "IPv4-mapped public address", url: "https://[::ffff:8.8.8.8]/", opts: strict},
		{name: "trailing dot", url: "https://hooks.example.com./", opts: strict},
		{name: "http refused", url: "http://hooks.example.com/", opts: strict, wantMsg: "invalid webhook URL: it must use https, not http"},
		{name: "http allowed", url: "http://hooks.example.com/", opts: webhook.Options{AllowHTTP: true}},
		{name: "other scheme", url: "ftp://hooks.example.com/", opts: dev, wantMsg: `it must use https, not "ftp"`},
		{name: "javascript", url: "javascript:alert(1)", opts: dev, wantMsg: `it must use https, not "javascript"`},
		{name: "relative", url: "/hooks", opts: dev, wantMsg: "it must be absolute"},
		{name: "no host", url: "https:///hooks", opts: dev, wantMsg: "it has no host"},
		{name: "opaque", url: "https:hooks.example.com", opts: dev, wantMsg: "it has no host"},
		{name: "port only", url: "https://:443/", opts: dev, wantMsg: "it has no host"},
		{name: "userinfo", url: "https://user:pass@hooks.example.com/", opts: dev, wantMsg: "user name or password"},
		{name: "user only", url: "https://user@hooks.example.com/", opts: dev, wantMsg: "user name or password"},
		{name: "fragment", url: "https://hooks.example.com/#x", opts: dev, wantMsg: "fragment"},
		{name: "empty fragment", url: "https://hooks.example.com/#", opts: dev, wantMsg: "fragment"},
		{name: "port zero", url: "https://hooks.example.com:0/", opts: dev, wantMsg: "port 0 is not a port number"},
		{name: "port too big", url: "https://hooks.example.com:65536/", opts: dev, wantMsg: "port 65536 is not a port number"},
		{name: "not a URL", url: "https://hooks.example.com/%zz", opts: dev, wantMsg: "invalid URL escape"},
		{name: "space in host", url: "https://hooks example.com/", opts: dev, wantMsg: "invalid character"},
		{name: "loopback", url: "https://127.0.0.1/", opts: strict, wantMsg: "invalid webhook URL: refused: 127.0.0.1 is a loopback address", wantForbidden: true},
		{name: "loopback elsewhere in 127/8", url: "https://127.8.9.10/", opts: strict, wantMsg: "is a loopback address", wantForbidden: true},
		{name: "IPv6 loopback", url: "https://[::1]:8443/", opts: strict, wantMsg: "::1 is a loopback address", wantForbidden: true},
		{name: "IPv4-mapped loopback", url: "https://[::ffff:127.0.0.1]/", opts: strict, wantMsg: "::ffff:127.0.0.1 is a loopback address", wantForbidden: true},
		{name: "IPv4-mapped private, hex", url: "https://[::ffff:a00:1]/", opts: strict, wantMsg: "is a private address", wantForbidden: true},
		{name: "metadata", url: "https://169.254.169.254/", opts: strict, wantMsg: "cloud metadata", wantForbidden: true},
		{name: "link-local", url: "https://169.254.1.1/", opts: strict, wantMsg: "is a link-local address", wantForbidden: true},
		{name: "IPv6 link-local with zone", url: "https://[fe80::1%25eth0]/", opts: strict, wantMsg: "is a link-local address", wantForbidden: true},
		{name: "10/8", url: "https://10.1.2.3/", opts: strict, wantMsg: "is a private address", wantForbidden: true},
		{name: "172.16/12", url: "https://172.31.255.255/", opts: strict, wantMsg: "is a private address", wantForbidden: true},
		{name: "192.168/16", url: "https://192.168.0.1/", opts: strict, wantMsg: "is a private address", wantForbidden: true},
		{name: "unique local IPv6", url: "https://[fc00::1]/", opts: strict, wantMsg: "is a private address", wantForbidden: true},
		{name: "carrier-grade NAT", url: "https://100.127.255.254/", opts: strict, wantMsg: "carrier-grade NAT", wantForbidden: true},
		{name: "unspecified", url: "https://0.0.0.0/", opts: strict, wantMsg: "is an unspecified address", wantForbidden: true},
		{name: "IPv6 unspecified", url: "https://[::]/", opts: strict, wantMsg: "is an unspecified address", wantForbidden: true},
		{name: "multicast", url: "https://224.0.0.1/", opts: strict, wantMsg: "is a multicast address", wantForbidden: true},
		{name: "IPv6 multicast", url: "https://[ff02::1]/", opts: strict, wantMsg: "multicast address", wantForbidden: true},
		{name: "broadcast", url: "https://255.255.255.255/", opts: strict, wantMsg: "is the broadcast address", wantForbidden: true},
		{name: "6to4 of loopback", url: "https://[2002:7f00:1::]/", opts: strict, wantMsg: "is a 6to4 address", wantForbidden: true},
		{name: "NAT64 of private", url: "https://[64:ff9b::a00:1]/", opts: strict, wantMsg: "is a NAT64 address", wantForbidden: true},
		{name: "documentation range", url: "https://192.0.2.1/", opts: strict, wantMsg: "reserved or special-purpose", wantForbidden: true},
		{name: "localhost", url: "https://localhost:8443/", opts: strict, wantMsg: "refused: localhost is a loopback name", wantForbidden: true},
		{name: "a name under localhost", url: "https://api.LOCALHOST/", opts: strict, wantMsg: "refused: api.localhost is a loopback name", wantForbidden: true},
		{name: "short IPv4", url: "https://127.1/", opts: strict, wantMsg: `host "127.1" is neither an IP address in standard form nor a DNS name`},
		{name: "decimal IPv4", url: "https://2130706433/", opts: dev, wantMsg: "nor a DNS name"},
		{name: "hex IPv4", url: "https://0x7f.0x1/", opts: dev, wantMsg: "nor a DNS name"},
		{name: "private allowed", url: "http://10.0.0.1:8080/", opts: dev},
		{name: "localhost allowed", url: "http://localhost:8080/", opts: dev},
		{name: "loopback allowed", url: "https://[::1]/", opts: webhook.Options{AllowPrivate: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := webhook.CheckURL(tt.url, tt.opts)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("got %v, want an error saying %q", err, tt.wantMsg)
			}
			if !errors.Is(err, webhook.ErrInvalidURL) {
				t.Errorf("got %v, want an error that is ErrInvalidURL", err)
			}
			if got := errors.Is(err, webhook.ErrForbiddenAddress); got != tt.wantForbidden {
				t.Errorf("errors.Is(%v, ErrForbiddenAddress) got %v, want %v", err, got, tt.wantForbidden)
			}
		})
	}
}
