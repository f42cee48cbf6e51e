package oidctest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"sync"
	"testing"
)

// Login is what the issuer's authorization endpoint does: sign in User at once (no form, as
// a provider does for a browser it already knows) for the one client it knows, and issue an
// access token for Audience and an ID token for the client.
type Login struct {
	ClientID, ClientSecret string
	// Audience is the access token's aud (the API's identifier, --oidc-audience).
	Audience string
	User     Claims
}

// grant is an authorization code waiting to be exchanged.
type grant struct {
	redirectURI, challenge, nonce string
}

// authCode is the issuer's Authorization Code flow with PKCE (RFC 7636, S256 only).
type authCode struct {
	t     testing.TB
	mu    sync.Mutex
	login *Login
	codes map[string]grant
	// Exchanges counts the successful code exchanges.
	exchanges int
}

// EnableLogin turns on the authorization endpoint (/authorize) and the code exchange at the
// token endpoint (/oauth/token), signing in l.User.
func (i *Issuer) EnableLogin(t testing.TB, l Login) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.auth = &authCode{t: t, login: &l, codes: map[string]grant{}}
}

// Exchanges counts the codes exchanged for tokens.
func (i *Issuer) Exchanges() int {
	a := i.authFlow()
	if a == nil {
		return 0
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.exchanges
}

func (i *Issuer) authFlow() *authCode {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.auth
}

// authorize checks the request as a provider does and redirects back with a code and the
// state, or with an error.
func (i *Issuer) authorize(w http.ResponseWriter, r *http.Request) {
	a := i.authFlow()
	if a == nil {
		http.Error(w, "login is not enabled", http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Host == "" {
		http.Error(w, "redirect_uri is required", http.StatusBadRequest)
		return
	}
	back := func(params url.Values) {
		params.Set("state", q.Get("state"))
		redirect.RawQuery = params.Encode()
		http.Redirect(w, r, redirect.String(), http.StatusFound)
	}
	switch {
	case q.Get("client_id") != a.login.ClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
	case q.Get("response_type") != "code":
		back(url.Values{"error": {"unsupported_response_type"}})
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back(url.Values{"error": {"invalid_request"}, "error_description": {"PKCE with S256 is required"}})
	case q.Get("state") == "" || q.Get("nonce") == "":
		back(url.Values{"error": {"invalid_request"}, "error_description": {"state and nonce are required"}})
	default:
		code := randomString()
		a.mu.Lock()
		a.codes[code] = grant{redirectURI: redirect.String(), challenge: q.Get("code_challenge"), nonce: q.Get("nonce")}
		a.mu.Unlock()
		back(url.Values{"code": {code}})
	}
}

// exchange answers the token endpoint's authorization_code grant: the client authenticated
// (Basic or in the body), the code unused and for this redirect URI, and the verifier's
// S256 equal to the challenge.
func (i *Issuer) exchange(w http.ResponseWriter, r *http.Request) {
	a := i.authFlow()
	if a == nil || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		tokenError(w, "unsupported_grant_type")
		return
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != a.login.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(a.login.ClientSecret)) != 1 {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": "invalid_client"})
		return
	}
	a.mu.Lock()
	g, found := a.codes[r.PostForm.Get("code")]
	delete(a.codes, r.PostForm.Get("code"))
	a.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !found || g.redirectURI != r.PostForm.Get("redirect_uri") ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		tokenError(w, "invalid_grant")
		return
	}
	access := a.login.User
	access.Audience = []string{a.login.Audience}
	idc := a.login.User
	idc.Audience = []string{a.login.ClientID}
	extra := map[string]any{"nonce": g.nonce}
	for k, v := range idc.Extra {
		extra[k] = v
	}
	idc.Extra = extra
	a.mu.Lock()
	a.exchanges++
	a.mu.Unlock()
	writeJSON(w, map[string]any{
		"access_token": i.Token(a.t, access), "id_token": i.Token(a.t, idc),
		"token_type": "Bearer", "expires_in": 3600,
	})
}

func tokenError(w http.ResponseWriter, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	writeJSON(w, map[string]string{"error": code})
}

func randomString() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// LoginSecret is the client secret EnableLogin set.
func (i *Issuer) LoginSecret() string {
	if a := i.authFlow(); a != nil {
		return a.login.ClientSecret
	}
	return ""
}

// SetLoginUser changes whom the authorization endpoint signs in from now on.
func (i *Issuer) SetLoginUser(c Claims) {
	if a := i.authFlow(); a != nil {
		a.mu.Lock()
		a.login.User = c
		a.mu.Unlock()
	}
}
