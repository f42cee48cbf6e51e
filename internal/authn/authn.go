// Package authn establishes who is calling a management route.
//
// Four kinds of credential are accepted:
//
//  1. a Keyward access token (a JWT whose iss is Keyward's own, from POST /oauth/token):
//     verified locally, it acts as its key did when it was issued, with the token's scopes;
//  2. an OIDC access token (any other JWT) from the configured issuer: its subject is a user,
//     created on first sign-in;
//  3. a Keyward API key, as `Authorization: Bearer` or `X-API-Key`: it acts with its role's
//     and project accesses' permissions, narrowed to its user's;
//  4. an admin key (kwadmin_…): everything in its account.
//
// The kinds cannot be confused (a JWT has three dot-separated parts and names its issuer, an
// admin key has its own prefix, an API key its checksum), so telling them apart costs no
// wasted lookups. This package is the one place that reads credentials from a request.
package authn

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/verify"
)

// Challenge is the WWW-Authenticate value sent with every 401 (RFC 6750).
const Challenge = `Bearer realm="keyward"`

// APIKeyHeader is the header that carries an API key for callers that do not use
// Authorization (seed 003).
const APIKeyHeader = "X-API-Key"

// Service is what authentication needs of the domain.
type Service interface {
	AuthenticateAdmin(ctx context.Context, secret string) (keyward.Principal, error)
	SignIn(ctx context.Context, in keyward.SignInInput) (keyward.Principal, error)
}

// KeyChecker verifies API keys; *verify.Verifier is one.
type KeyChecker interface {
	Check(ctx context.Context, secret string, req verify.Requirements) (verify.Result, error)
	// LimitKey holds the key a credential stands for (an access token's) to its rate limit
	// and credits.
	LimitKey(ctx context.Context, accountID, keyID string, cost *int64) (verify.Result, error)
}

// TokenVerifier verifies Keyward's own access tokens; *oauth.Tokens is one.
type TokenVerifier interface {
	// Owns reports whether a JWT is, by its issuer, one of Keyward's tokens.
	Owns(token string) bool
	// Verify checks the token locally and returns it with VerifyValid, or why not.
	Verify(ctx context.Context, token string) (*keyward.AccessToken, keyward.VerifyCode)
}

// ErrNoCredential is the cause of the error Authenticate returns for a request that carries
// no credential at all, which RFC 6750 answers without an error code.
var ErrNoCredential = errors.New("no credential")

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
	Keys    KeyChecker
	// OIDC verifies access tokens; nil when no issuer is configured, and then a JWT is
	// refused.
	OIDC *OIDCVerifier
	// Tokens verifies Keyward's own access tokens; nil when they are not accepted.
	Tokens TokenVerifier
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

// Authenticate returns the principal of the request's credential. Errors: EUnauthenticated
// when there is none or it is not valid; EForbidden when it is valid but its user is
// disabled; EUnavailable when it could not be checked.
func (a *Authenticator) Authenticate(ctx context.Context, h http.Header) (keyward.Principal, error) {
	token, ok := Credential(h)
	if !ok {
		e := keyward.Errorf(keyward.EUnauthenticated, "this route needs a credential: Authorization: Bearer, or %s", APIKeyHeader)
		e.Cause = ErrNoCredential
		return keyward.Principal{}, e
	}
	switch {
	case LooksLikeJWT(token) && a.cfg.Tokens != nil && a.cfg.Tokens.Owns(token):
		return a.accessToken(ctx, token)
	case LooksLikeJWT(token):
		return a.signIn(ctx, token)
	case strings.HasPrefix(token, keyward.AdminKeyPrefix+"_"):
		return a.cfg.Service.AuthenticateAdmin(ctx, token)
	default:
		return a.apiKey(ctx, token)
	}
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

// accessToken authenticates one of Keyward's own access tokens, without a store read.
func (a *Authenticator) accessToken(ctx context.Context, token string) (keyward.Principal, error) {
	tok, code := a.cfg.Tokens.Verify(ctx, token)
	if code != keyward.VerifyValid {
		return keyward.Principal{}, keyward.Errorf(keyward.EUnauthenticated, "the access token is not valid (%s)", code)
	}
	if a.cfg.Keys != nil {
		res, err := a.cfg.Keys.LimitKey(ctx, tok.AccountID, tok.ClientID, nil)
		if err != nil {
			return keyward.Principal{}, &keyward.Error{Code: keyward.EUnavailable, Message: "the access token could not be checked; retry", Cause: err}
		}
		if err := limitError(res); err != nil {
			return keyward.Principal{}, err
		}
	}
	return keyward.TokenPrincipal(tok), nil
}

func (a *Authenticator) apiKey(ctx context.Context, token string) (keyward.Principal, error) {
	if a.cfg.Keys == nil {
		return keyward.Principal{}, keyward.Errorf(keyward.EUnauthenticated, "the credential is missing, malformed, unknown or revoked")
	}
	res, err := a.cfg.Keys.Check(ctx, token, verify.Requirements{})
	if err != nil {
		return keyward.Principal{}, &keyward.Error{Code: keyward.EUnavailable, Message: "the API key could not be checked; retry", Cause: err}
	}
	if err := limitError(res); err != nil {
		return keyward.Principal{}, err
	}
	switch {
	case !res.Valid:
		return keyward.Principal{}, keyward.Errorf(keyward.EUnauthenticated, "the API key is not valid (%s)", res.Code)
	}
	return keyward.KeyPrincipal(res.Key, res.Identity), nil
}

// limitError is the refusal of a key that is over its rate limit or out of credits, or nil.
func limitError(res verify.Result) error {
	code := keyward.ERateLimited
	switch res.Code {
	case keyward.VerifyRateLimited:
	case keyward.VerifyUsageExceeded:
		code = keyward.EUsageExceeded
	default:
		return nil
	}
	limited := &LimitError{Result: res}
	return &keyward.Error{Code: code, Message: limited.Error(), Cause: limited}
}

// LimitError refuses a good key that is over its rate limit (RATE_LIMITED) or out of usage
// credits (USAGE_EXCEEDED). The key is not wrong, so this is no 401: the route answers 429
// with the decision in Retry-After and the RateLimit headers. It comes as the cause of a
// keyward.Error with code ERateLimited or EUsageExceeded.
type LimitError struct {
	Result verify.Result
}

func (e *LimitError) Error() string {
	if e.Result.Code == keyward.VerifyUsageExceeded {
		return "the API key's usage credits are spent"
	}
	return "the API key is over its rate limit; retry later"
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
