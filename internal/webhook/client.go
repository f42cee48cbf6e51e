package webhook

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Defaults for the zero fields of Options.
const (
	// DefaultTimeout bounds one attempt; the spec recommends 15 to 30 seconds.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxResponseBody is how much of a response is read: enough for any
	// acknowledgement, little enough that an endpoint cannot make the sender read for long.
	DefaultMaxResponseBody = 64 << 10
)

// maxResponseHeader bounds a response's headers as MaxResponseBody bounds its body; the
// standard library's default is 1 MiB.
const maxResponseHeader = 64 << 10

// Options configure the HTTP client that delivers webhooks, and CheckURL. The zero Options
// are the safe ones: https only, public addresses only, DefaultTimeout and
// DefaultMaxResponseBody.
type Options struct {
	// AllowPrivate lets webhooks reach addresses outside the public internet: loopback,
	// private, link-local (with the cloud metadata address), carrier-grade NAT, unspecified,
	// multicast, broadcast and the other reserved ranges, however written (IPv4-mapped IPv6,
	// NAT64, 6to4). Leave it off wherever the people who register endpoints should not reach
	// Keyward's own network; turn it on for development, or where the receivers are
	// Keyward's neighbours on a private network.
	AllowPrivate bool
	// AllowHTTP lets endpoint URLs use plain http. Off, every webhook (among them a
	// rotation's, which carries the new secret) travels over TLS; turn it on only for
	// development or a trusted network.
	AllowHTTP bool
	// Timeout bounds one attempt, from the dial to the last byte read. Zero means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxResponseBody is how many bytes of a response are read; the rest is not read, and its
	// connection is closed rather than drained. Zero means DefaultMaxResponseBody.
	MaxResponseBody int64
	// RootCAs are the authorities trusted for https endpoints; nil means the system's.
	RootCAs *x509.CertPool
}

// withDefaults fills the zero fields.
func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxResponseBody <= 0 {
		o.MaxResponseBody = DefaultMaxResponseBody
	}
	return o
}

// NewClient returns the HTTP client for webhooks. Unless opts.AllowPrivate, it checks every
// address it is about to connect to, after DNS and before the connection is made (in the
// dialer's Control), so that a name that resolves to an internal address, or is made to by
// DNS rebinding between a check and the request, is refused like the address itself, with an
// error that is ErrForbiddenAddress. It follows no redirects (the caller gets the 3xx), uses
// no proxy (not even one named by the environment, which would dial in our place, past the
// check), and gives up on an attempt after opts.Timeout. It does not bound the body it
// returns; Sender.Send reads only opts.MaxResponseBody of it.
func NewClient(opts Options) *http.Client { return newClient(opts, nil) }

// newClient is NewClient with a hook called before each connection that the address check
// let through, so that a test can be sure nothing it dials leaves the machine.
func newClient(opts Options, beforeConnect func(network, address string) error) *http.Client {
	opts = opts.withDefaults()
	dialer := &net.Dialer{Timeout: opts.Timeout, KeepAlive: 30 * time.Second}
	if !opts.AllowPrivate || beforeConnect != nil {
		dialer.Control = func(network, address string, _ syscall.RawConn) error {
			if !opts.AllowPrivate {
				if err := checkDial(network, address); err != nil {
					return err
				}
			}
			if beforeConnect != nil {
				return beforeConnect(network, address)
			}
			return nil
		}
	}
	transport := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: opts.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    opts.Timeout,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: maxResponseHeader,
	}
	return &http.Client{
		Transport: transport,
		Timeout:   opts.Timeout,
		// The spec: a redirect is a failure, and the endpoint's URL should be changed instead.
		// Following one would also send a signed body somewhere nobody registered.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkDial is the check at connection time: network is "tcp4" or "tcp6" and address the
// IP address and port the dialer resolved.
func checkDial(network, address string) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("%w: refused: network %s", ErrForbiddenAddress, network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: refused: cannot read the address %q", ErrForbiddenAddress, address)
	}
	return checkAddr(ap.Addr())
}
