package httpapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyward/keyward/internal/oauth"
)

// tokenAnswer is what POST /oauth/token answers, success or error.
type tokenAnswer struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int    `json:"expires_in"`
	Scope            string `json:"scope"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// form posts a form to path, with Basic credentials when user is not "", and a bearer when
// bearer is not "".
func (e *env) form(path string, values url.Values, user, pass, bearer string) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(values.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// accessToken exchanges a key for a token with client_secret_post, and fails the test
// unless it gets one.
func (e *env) accessToken(id, secret, scope string) tokenAnswer {
	e.t.Helper()
	v := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	if scope != "" {
		v.Set("scope", scope)
	}
	r := e.form("/oauth/token", v, "", "", "")
	if r.status != http.StatusOK {
		e.t.Fatalf("POST /oauth/token = %d %s, want 200", r.status, r.body)
	}
	var a tokenAnswer
	r.decode(e.t, &a)
	return a
}

// tamper changes a token's claims and keeps its signature.
func tamper(t testing.TB, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	claims["permissions"] = []string{"*"}
	b, _ := json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// TestOAuthClientCredentialsLibrary gets a token with golang.org/x/oauth2/clientcredentials,
// both ways it authenticates, and calls seed 002's /api/v1/users/me through its transport.
func TestOAuthClientCredentialsLibrary(t *testing.T) {
	e := newEnv(t)
	k := e.key(map[string]any{"name": "svc", "scopes": []string{"read", "write"}, "role_id": "viewer"})
	for name, style := range map[string]oauth2.AuthStyle{"basic": oauth2.AuthStyleInHeader, "post": oauth2.AuthStyleInParams} {
		t.Run(name, func(t *testing.T) {
			cfg := clientcredentials.Config{ClientID: k.ID, ClientSecret: k.Key, TokenURL: e.url + "/oauth/token", Scopes: []string{"read"}, AuthStyle: style}
			tok, err := cfg.Token(t.Context())
			if err != nil {
				t.Fatalf("Token: %v", err)
			}
			if tok.Extra("scope") != "read" || !strings.EqualFold(tok.TokenType, "bearer") {
				t.Errorf("token: scope %v, type %q; want read, bearer", tok.Extra("scope"), tok.TokenType)
			}
			res, err := cfg.Client(t.Context()).Get(e.url + "/api/v1/users/me")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var me struct {
				Kind  string  `json:"kind"`
				KeyID *string `json:"key_id"`
				Role  *struct{ Slug string }
			}
			if err := json.NewDecoder(res.Body).Decode(&me); err != nil || res.StatusCode != http.StatusOK {
				t.Fatalf("GET /api/v1/users/me = %d, %v", res.StatusCode, err)
			}
			if me.Kind != "api_key" || me.KeyID == nil || *me.KeyID != k.ID || me.Role == nil || me.Role.Slug != "viewer" {
				t.Errorf("users/me = %+v, want the key %s with role viewer", me, k.ID)
			}
		})
	}
}

// TestOAuthTokenVerifiesWithJWX checks the tokens against the published JWKS with an
// independent library, for every signing algorithm.
func TestOAuthTokenVerifiesWithJWX(t *testing.T) {
	for _, alg := range oauth.Algorithms {
		t.Run(alg, func(t *testing.T) {
			e := newEnvTokens(t, nil, func(c *oauth.Config) { c.Algorithm = alg })
			k := e.key(map[string]any{"name": "svc", "scopes": []string{"read", "write"}})
			a := e.accessToken(k.ID, k.Key, "")
			set, err := jwk.Fetch(t.Context(), e.url+"/.well-known/jwks.json")
			if err != nil {
				t.Fatalf("fetching the JWKS: %v", err)
			}
			if set.Len() != 1 {
				t.Errorf("JWKS has %d keys, want 1", set.Len())
			}
			tok, err := jwt.Parse([]byte(a.AccessToken), jwt.WithKeySet(set), jwt.WithIssuer(e.tokens.Issuer()),
				jwt.WithAudience(e.tokens.Audience()), jwt.WithClock(jwt.ClockFunc(e.clock.Now)), jwt.WithValidate(true))
			if err != nil {
				t.Fatalf("jwx: %v", err)
			}
			var clientID, scope string
			if err := tok.Get("client_id", &clientID); err != nil || clientID != k.ID {
				t.Errorf("client_id = %q (%v), want %s", clientID, err, k.ID)
			}
			if err := tok.Get("scope", &scope); err != nil || scope != "read write" {
				t.Errorf("scope = %q (%v), want \"read write\"", scope, err)
			}
			if sub, _ := tok.Subject(); sub != k.ID {
				t.Errorf("sub = %q, want the key's id %s", sub, k.ID)
			}
			header, _ := base64.RawURLEncoding.DecodeString(strings.Split(a.AccessToken, ".")[0])
			var h struct{ Typ, Alg, Kid string }
			json.Unmarshal(header, &h)
			if h.Typ != "at+jwt" || h.Alg != alg || h.Kid == "" {
				t.Errorf("header = %+v, want typ at+jwt, alg %s and a kid", h, alg)
			}
			// A tampered token fails the independent check too.
			if _, err := jwt.Parse([]byte(tamper(t, a.AccessToken)), jwt.WithKeySet(set), jwt.WithClock(jwt.ClockFunc(e.clock.Now))); err == nil {
				t.Error("jwx accepted a tampered token")
			}
		})
	}
}

// TestOAuthSeedCurl runs seed 002's curl example as printed, then its error example.
func TestOAuthSeedCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl on this machine")
	}
	e := newEnv(t)
	k := e.key(map[string]any{"name": "svc", "scopes": []string{"read", "write"}})
	run := func(secret string) (string, []byte) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, curl, "-sS", "-w", "\n%{http_code}", "-X", "POST",
			e.url+"/oauth/token",
			"-H", "Content-Type: application/x-www-form-urlencoded",
			"-d", "grant_type=client_credentials&client_id="+k.ID+"&client_secret="+secret)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		i := bytes.LastIndexByte(out, '\n')
		return string(out[i+1:]), out[:i]
	}
	status, body := run(k.Key)
	var ok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
	}
	if err := json.Unmarshal(body, &ok); err != nil || status != "200" {
		t.Fatalf("curl = %s %s, %v", status, body, err)
	}
	if !strings.HasPrefix(ok.AccessToken, "eyJ") || ok.TokenType != "bearer" || ok.ExpiresIn != 3600 || ok.Scope != "read write" {
		t.Errorf("curl = %+v, want a JWT, bearer, 3600 and \"read write\" as in the seed", ok)
	}
	status, body = run(mistype(k.Key))
	if want := `{"error":"invalid_client","error_description":"Client authentication failed"}`; status != "401" || strings.TrimSpace(string(body)) != want {
		t.Errorf("curl with a bad secret = %s %s, want 401 %s", status, body, want)
	}
}

func TestOAuthTokenEndpoint(t *testing.T) {
	e := newEnv(t)
	k := e.key(map[string]any{"name": "svc", "scopes": []string{"read", "write"}})
	other := e.key(map[string]any{"name": "other"})
	grant := func(more ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}}
		for i := 0; i+1 < len(more); i += 2 {
			v.Set(more[i], more[i+1])
		}
		return v
	}
	// Basic with every character form-encoded (RFC 6749 §2.3.1).
	encodeAll := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[s[i]>>4])+string("0123456789abcdef"[s[i]&15])))
		}
		return b.String()
	}
	tests := []struct {
		name       string
		values     url.Values
		user, pass string
		status     int
		errCode    string
		scope      string
	}{
		{"post, all scopes", grant("client_id", k.ID, "client_secret", k.Key), "", "", 200, "", "read write"},
		{"basic, narrowed", grant("scope", "write"), k.ID, k.Key, 200, "", "write"},
		{"basic, form-encoded", grant(), encodeAll(k.ID), encodeAll(k.Key), 200, "", "read write"},
		{"basic with the same client_id in the body", grant("client_id", k.ID), k.ID, k.Key, 200, "", "read write"},
		{"scope repeated", grant("client_id", k.ID, "client_secret", k.Key, "scope", "read read"), "", "", 200, "", "read"},
		{"scope not the key's", grant("client_id", k.ID, "client_secret", k.Key, "scope", "read admin"), "", "", 400, "invalid_scope", ""},
		{"both methods", grant("client_id", k.ID, "client_secret", k.Key), k.ID, k.Key, 400, "invalid_request", ""},
		{"no grant_type", url.Values{"client_id": {k.ID}, "client_secret": {k.Key}}, "", "", 400, "invalid_request", ""},
		{"another grant", grant("grant_type", "password", "client_id", k.ID, "client_secret", k.Key), "", "", 400, "unsupported_grant_type", ""},
		{"no credentials", grant(), "", "", 401, "invalid_client", ""},
		{"secret of another client", grant("client_id", k.ID, "client_secret", other.Key), "", "", 401, "invalid_client", ""},
		{"basic, wrong secret", grant(), k.ID, k.Key + "x", 401, "invalid_client", ""},
		{"unknown client", grant("client_id", "0190d6a0-0000-7000-8000-000000000000", "client_secret", "kw_nope"), "", "", 401, "invalid_client", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.form("/oauth/token", tt.values, tt.user, tt.pass, "")
			var a tokenAnswer
			r.decode(t, &a)
			if r.status != tt.status || a.Error != tt.errCode {
				t.Fatalf("= %d %s, want %d %q", r.status, r.body, tt.status, tt.errCode)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Pragma") != "no-cache" {
				t.Errorf("Cache-Control %q, Pragma %q; want no-store, no-cache", r.header.Get("Cache-Control"), r.header.Get("Pragma"))
			}
			if tt.status == 200 && (a.Scope != tt.scope || a.AccessToken == "" || a.ExpiresIn != 3600) {
				t.Errorf("= %+v, want scope %q, a token, 3600 s", a, tt.scope)
			}
			if tt.status == 401 {
				want := `Bearer realm="keyward", error="invalid_token"`
				if tt.user != "" {
					want = `Basic realm="keyward"`
				}
				if got := r.header.Get("WWW-Authenticate"); got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
			}
		})
	}

	t.Run("not a form", func(t *testing.T) {
		r := e.doAs("", "POST", "/oauth/token", map[string]any{"grant_type": "client_credentials"})
		if r.status != 400 || !strings.Contains(string(r.body), "invalid_request") {
			t.Errorf("= %d %s, want 400 invalid_request", r.status, r.body)
		}
	})
	t.Run("secret in the URL", func(t *testing.T) {
		r := e.form("/oauth/token?client_secret="+url.QueryEscape(k.Key), grant("client_id", k.ID), "", "", "")
		if r.status != 400 || !strings.Contains(string(r.body), "invalid_request") {
			t.Errorf("= %d %s, want 400 invalid_request", r.status, r.body)
		}
	})
	t.Run("parameter twice", func(t *testing.T) {
		v := grant("client_id", k.ID, "client_secret", k.Key)
		v.Add("scope", "read")
		v.Add("scope", "write")
		if r := e.form("/oauth/token", v, "", "", ""); r.status != 400 {
			t.Errorf("= %d %s, want 400", r.status, r.body)
		}
	})
}

// TestOAuthTokenLifetime: never past the key's expiry; an expired or revoked key gets none.
func TestOAuthTokenLifetime(t *testing.T) {
	e := newEnv(t)
	soon := e.clock.Now().Add(10 * time.Minute)
	k := e.key(map[string]any{"name": "short", "expires_at": soon})
	if a := e.accessToken(k.ID, k.Key, ""); a.ExpiresIn != 600 {
		t.Errorf("expires_in = %d, want 600 (the key's remaining life)", a.ExpiresIn)
	}
	e.clock.Advance(11 * time.Minute)
	post := url.Values{"grant_type": {"client_credentials"}, "client_id": {k.ID}, "client_secret": {k.Key}}
	if r := e.form("/oauth/token", post, "", "", ""); r.status != 401 || !strings.Contains(string(r.body), "invalid_client") {
		t.Errorf("expired key: %d %s, want 401 invalid_client", r.status, r.body)
	}
	live := e.key(map[string]any{"name": "live"})
	e.must(http.StatusNoContent, "DELETE", "/v1/api-keys/"+live.ID, nil)
	post = url.Values{"grant_type": {"client_credentials"}, "client_id": {live.ID}, "client_secret": {live.Key}}
	if r := e.form("/oauth/token", post, "", "", ""); r.status != 401 {
		t.Errorf("revoked key: %d %s, want 401", r.status, r.body)
	}
}

// refusedWithin polls until the token stops working as a bearer, and fails if it does not
// within a bounded number of tries.
func refusedWithin(t *testing.T, e *env, token string) {
	t.Helper()
	for range 200 {
		if r := e.doAs(token, "GET", "/v1/whoami", nil); r.status == http.StatusUnauthorized {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("the token still works after 200 tries")
}

func TestOAuthRevokedKeyEndsItsTokens(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		end  func(id string)
	}{
		{"revoked", func(id string) { e.must(http.StatusNoContent, "DELETE", "/v1/api-keys/"+id, nil) }},
		{"rotated without grace", func(id string) { e.must(http.StatusCreated, "POST", "/v1/api-keys/"+id+"/rotate", map[string]any{}) }},
		{"rotated, grace over", func(id string) {
			e.must(http.StatusCreated, "POST", "/v1/api-keys/"+id+"/rotate", map[string]any{"grace_period_seconds": 300})
			e.clock.Advance(6 * time.Minute)
		}},
		{"expiry brought forward, then reached", func(id string) {
			e.must(http.StatusOK, "PATCH", "/v1/api-keys/"+id, map[string]any{"expires_at": e.clock.Now().Add(5 * time.Minute)})
			e.clock.Advance(6 * time.Minute)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := e.key(map[string]any{"name": tt.name})
			token := e.accessToken(k.ID, k.Key, "").AccessToken
			e.must(http.StatusOK, "GET", "/v1/whoami", nil)
			if r := e.doAs(token, "GET", "/v1/whoami", nil); r.status != http.StatusOK {
				t.Fatalf("whoami with the token = %d %s", r.status, r.body)
			}
			tt.end(k.ID)
			refusedWithin(t, e, token)
			if v := e.verify(token); v.Valid || v.Code != "REVOKED" {
				t.Errorf("verify = %+v, want REVOKED", v)
			}
		})
	}
}

// TestOAuthRotationGraceKeepsTokens: during a rotation's grace the old key's tokens work.
func TestOAuthRotationGraceKeepsTokens(t *testing.T) {
	e := newEnv(t)
	k := e.key(map[string]any{"name": "graceful"})
	token := e.accessToken(k.ID, k.Key, "").AccessToken
	e.must(http.StatusCreated, "POST", "/v1/api-keys/"+k.ID+"/rotate", map[string]any{"grace_period_seconds": 600})
	if err := e.tokens.SyncDenials(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v := e.verify(token); !v.Valid {
		t.Errorf("during the grace: %+v, want valid", v)
	}
	// A token issued during the grace ends with it.
	if a := e.accessToken(k.ID, k.Key, ""); a.ExpiresIn > 600 {
		t.Errorf("expires_in during the grace = %d, want at most 600", a.ExpiresIn)
	}
}

func TestOAuthVerifyRoute(t *testing.T) {
	e := newEnv(t)
	k := e.key(map[string]any{"name": "svc", "scopes": []string{"read", "write"}, "role_id": "viewer"})
	token := e.accessToken(k.ID, k.Key, "read").AccessToken
	if v := e.verify(token); !v.Valid || v.KeyID == nil || *v.KeyID != k.ID {
		t.Errorf("verify in the body = %+v, want valid for %s", v, k.ID)
	}
	if v := e.verify(token, "write"); v.Valid || v.Code != "INSUFFICIENT_SCOPE" {
		t.Errorf("verify asking a scope the token lacks = %+v, want INSUFFICIENT_SCOPE", v)
	}
	r := e.doAs(token, "POST", "/v1/keys/verify", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"valid":true`) || !strings.Contains(string(r.body), `"slug":"viewer"`) {
		t.Errorf("verify as Bearer = %d %s", r.status, r.body)
	}
	for name, bad := range map[string]string{"tampered": tamper(t, token), "truncated": token[:len(token)-10]} {
		if v := e.verify(bad); v.Valid || v.Code != "MALFORMED" {
			t.Errorf("%s: %+v, want MALFORMED", name, v)
		}
	}
	e.clock.Advance(2 * time.Hour)
	if v := e.verify(token); v.Valid || v.Code != "EXPIRED" {
		t.Errorf("after exp: %+v, want EXPIRED", v)
	}
}

func TestOAuthIntrospectAndRevoke(t *testing.T) {
	e := newEnv(t)
	k := e.key(map[string]any{"name": "svc", "scopes": []string{"read"}})
	other := e.key(map[string]any{"name": "other"})
	_, foreignAdmin, err := e.svc.CreateAdminKey(t.Context(), "elsewhere", "root")
	if err != nil {
		t.Fatal(err)
	}
	token := e.accessToken(k.ID, k.Key, "").AccessToken
	introspect := func(tok, user, pass, bearer string) map[string]any {
		t.Helper()
		r := e.form("/oauth/introspect", url.Values{"token": {tok}}, user, pass, bearer)
		if r.status != 200 {
			t.Fatalf("introspect = %d %s", r.status, r.body)
		}
		return r.object(t)
	}
	if got := introspect(token, "", "", e.token); got["active"] != true || got["client_id"] != k.ID || got["scope"] != "read" || got["token_type"] != "Bearer" {
		t.Errorf("introspect as the admin key = %v", got)
	}
	if got := introspect(token, other.ID, other.Key, ""); got["active"] != true {
		t.Errorf("introspect as another key of the account = %v", got)
	}
	for name, got := range map[string]map[string]any{
		"another account": introspect(token, "", "", foreignAdmin),
		"garbage":         introspect("not-a-token", "", "", e.token),
		"tampered":        introspect(tamper(t, token), "", "", e.token),
	} {
		if len(got) != 1 || got["active"] != false {
			t.Errorf("introspect, %s = %v, want only active:false", name, got)
		}
	}
	if r := e.form("/oauth/introspect", url.Values{"token": {token}}, "", "", ""); r.status != 401 {
		t.Errorf("introspect without credentials = %d %s, want 401", r.status, r.body)
	}

	// Revocation: another client's token is left alone; the token's own client revokes it.
	revoke := func(tok, user, pass string) {
		t.Helper()
		if r := e.form("/oauth/revoke", url.Values{"token": {tok}, "token_type_hint": {"access_token"}}, user, pass, ""); r.status != 200 {
			t.Fatalf("revoke = %d %s, want 200", r.status, r.body)
		}
	}
	revoke(token, other.ID, other.Key)
	if got := introspect(token, "", "", e.token); got["active"] != true {
		t.Errorf("after another client's revoke: %v, want still active", got)
	}
	revoke("unknown", k.ID, k.Key)
	revoke(token, k.ID, k.Key)
	if got := introspect(token, "", "", e.token); got["active"] != false {
		t.Errorf("after revoke: %v, want inactive", got)
	}
	if v := e.verify(token); v.Code != "REVOKED" {
		t.Errorf("verify after revoke: %+v, want REVOKED", v)
	}
	// The key itself still works and gets new tokens.
	if v := e.verify(k.Key); !v.Valid {
		t.Errorf("the key after its token's revocation: %+v", v)
	}
	fresh := e.accessToken(k.ID, k.Key, "").AccessToken
	e.clock.Advance(2 * time.Hour)
	if got := introspect(fresh, "", "", e.token); got["active"] != false {
		t.Errorf("expired token: %v, want inactive", got)
	}
}

func TestOAuthFailureLimit(t *testing.T) {
	e := newEnv(t)
	k := e.key(map[string]any{"name": "target"})
	bad := url.Values{"grant_type": {"client_credentials"}, "client_id": {k.ID}, "client_secret": {k.Key + "x"}}
	limited := false
	for range 20 {
		r := e.form("/oauth/token", bad, "", "", "")
		if r.status == http.StatusTooManyRequests {
			if r.header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "temporarily_unavailable") {
				t.Errorf("429 = %v %s, want Retry-After and temporarily_unavailable", r.header, r.body)
			}
			limited = true
			break
		}
		if r.status != http.StatusUnauthorized {
			t.Fatalf("bad secret = %d %s", r.status, r.body)
		}
	}
	if !limited {
		t.Fatal("20 failures for one client_id were never limited")
	}
	// Limited: even the right secret is not checked until the window ends.
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {k.ID}, "client_secret": {k.Key}}
	if r := e.form("/oauth/token", good, "", "", ""); r.status != http.StatusTooManyRequests {
		t.Errorf("right secret while limited = %d %s, want 429", r.status, r.body)
	}
	// Another client from the same address is not limited yet.
	o := e.key(map[string]any{"name": "bystander"})
	e.accessToken(o.ID, o.Key, "")

	// The limited client, from another address, is not locked out by the guesser. (Served
	// without a network, so that the request can come from an address other than loopback.)
	req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(good.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "192.0.2.7:40000"
	rec := httptest.NewRecorder()
	e.server.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("the right secret from another address while the guesser is limited = %d %s, want 200", rec.Code, rec.Body)
	}
}

func TestOAuthMetadataAndJWKS(t *testing.T) {
	e := newEnv(t)
	r := e.doAs("", "GET", "/.well-known/oauth-authorization-server", nil)
	var md map[string]any
	r.decode(t, &md)
	if r.status != 200 || md["issuer"] != e.url || md["token_endpoint"] != e.url+"/oauth/token" || md["jwks_uri"] != e.url+"/.well-known/jwks.json" ||
		md["introspection_endpoint"] != e.url+"/oauth/introspect" || md["revocation_endpoint"] != e.url+"/oauth/revoke" {
		t.Errorf("metadata = %d %v", r.status, md)
	}
	r = e.doAs("", "GET", "/.well-known/jwks.json", nil)
	if r.status != 200 || !strings.Contains(r.header.Get("Cache-Control"), "max-age=") || strings.Contains(string(r.body), `"d"`) {
		t.Errorf("jwks = %d %v %s, want public keys with a max-age", r.status, r.header, r.body)
	}
	req, _ := http.NewRequest("GET", e.url+"/.well-known/jwks.json", nil)
	req.Header.Set("If-None-Match", r.header.Get("ETag"))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("conditional JWKS = %d, want 304", res.StatusCode)
	}
}

// mistype changes a key's last character, as a typo does: always to another character, so
// that the secret is always wrong.
func mistype(key string) string {
	if strings.HasSuffix(key, "x") {
		return key[:len(key)-1] + "y"
	}
	return key[:len(key)-1] + "x"
}
