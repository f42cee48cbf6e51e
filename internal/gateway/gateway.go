// Package gateway puts Keyward in front of an API with configuration alone. It answers the
// contracts of the common front doors, each through the one verdict on a credential
// (internal/verify):
//
//   - forward-auth, as Traefik's ForwardAuth, Caddy's forward_auth and APISIX call it: the
//     original method and path in X-Forwarded-Method and X-Forwarded-Uri;
//   - nginx's auth_request: X-Original-Method and X-Original-URI, and refusals nginx can pass
//     on (it turns every status but 2xx, 401 and 403 into 500);
//   - Envoy's ext_authz over HTTP (the original path after a prefix) and gRPC;
//   - Hasura's auth webhook, in its GET and POST modes;
//   - a keyed reverse proxy.
//
// A Policy says, per method and path, what a request needs: scopes, a permission query, a
// cost in usage credits, or nothing (public). An allowed request goes upstream with identity
// headers (X-Keyward-Key-Id and the rest); a refused one is answered 401, 403 (naming what is
// missing) or 429 (with Retry-After and RateLimit headers).
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/verify"
)

// Verdicts gives the one verdict on a credential; *verify.Verifier is one.
type Verdicts interface {
	Check(ctx context.Context, secret string, req verify.Requirements) (verify.Result, error)
}

// Config assembles a Gateway.
type Config struct {
	Verdicts Verdicts
	// Policy is the route policy; nil needs a valid key on every route.
	Policy *Policy
	// Proxies are the reverse proxies whose X-Forwarded-For names the client (for keys'
	// networks). The front door that calls the gateway is usually one.
	Proxies httpwire.Proxies
	Logger  *slog.Logger
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Gateway decides requests for the front doors. It is safe for concurrent use.
type Gateway struct {
	verdicts Verdicts
	policy   *Policy
	proxies  httpwire.Proxies
	log      *slog.Logger
	now      func() time.Time
}

// New returns a Gateway.
func New(cfg Config) *Gateway {
	if cfg.Policy == nil {
		cfg.Policy, _ = ParsePolicy(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Gateway{verdicts: cfg.Verdicts, policy: cfg.Policy, proxies: cfg.Proxies, log: cfg.Logger, now: cfg.Now}
}

// Policy is the gateway's policy.
func (g *Gateway) Policy() *Policy { return g.policy }

// Request is a request the gateway judges: where it was going, what it carries, and where it
// came from.
type Request struct {
	Method, Path string
	// Header holds the credential: Authorization: Bearer, X-API-Key, or the policy's
	// key_header. Never a query string: URLs end up in logs.
	Header   http.Header
	ClientIP netip.Addr
	// Override, from the auth URL's query (?scopes=a,b&permissions=…&cost=N), replaces the
	// matched rule's requirements for this request: the operator writes it into the front
	// door's configuration, the client cannot.
	Override url.Values
}

// Decision is the gateway's answer to a Request.
type Decision struct {
	// Status is what the request gets: 200, or 401, 403, 429 or 503.
	Status int
	// Public: the route needs no key; the verdict is empty.
	Public bool
	// Verdict is the one verdict on the credential, when one was checked.
	Verdict verify.Result
	// Code is the problem code of a refusal (unauthenticated, insufficient_scope, …).
	Code string
	// Detail says why, for people: the missing scope or permission is named.
	Detail string
	// NoCredential: the request carried none (401 with the bare challenge).
	NoCredential bool
}

// Allowed reports whether the request may go on.
func (d Decision) Allowed() bool { return d.Status == http.StatusOK }

// Decide judges r by the policy and the one verdict.
func (g *Gateway) Decide(ctx context.Context, r Request) Decision {
	rule, err := g.rule(r)
	if err != nil {
		return Decision{Status: http.StatusBadRequest, Code: string(keyward.EInvalid), Detail: err.Error()}
	}
	if rule.Public {
		return Decision{Status: http.StatusOK, Public: true}
	}
	secret, ok := g.credential(r.Header)
	if !ok {
		return Decision{Status: http.StatusUnauthorized, Code: string(keyward.EUnauthenticated), NoCredential: true,
			Detail: "this route needs a key: Authorization: Bearer, or " + authn.APIKeyHeader}
	}
	res, err := g.verdicts.Check(ctx, secret, verify.Requirements{
		Scopes: rule.Scopes, Permissions: rule.query, Cost: rule.Cost, ClientIP: r.ClientIP,
	})
	if err != nil {
		if keyward.IsOutage(err) {
			g.log.Warn("gateway: the store is unavailable; the key has no verdict", "err", err)
		} else {
			g.log.Error("gateway: the key could not be checked", "err", err)
		}
		return Decision{Status: http.StatusServiceUnavailable, Code: string(keyward.EUnavailable), Detail: "the key could not be checked; retry"}
	}
	d := Decision{Status: http.StatusOK, Verdict: res}
	switch res.Code {
	case keyward.VerifyValid:
	case keyward.VerifyInsufficientScope:
		d.Status, d.Code, d.Detail = http.StatusForbidden, "insufficient_scope", "the key lacks the scope "+missingScope(rule.Scopes, res.Scopes())
	case keyward.VerifyInsufficientPermissions:
		d.Status, d.Code, d.Detail = http.StatusForbidden, "insufficient_permissions", "the key's permissions do not satisfy "+rule.Permissions
	case keyward.VerifyForbidden:
		d.Status, d.Code, d.Detail = http.StatusForbidden, string(keyward.EForbidden), "the key may not be used from this network"
	case keyward.VerifyRateLimited:
		d.Status, d.Code, d.Detail = http.StatusTooManyRequests, string(keyward.ERateLimited), "the key is over its rate limit; retry later"
	case keyward.VerifyUsageExceeded:
		d.Status, d.Code, d.Detail = http.StatusTooManyRequests, string(keyward.EUsageExceeded), "the key's usage credits are spent"
	default:
		d.Status, d.Code, d.Detail = http.StatusUnauthorized, string(keyward.EUnauthenticated), "the key is not valid ("+string(res.Code)+")"
	}
	return d
}

// rule is the rule r is held to: the policy's for its method and path, with the auth URL's
// overrides.
func (g *Gateway) rule(r Request) (*Rule, error) {
	rule := g.policy.Match(r.Method, r.Path)
	if len(r.Override) == 0 {
		return rule, nil
	}
	o := *rule
	q := r.Override
	if q.Has("public") {
		o.Public = q.Get("public") == "true"
	}
	if q.Has("scopes") {
		o.Scopes = nil
		for _, s := range strings.FieldsFunc(q.Get("scopes"), func(c rune) bool { return c == ',' || c == ' ' }) {
			o.Scopes = append(o.Scopes, s)
		}
	}
	if q.Has("permissions") {
		o.Permissions, o.query = q.Get("permissions"), keyward.PermissionQuery{}
	}
	if q.Has("cost") {
		n, err := strconv.ParseInt(q.Get("cost"), 10, 64)
		if err != nil {
			return nil, keyward.Errorf(keyward.EInvalid, "the auth URL's cost %q is not a whole number", q.Get("cost"))
		}
		o.Cost = &n
	}
	if errs := o.check("the auth URL"); len(errs) > 0 {
		return nil, keyward.Errorf(keyward.EInvalid, "%v", errs[0])
	}
	return &o, nil
}

// credential reads a key, or an access token, from h: Authorization: Bearer, X-API-Key, or
// the policy's key header.
func (g *Gateway) credential(h http.Header) (string, bool) {
	if s, ok := authn.Credential(h); ok {
		return s, true
	}
	if name := g.policy.KeyHeader; name != "" {
		if s := strings.TrimSpace(h.Get(name)); s != "" {
			return s, true
		}
	}
	return "", false
}

// missingScope names the first required scope the credential lacks.
func missingScope(required, held []string) string {
	for _, s := range required {
		if !slices.Contains(held, s) {
			return s
		}
	}
	return strings.Join(required, " ")
}

// IdentityHeaders are the headers an allowed request takes upstream: who the key stands for,
// and where it stands against its rate limit. A public route's request gets none.
func (g *Gateway) IdentityHeaders(d Decision) http.Header {
	h := http.Header{}
	g.AddIdentityHeaders(h, d)
	return h
}

// AddIdentityHeaders sets d's IdentityHeaders in h, replacing any of the same names, without
// building a header map of their own (the proxy and the front doors set them straight into
// the request or answer).
func (g *Gateway) AddIdentityHeaders(h http.Header, d Decision) {
	res := d.Verdict
	if d.Public || res.Key == nil {
		return
	}
	names := g.policy.Headers
	k := res.Key
	if tok := res.Token; tok != nil {
		set(h, names.KeyID, tok.ClientID)
		set(h, names.AccountID, tok.AccountID)
		set(h, names.ProjectID, tok.ProjectID)
		set(h, names.EnvironmentID, tok.EnvironmentID)
		set(h, names.UserID, tok.UserID)
		set(h, names.Role, tok.RoleSlug)
	} else {
		set(h, names.KeyID, k.ID)
		set(h, names.AccountID, k.AccountID)
		set(h, names.ProjectID, k.ProjectID)
		set(h, names.EnvironmentID, k.EnvironmentID)
		set(h, names.UserID, k.UserID)
		if res.Identity != nil {
			set(h, names.Role, res.Identity.RoleSlug())
		}
	}
	set(h, names.Scopes, strings.Join(res.Scopes(), " "))
	if res.Limited {
		httpwire.SetRateLimitHeaders(h, res.Policy, res.RateLimit)
	}
}

// set sets a header the policy named (its names are canonical already, see
// HeaderNames.fill), unless value is empty.
func set(h http.Header, name, value string) {
	if value != "" {
		h[name] = []string{value}
	}
}

// Refusal is the answer to a refused request: its status, headers and problem+json body.
func (g *Gateway) Refusal(d Decision) *httpwire.Problem {
	p := httpwire.NewProblem(d.Status, d.Detail)
	p.Code = d.Code
	h := p.Header()
	switch {
	case d.Status == http.StatusUnauthorized && !d.NoCredential:
		p.InvalidToken()
	case d.Code == "insufficient_scope":
		h.Set("WWW-Authenticate", httpwire.Challenge+`, error="insufficient_scope", scope="`+strings.Join(g.requiredScopes(d), " ")+`"`)
	case d.Status == http.StatusTooManyRequests:
		v := d.Verdict
		httpwire.SetRefusalHeaders(h, httpwire.Refusal{Code: v.Code, Key: v.Key, Limited: v.Limited, Policy: v.Policy, Decision: v.RateLimit})
	}
	return p
}

// requiredScopes are the scopes named in an insufficient_scope challenge: the one missing.
func (g *Gateway) requiredScopes(d Decision) []string {
	_, missing, _ := strings.Cut(d.Detail, "the key lacks the scope ")
	return strings.Fields(missing)
}

// remaining is how long the credential behind d stays good by itself: until its key's own
// end or its token's expiry; a very long time when neither is set.
func (g *Gateway) remaining(d Decision) time.Duration {
	const forever = 100 * 365 * 24 * time.Hour
	left := forever
	now := g.now()
	if k := d.Verdict.Key; k != nil {
		if end := k.EffectiveExpiry(); end != nil {
			left = min(left, end.Sub(now))
		}
	}
	if t := d.Verdict.Token; t != nil {
		left = min(left, t.ExpiresAt.Sub(now))
	}
	return max(left, 0)
}
