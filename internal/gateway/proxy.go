package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/httpwire"
)

// The keyed reverse proxy: Keyward itself in front of an API, for a deployment without a
// front door of its own. A request is routed to an upstream, decided as a front door's
// request is, and either refused here, with the very answer ForwardAuth gives, or sent on
// with the identity headers in place of the credential. Everything else (streamed bodies
// both ways, trailers, WebSocket upgrades) is httputil.ReverseProxy's.

// badGatewayCode is the problem code of the proxy's 502: the upstream could not be reached.
const badGatewayCode = "bad_gateway"

// Proxy returns the keyed reverse proxy. A request goes to the first of the policy's
// upstreams (most specific first) whose host and path prefix it matches, or else to
// defaultUpstream (nil for none); one that no upstream serves is answered 404. It is decided
// by the policy, for its own method and path, from the TCP peer's address (or, from a
// trusted proxy, the client its X-Forwarded-For names). A refusal is answered here, as
// ForwardAuth answers it. An allowed request goes upstream with X-Forwarded-For, -Host and
// -Proto set, without the credential (unless the upstream keeps it), and with the identity
// headers, every one the client sent having been removed first. An upstream that cannot be
// reached is answered 502. Proxy fails when there is no upstream at all.
func (g *Gateway) Proxy(defaultUpstream *url.URL) (http.Handler, error) {
	p := &proxy{g: g, upstreams: slices.Clone(g.policy.Upstreams)}
	if u := defaultUpstream; u != nil {
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("the proxy's upstream must be an http or https URL with a host")
		}
		p.upstreams = append(p.upstreams, Upstream{URL: u.String(), PathPrefix: "/", target: u})
	}
	if len(p.upstreams) == 0 {
		return nil, errors.New("the proxy has no upstream: give one (--proxy-upstream), or upstreams in the gateway policy")
	}
	// What a client says in these headers would reach the upstream as Keyward's word.
	p.spoofable = append(g.policy.Headers.all(), "Ratelimit", "Ratelimit-Policy")
	p.credentials = []string{textproto.CanonicalMIMEHeaderKey(authn.APIKeyHeader)}
	if name := g.policy.KeyHeader; name != "" {
		p.credentials = append(p.credentials, textproto.CanonicalMIMEHeaderKey(name))
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	// A proxy sends many requests at once to few hosts: the default of two idle connections
	// per host would close and open connections all the time under any concurrency.
	transport.MaxIdleConns = 1024
	transport.MaxIdleConnsPerHost = 256
	p.reverse = &httputil.ReverseProxy{
		Rewrite:   p.rewrite,
		Transport: transport,
		// Every write is sent on at once: a streamed answer (server-sent events, a long
		// download, a slow report) reaches the client as the upstream writes it.
		FlushInterval: -1,
		ErrorHandler:  p.unreachable,
		ErrorLog:      slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		BufferPool:    &copyBuffers{},
	}
	return p, nil
}

// copyBuffers lends ReverseProxy the buffers it copies answers through: without them it
// allocates 32 KiB for every answer, most of a small request's garbage.
type copyBuffers struct{ pool sync.Pool }

func (c *copyBuffers) Get() []byte {
	if b, ok := c.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (c *copyBuffers) Put(b []byte) { c.pool.Put(&b) }

// proxy is the keyed reverse proxy.
type proxy struct {
	g *Gateway
	// upstreams are the policy's, most specific first, then the default.
	upstreams []Upstream
	// spoofable are the headers the proxy speaks to the upstream (identity and RateLimit),
	// canonical, removed from every request before Keyward's own are added.
	spoofable []string
	// credentials are the headers besides Authorization that carry keys, canonical.
	credentials []string
	reverse     *httputil.ReverseProxy
}

// proxied is what the proxy's handler hands the ReverseProxy's Rewrite, in the request's
// context: where the request goes and the decision that let it.
type proxied struct {
	upstream *Upstream
	decision Decision
}

type proxiedKey struct{}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := p.upstream(r.Host, cleanPath(r.URL.Path))
	if up == nil {
		httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusNotFound, "no upstream serves this host and path"))
		return
	}
	d := p.g.Decide(r.Context(), Request{Method: r.Method, Path: r.URL.Path, Header: r.Header, ClientIP: p.g.proxies.ClientIP(r)})
	if !d.Allowed() {
		p.g.write(w, d, false)
		return
	}
	ctx := context.WithValue(r.Context(), proxiedKey{}, &proxied{upstream: up, decision: d})
	p.reverse.ServeHTTP(w, r.WithContext(ctx))
}

// upstream is the first upstream that serves host and path, or nil.
func (p *proxy) upstream(host, path string) *Upstream {
	for i := range p.upstreams {
		u := &p.upstreams[i]
		if (u.Host == "" || sameHost(u.Host, host)) && strings.HasPrefix(path, u.PathPrefix) {
			return u
		}
	}
	return nil
}

// sameHost reports whether a request's Host names the upstream's host: case aside, and
// with any port when the upstream's host names none.
func sameHost(want, host string) bool {
	if strings.EqualFold(want, host) {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil && !strings.Contains(want, ":") {
		return strings.EqualFold(want, h)
	}
	return false
}

// rewrite makes the upstream's request from an allowed one. ReverseProxy has already removed
// the hop-by-hop headers (also those the client named in Connection, so that none can take
// away what is added here) and the client's X-Forwarded-* headers.
func (p *proxy) rewrite(pr *httputil.ProxyRequest) {
	v := pr.In.Context().Value(proxiedKey{}).(*proxied)
	pr.SetURL(v.upstream.target)
	p.setForwarded(pr)
	h := pr.Out.Header
	if !v.upstream.KeepCredential {
		if _, bearer := authn.BearerToken(h); bearer {
			delete(h, "Authorization")
		}
		for _, name := range p.credentials {
			delete(h, name)
		}
	}
	for _, name := range p.spoofable {
		delete(h, name)
	}
	for name := range h {
		// X_Keyward_Key_Id is another header, but CGI-style servers (and nginx with
		// underscores_in_headers) read it as X-Keyward-Key-Id.
		if strings.IndexByte(name, '_') >= 0 && slices.Contains(p.spoofable, textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(name, "_", "-"))) {
			delete(h, name)
		}
	}
	p.g.AddIdentityHeaders(h, v.decision)
}

// setForwarded sets X-Forwarded-For, -Host and -Proto. What a trusted proxy in front sent is
// kept, and the peer added to its X-Forwarded-For; anyone else's is replaced, so that the
// upstream can believe them as Keyward does.
func (p *proxy) setForwarded(pr *httputil.ProxyRequest) {
	in := pr.In.Header
	trusted := (len(in["X-Forwarded-For"]) > 0 || len(in["X-Forwarded-Host"]) > 0 || len(in["X-Forwarded-Proto"]) > 0) &&
		p.trusts(pr.In.RemoteAddr)
	if trusted {
		pr.Out.Header["X-Forwarded-For"] = in["X-Forwarded-For"]
	}
	pr.SetXForwarded()
	if trusted {
		for _, name := range []string{"X-Forwarded-Host", "X-Forwarded-Proto"} {
			if v := in.Get(name); v != "" {
				pr.Out.Header.Set(name, v)
			}
		}
	}
}

// trusts reports whether the TCP peer is one of the trusted proxies.
func (p *proxy) trusts(remoteAddr string) bool {
	peer, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	a := peer.Addr().Unmap().WithZone("")
	return slices.ContainsFunc(p.g.proxies, func(n netip.Prefix) bool { return n.Contains(a) })
}

// unreachable answers a request whose upstream could not be reached (or answered nothing
// readable) with 502, and logs it once: where it was going, never its headers or query.
func (p *proxy) unreachable(w http.ResponseWriter, r *http.Request, err error) {
	level := slog.LevelError
	if r.Context().Err() != nil {
		level = slog.LevelDebug // the client went away: nothing is wrong upstream
	}
	upstream := ""
	if v, ok := r.Context().Value(proxiedKey{}).(*proxied); ok {
		upstream = v.upstream.target.Redacted()
	}
	p.g.log.Log(r.Context(), level, "proxy: the upstream could not be reached",
		"upstream", upstream, "method", r.Method, "host", r.Host, "path", r.URL.Path, "err", err)
	problem := httpwire.NewProblem(http.StatusBadGateway, "the upstream could not be reached; retry later")
	problem.Code = badGatewayCode
	httpwire.WriteProblem(w, problem)
}
