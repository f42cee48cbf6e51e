// Package authn establishes who is calling a management route.
//
// Four kinds of credential are accepted:
//
//  1. a Keyward access token (a JWT whose iss is Keyward's own, from POST /oauth/token):
//     judged by the one verdict (internal/verify), it acts as its key does now, with the
//     permissions it was issued with that the key still holds, and the token's scopes;
//  2. an OIDC access token (any other JWT) from the configured issuer: its subject is a user,
//     created on first sign-in;
//  3. a Keyward API key, as `Authorization: Bearer` or `X-API-Key`, judged by the same
//     verdict: it acts with its role's and project accesses' permissions, narrowed to its
//     user's;
//  4. an admin key (kwadmin_…): everything in its account.
//
// The kinds cannot be confused (a JWT has three dot-separated parts and names its issuer, an
// admin key has its own prefix, an API key its checksum), so telling them apart costs no
// wasted lookups. This package is the one place that reads credentials from a request.
package authn

import (
	"context"
	"net/http"
	"net/netip"
	"strings"

	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/verify"
)

// Challenge is the WWW-Authenticate value sent with every 401 (RFC 6750).
const Challenge = httpwire.Challenge

// APIKeyHeader is the header that carries an API key for callers that do not use
// Authorization (seed 003).
const APIKeyHeader = "X-API-Key"

// Service is what authentication needs of the domain.
type Service interface {
	AuthenticateAdmin(ctx context.Context, secret string) (keyward.Principal, error)
	SignIn(ctx context.Context, in keyward.SignInInput) (keyward.Principal, error)
	// AuditRefusal records that a known principal's request was refused (its key over its
	// limit, say) before any operation ran.
	AuditRefusal(ctx context.Context, p keyward.Principal, err error)
}

// Verdicts gives the one verdict on an API key or access token; *verify.Verifier is one.
type Verdicts interface {
	Check(ctx context.Context, secret string, req verify.Requirements) (verify.Result, error)
}

// ErrNoCredential is the cause of the error Authenticate returns for a request that carries
// no credential at all, which RFC 6750 answers without an error code.
var ErrNoCredential = httpwire.ErrNoCredential

// SignInPolicy says where a user signing in for the first time lands.
type SignInPolicy struct {
	// DefaultAccount is the name of the account first sign-ins join.
	DefaultAccount string
	// AccountClaim, when set, names a token claim holding the account name to join instead
	// (for example an Auth0 organization name put in a namespaced claim by an Action).
	AccountClaim string
	// DefaultRole is the role (id or slug) first sign-ins get; "" for member.
	DefaultRole string
}

// Config assembles an Authenticator.
type Config struct {
	Service Service
	// Keys judges API keys and Keyward's access tokens; nil refuses them.
	Keys Verdicts
	// OIDC verifies access tokens; nil when no issuer is configured, and then a JWT that
	// is not Keyward's own is refused.
	OIDC *OIDCVerifier
	// Tokens tells Keyward's own access tokens, which go to Keys, from an OIDC provider's;
	// nil when they are not accepted. *oauth.Tokens is one.
	Tokens interface{ Owns(token string) bool }
	SignIn SignInPolicy
}

// Authenticator resolves a request's credential to a principal.
type Authenticator struct {
	cfg Config
}

// New returns an Authenticator.
func New(cfg Config) *Authenticator {
	if cfg.SignIn.DefaultAccount == "" {
		cfg.SignIn.DefaultAccount = keyward.DefaultAccountName
	}
	return &Authenticator{cfg: cfg}
}

// Authentication is who a request's credential authenticated, and, when it was an API key
// or an access token, the verdict on it: its rate-limit decision, for the RateLimit headers
// of the answer, whether the request is let through or refused for its limits.
type Authentication struct {
	Principal keyward.Principal
	// Verdict is nil for admin keys and OIDC tokens.
	Verdict *verify.Result
}

// Authenticate returns who the request's credential authenticates. Errors: EUnauthenticated
// when there is none or it is not valid; ERateLimited and EUsageExceeded for a good key (or
// token) over its rate limit or out of credits, with the verdict in the Authentication;
// EForbidden when it is valid but its user is disabled; EUnavailable when it could not be
// checked.
func (a *Authenticator) Authenticate(ctx context.Context, h http.Header) (Authentication, error) {
	token, ok := Credential(h)
	if !ok {
		e := keyward.Errorf(keyward.EUnauthenticated, "this route needs a credential: Authorization: Bearer, or %s", APIKeyHeader)
		e.Cause = ErrNoCredential
		return Authentication{}, e
	}
	switch {
	case LooksLikeJWT(token) && a.ownsToken(token):
		return a.verdict(ctx, token, "access token")
	case LooksLikeJWT(token):
		p, err := a.signIn(ctx, token)
		return Authentication{Principal: p}, err
	case strings.HasPrefix(token, keyward.AdminKeyPrefix+"_"):
		p, err := a.cfg.Service.AuthenticateAdmin(ctx, token)
		return Authentication{Principal: p}, err
	default:
		return a.verdict(ctx, token, "API key")
	}
}

// ownsToken reports whether a JWT names Keyward as its issuer: its payload is read, not
// verified; verification follows in the verdict.
func (a *Authenticator) ownsToken(token string) bool {
	return a.cfg.Tokens != nil && a.cfg.Tokens.Owns(token)
}

func (a *Authenticator) signIn(ctx context.Context, token string) (keyward.Principal, error) {
	if a.cfg.OIDC == nil {
		return keyward.Principal{}, keyward.Errorf(keyward.EUnauthenticated, "OIDC sign-in is not configured on this server (see --oidc-issuer)")
	}
	claims, err := a.cfg.OIDC.Verify(ctx, token)
	if err != nil {
		return keyward.Principal{}, err
	}
	in := keyward.SignInInput{
		Issuer: claims.Issuer, Subject: claims.Subject, Email: claims.Email, Name: claims.Name,
		AccountName: a.cfg.SignIn.DefaultAccount, RoleID: a.cfg.SignIn.DefaultRole,
	}
	if c := a.cfg.SignIn.AccountClaim; c != "" {
		if v, ok := claims.Raw[c].(string); ok && v != "" {
			in.AccountName = v
		}
	}
	return a.cfg.Service.SignIn(ctx, in)
}

// verdict authenticates an API key or one of Keyward's access tokens through the one verdict
// on credentials. A good credential over its limits is refused with the verdict kept, and the
// refusal is audited when the request would have changed something.
func (a *Authenticator) verdict(ctx context.Context, token, kind string) (Authentication, error) {
	if a.cfg.Keys == nil {
		return Authentication{}, keyward.Errorf(keyward.EUnauthenticated, "the credential is missing, malformed, unknown or revoked")
	}
	// The key's networks are checked against where the request came from.
	var ip netip.Addr
	if addr := keyward.RequestInfoFrom(ctx).RemoteAddr; addr != "" {
		ip, _ = netip.ParseAddr(addr)
	}
	res, err := a.cfg.Keys.Check(ctx, token, verify.Requirements{ClientIP: ip})
	if err != nil {
		return Authentication{}, &keyward.Error{Code: keyward.EUnavailable, Message: "the " + kind + " could not be checked; retry", Cause: err}
	}
	switch res.Code {
	case keyward.VerifyValid:
		return Authentication{Principal: res.Principal(), Verdict: &res}, nil
	case keyward.VerifyForbidden:
		return Authentication{}, keyward.Errorf(keyward.EForbidden, "the %s may not be used from this network", kind)
	case keyward.VerifyRateLimited, keyward.VerifyUsageExceeded:
		refusal := keyward.Errorf(keyward.ERateLimited, "the %s is over its rate limit; retry later", kind)
		if res.Code == keyward.VerifyUsageExceeded {
			refusal = keyward.Errorf(keyward.EUsageExceeded, "the %s's usage credits are spent", kind)
		}
		p := res.Principal()
		a.cfg.Service.AuditRefusal(ctx, p, refusal)
		return Authentication{Principal: p, Verdict: &res}, refusal
	}
	return Authentication{}, keyward.Errorf(keyward.EUnauthenticated, "the %s is not valid (%s)", kind, res.Code)
}

// Credential returns the request's credential: an `Authorization: Bearer` token, or else
// the X-API-Key header.
func Credential(h http.Header) (string, bool) {
	if token, ok := BearerToken(h); ok {
		return token, true
	}
	token := strings.TrimSpace(h.Get(APIKeyHeader))
	return token, token != ""
}

// BearerToken returns the credential of an `Authorization: Bearer <token>` header. The
// scheme is case-insensitive (RFC 9110 §11.1).
func BearerToken(h http.Header) (string, bool) {
	v := h.Get("Authorization")
	const scheme = "bearer "
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	token := strings.TrimSpace(v[len(scheme):])
	return token, token != ""
}

type principalKey struct{}

// NewContext returns ctx carrying p.
func NewContext(ctx context.Context, p keyward.Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal that authentication put in ctx.
func FromContext(ctx context.Context) (keyward.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(keyward.Principal)
	return p, ok
}
