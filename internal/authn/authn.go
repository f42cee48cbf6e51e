// Package authn establishes who is calling a management route.
//
// Today one kind of credential is accepted: an admin key as `Authorization: Bearer`. The
// package is the one place that reads credentials from a request, so that further kinds (OIDC
// access tokens, API keys acting as principals) are added here and nowhere else.
package authn

import (
	"context"
	"net/http"
	"strings"

	"github.com/keyward/keyward/internal/keyward"
)

// Challenge is the WWW-Authenticate value sent with every 401 (RFC 6750).
const Challenge = `Bearer realm="keyward"`

// AdminAuthenticator checks admin key secrets.
type AdminAuthenticator interface {
	AuthenticateAdmin(ctx context.Context, secret string) (keyward.Principal, error)
}

// Authenticator resolves a request's credential to a principal.
type Authenticator struct {
	admin AdminAuthenticator
}

// New returns an Authenticator that accepts admin keys checked by admin.
func New(admin AdminAuthenticator) *Authenticator { return &Authenticator{admin: admin} }

// Authenticate returns the principal of the request's bearer credential. Errors:
// EUnauthenticated when there is none or it is not valid; other codes when the check itself
// failed.
func (a *Authenticator) Authenticate(ctx context.Context, h http.Header) (keyward.Principal, error) {
	token, ok := BearerToken(h)
	if !ok {
		return keyward.Principal{}, keyward.Errorf(keyward.EUnauthenticated, "this route needs an Authorization: Bearer credential")
	}
	return a.admin.AuthenticateAdmin(ctx, token)
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
