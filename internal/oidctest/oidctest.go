// Package oidctest runs an OpenID Connect issuer over real HTTP for tests.
//
// It serves what a verifier of access tokens reads from an issuer (the discovery document and
// the JWKS) and mints tokens: good ones, and the bad ones a verifier must refuse (forged, alg
// none). It is ordinary non-test code so that the tests of any package can import it; nothing
// outside tests should.
package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Issuer is an OIDC issuer listening on 127.0.0.1. It signs with one RS256 key at a time and
// publishes only that key, as a provider does right after a rotation.
type Issuer struct {
	// URL is the issuer identifier: the iss of its tokens and the base of its discovery
	// document. It has no trailing slash.
	URL string

	jwksFetches atomic.Int64

	mu     sync.Mutex
	key    *rsa.PrivateKey
	kid    string
	serial int             // numbers the kids, so that a rotated key never reuses one
	forger *rsa.PrivateKey // made on first use: generating RSA keys is slow
	auth   *authCode       // the Authorization Code flow, once EnableLogin turned it on
}

// NewIssuer starts an issuer with a fresh RS256 key. The server is closed when the test ends.
func NewIssuer(t testing.TB) *Issuer {
	t.Helper()
	i := &Issuer{}
	i.RotateKey(t)

	// Listen explicitly on 127.0.0.1: httptest falls back to [::1], and tests must not
	// depend on which loopback the machine has.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("oidctest: listen: %v", err)
	}
	// The URL is set before the server starts: its handlers read it.
	i.URL = "http://" + ln.Addr().String()
	srv := httptest.NewUnstartedServer(i.handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return i
}

func (i *Issuer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                i.URL,
			"jwks_uri":                              i.URL + "/jwks",
			"authorization_endpoint":                i.URL + "/authorize",
			"token_endpoint":                        i.URL + "/oauth/token",
			"response_types_supported":              []string{"code"},
			"code_challenge_methods_supported":      []string{"S256"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{string(jose.RS256)},
		})
	})
	mux.HandleFunc("GET /authorize", i.authorize)
	mux.HandleFunc("POST /oauth/token", i.exchange)
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		i.jwksFetches.Add(1)
		i.mu.Lock()
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{
			Key:       &i.key.PublicKey,
			KeyID:     i.kid,
			Algorithm: string(jose.RS256),
			Use:       "sig",
		}}}
		i.mu.Unlock()
		// JSONWebKeySet has no MarshalJSON of its own; json.Marshal reaches each key's.
		writeJSON(w, set)
	})
	return mux
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// Claims are the claims of a token to mint. Zero values take defaults: Issuer is the
// issuer's URL, Expiry is an hour from now, IssuedAt is now; an empty Subject, Audience,
// Email or Name and a zero NotBefore leave that claim out.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string // one value is written as a string, several as an array
	Email     string
	Name      string
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time

	// Extra claims are set last and replace any standard claim of the same name; a nil value
	// removes that claim, to mint a token without exp, say.
	Extra map[string]any
}

func (i *Issuer) payload(c Claims) map[string]any {
	now := time.Now()
	m := map[string]any{"iss": i.URL, "exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	if c.Issuer != "" {
		m["iss"] = c.Issuer
	}
	if !c.Expiry.IsZero() {
		m["exp"] = c.Expiry.Unix()
	}
	if !c.IssuedAt.IsZero() {
		m["iat"] = c.IssuedAt.Unix()
	}
	if !c.NotBefore.IsZero() {
		m["nbf"] = c.NotBefore.Unix()
	}
	if c.Subject != "" {
		m["sub"] = c.Subject
	}
	switch len(c.Audience) {
	case 0:
	case 1:
		m["aud"] = c.Audience[0]
	default:
		m["aud"] = c.Audience
	}
	if c.Email != "" {
		m["email"] = c.Email
	}
	if c.Name != "" {
		m["name"] = c.Name
	}
	for k, v := range c.Extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return m
}

// Token returns a JWT with claims c, signed RS256 with the current key and carrying its kid.
func (i *Issuer) Token(t testing.TB, c Claims) string {
	t.Helper()
	i.mu.Lock()
	key, kid := i.key, i.kid
	i.mu.Unlock()
	return sign(t, key, kid, i.payload(c))
}

// ForgedToken returns a JWT that claims the current kid but is signed by a key the issuer
// never published: what an attacker without the issuer's private key can make.
func (i *Issuer) ForgedToken(t testing.TB, c Claims) string {
	t.Helper()
	i.mu.Lock()
	if i.forger == nil {
		i.forger = generateKey(t)
	}
	key, kid := i.forger, i.kid
	i.mu.Unlock()
	return sign(t, key, kid, i.payload(c))
}

// NoneToken returns an unsigned JWT (header alg "none", empty signature) with claims c. It
// panics if an Extra value cannot be marshalled as JSON.
func (i *Issuer) NoneToken(c Claims) string {
	body, err := json.Marshal(i.payload(c))
	if err != nil {
		panic(fmt.Sprintf("oidctest: marshal claims: %v", err))
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc.EncodeToString(body) + "."
}

// RotateKey replaces the signing key with a new one under a new kid. The JWKS publishes only
// the new key from then on, so tokens signed before the rotation no longer verify.
func (i *Issuer) RotateKey(t testing.TB) {
	t.Helper()
	key := generateKey(t)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.serial++
	i.key, i.kid = key, fmt.Sprintf("oidctest-%d", i.serial)
}

// JWKSFetches reports how many times the JWKS has been fetched, so that a test can tell
// whether a verifier went back to the issuer for keys.
func (i *Issuer) JWKSFetches() int { return int(i.jwksFetches.Load()) }

func generateKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("oidctest: generate RSA key: %v", err)
	}
	return key
}

func sign(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		t.Fatalf("oidctest: new signer: %v", err)
	}
	token, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("oidctest: sign token: %v", err)
	}
	return token
}
