package gateway

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keyward/keyward/internal/httpwire"
)

// The HTTP contracts of the front doors. Each reads where the original request was going in
// its own way, judges it, and answers in the way that front door understands: a 2xx lets the
// request through with the identity headers (which the front door copies upstream), anything
// else is the refusal it sends the client.

// StatusHeader carries, in nginx mode, the status a refusal stands for when nginx could not be
// given it directly: 429 and 503 are sent as 403 with this header, and the nginx snippet in
// docs/integrations.md maps them back.
const StatusHeader = "X-Keyward-Status"

// ForwardAuth answers Traefik's ForwardAuth, Caddy's forward_auth and APISIX's forward-auth:
// the original method and URI come in X-Forwarded-Method and X-Forwarded-Uri, the client in
// X-Forwarded-For (believed from --trusted-proxies), the credential in the original headers.
// The auth URL's query may set the requirements (?scopes=…&permissions=…&cost=…).
func (g *Gateway) ForwardAuth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.Header.Get("X-Forwarded-Method")
		if method == "" {
			method = r.Method
		}
		g.serve(w, r, method, requestPath(r.Header.Get("X-Forwarded-Uri")), false)
	})
}

// Nginx answers nginx's auth_request: the original method and URI come in
// X-Original-Method and X-Original-URI (the nginx configuration sets them). nginx passes on
// only 2xx, 401 and 403, so a refusal for a limit (429) or an outage (503) is sent as 403
// with its true status in X-Keyward-Status.
func (g *Gateway) Nginx() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method := r.Header.Get("X-Original-Method")
		if method == "" {
			method = r.Method
		}
		g.serve(w, r, method, requestPath(r.Header.Get("X-Original-URI")), true)
	})
}

// EnvoyHTTP answers Envoy's ext_authz HTTP service, configured with path_prefix prefix:
// Envoy sends the original method, the prefix followed by the original path, and the
// original headers it is allowed to.
//
// Envoy copies the identity headers upstream (allowed_upstream_headers), overwriting the
// client's copies; an identity header this answer does not set (no user, a public route)
// would pass as the client sent it, so it is named in x-envoy-auth-headers-to-remove, which
// Envoy removes from the upstream request.
func (g *Gateway) EnvoyHTTP(prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := strings.TrimPrefix(r.URL.Path, strings.TrimSuffix(prefix, "/"))
		d := g.Decide(r.Context(), Request{
			Method: r.Method, Path: path, Header: r.Header, ClientIP: g.proxies.ClientIP(r), Override: r.URL.Query(),
		})
		if d.Allowed() {
			if remove := g.unsetIdentityHeaders(g.IdentityHeaders(d)); len(remove) > 0 {
				w.Header().Set(EnvoyRemoveHeader, strings.Join(remove, ","))
			}
		}
		g.write(w, d, false)
	})
}

// EnvoyRemoveHeader is the ext_authz HTTP service's answer header naming request headers
// Envoy removes before the request goes upstream.
const EnvoyRemoveHeader = "X-Envoy-Auth-Headers-To-Remove"

// unsetIdentityHeaders are the identity header names, lower case, that h does not set: a
// front door that only overwrites must remove them, or a client's own copies pass upstream.
func (g *Gateway) unsetIdentityHeaders(h http.Header) []string {
	var remove []string
	for _, name := range g.policy.Headers.all() {
		if _, set := h[name]; !set {
			remove = append(remove, strings.ToLower(name))
		}
	}
	return remove
}

// serve decides a front door's request and writes the answer.
func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, method, path string, nginx bool) {
	d := g.Decide(r.Context(), Request{
		Method: method, Path: path, Header: r.Header, ClientIP: g.proxies.ClientIP(r), Override: r.URL.Query(),
	})
	g.write(w, d, nginx)
}

// write answers a decision: 200 with the identity headers, or the refusal.
func (g *Gateway) write(w http.ResponseWriter, d Decision, nginx bool) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if d.Allowed() {
		g.AddIdentityHeaders(h, d)
		w.WriteHeader(http.StatusOK)
		return
	}
	p := g.Refusal(d)
	if nginx && d.Status != http.StatusUnauthorized && d.Status != http.StatusForbidden {
		h.Set(StatusHeader, strconv.Itoa(d.Status))
		p.Status = http.StatusForbidden
	}
	httpwire.WriteProblem(w, p)
}

// requestPath is the path of a request URI as a front door forwards it ("/v1/orders?x=1", or
// a full URL), or "/" when it is missing or unreadable: the default rule then applies.
func requestPath(uri string) string {
	if uri == "" {
		return "/"
	}
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		if u, err = url.Parse(uri); err != nil {
			return "/"
		}
	}
	if u.Path == "" {
		return "/"
	}
	return u.Path
}
