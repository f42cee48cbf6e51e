package main

import (
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

// With -proxy the harness compares Keyward's keyed reverse proxy (`keyward serve
// --proxy-addr … --proxy-upstream …`) with a bare httputil.ReverseProxy, each in a process
// of its own, in front of one upstream in a third: the bare server, whose {"valid":true}
// both pass back. Each request is a GET with a key as its bearer, which Keyward checks and
// the bare proxy passes on; the difference is what checking it costs.

// bareProxyEnv, set to an upstream's base URL, makes this program a bare reverse proxy to it.
const bareProxyEnv = "KEYWARD_BENCH_BARE_PROXY"

// proxiedPath is what the clients ask both proxies for: any path reaches the upstream, and
// none is in Keyward's policy, so a valid key is all it needs.
const proxiedPath = "/v1/things"

// newBareProxy is the baseline proxy: httputil.ReverseProxy as Keyward's keyed proxy sets it
// up (Rewrite with SetURL and SetXForwarded, flushing at once, the same idle connections to
// the upstream, pooled copy buffers, the same server timeouts), without the key: what any Go
// proxy costs.
func newBareProxy(upstream string) (*http.Server, error) {
	target, err := url.Parse(upstream)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("the upstream %q is not a URL", upstream)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 1024
	transport.MaxIdleConnsPerHost = 256
	return &http.Server{
		Handler: &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(target)
				pr.SetXForwarded()
			},
			Transport:     transport,
			FlushInterval: -1,
			BufferPool:    bufferPool{},
		},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}, nil
}

// bufferPool lends the bare proxy 32 KiB copy buffers, as Keyward's proxy is lent them.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *buffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { buffers.Put(&b) }

// startBareProxy starts the bare proxy to upstream (a base URL) in a process of its own.
func startBareProxy(upstream string) (*bareServer, error) {
	return startChild(bareProxyEnv + "=" + upstream)
}

// origin is a server's URL without its path: what a proxy takes as its upstream.
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return p.Scheme + "://" + p.Host
}
