package httpapi

import (
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/oauth"
)

// The OAuth 2.0 routes: the client-credentials token endpoint (RFC 6749 §4.4), introspection
// (RFC 7662), revocation (RFC 7009), the JWKS (RFC 7517) and the server metadata (RFC 8414).
// They answer errors as RFC 6749 §5.2 does, {error, error_description}, not as problems.

// maxFormBody bounds an OAuth request body: a few short parameters.
const maxFormBody = 16 << 10

// OAuthError is an RFC 6749 §5.2 error response.
type OAuthError struct {
	Error            string `json:"error" enum:"invalid_request,invalid_client,unauthorized_client,unsupported_grant_type,invalid_scope,invalid_grant,temporarily_unavailable,invalid_token" doc:"RFC 6749 §5.2 error code."`
	ErrorDescription string `json:"error_description,omitempty" doc:"What went wrong, for people."`
}

// TokenResponse is a successful token response (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken string `json:"access_token" doc:"An RFC 9068 JWT: verify it against /.well-known/jwks.json, or send it to Keyward as Authorization: Bearer."`
	TokenType   string `json:"token_type" enum:"bearer"`
	ExpiresIn   int    `json:"expires_in" doc:"Seconds until the token expires: the configured lifetime, never past the key's own expiry or rotation grace."`
	Scope       string `json:"scope" doc:"The token's scopes, space-separated."`
}

// IntrospectionResponse is RFC 7662 §2.2's answer. Only active is set for a token that is not
// active.
type IntrospectionResponse struct {
	Active        bool     `json:"active"`
	Scope         string   `json:"scope,omitempty"`
	ClientID      string   `json:"client_id,omitempty" doc:"The key the token was issued to."`
	TokenType     string   `json:"token_type,omitempty"`
	Exp           int64    `json:"exp,omitempty"`
	Iat           int64    `json:"iat,omitempty"`
	Sub           string   `json:"sub,omitempty"`
	Aud           string   `json:"aud,omitempty"`
	Iss           string   `json:"iss,omitempty"`
	Jti           string   `json:"jti,omitempty"`
	AccountID     string   `json:"account_id,omitempty"`
	ProjectID     string   `json:"project_id,omitempty"`
	EnvironmentID string   `json:"environment_id,omitempty"`
	UserID        string   `json:"user_id,omitempty"`
	Role          string   `json:"role,omitempty"`
	Permissions   []string `json:"permissions,omitempty"`
}

// ServerMetadata is the RFC 8414 authorization server metadata.
type ServerMetadata struct {
	Issuer                                    string   `json:"issuer"`
	TokenEndpoint                             string   `json:"token_endpoint"`
	JWKSURI                                   string   `json:"jwks_uri"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	GrantTypesSupported                       []string `json:"grant_types_supported"`
	ResponseTypesSupported                    []string `json:"response_types_supported" doc:"Empty: there is no authorization endpoint."`
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	ScopesSupported                           []string `json:"scopes_supported" doc:"Empty: scopes are free-form, chosen per key; a token may ask for any subset of its key's."`
	AccessTokenSigningAlgValuesSupported      []string `json:"access_token_signing_alg_values_supported,omitempty"`
}

var clientAuthMethods = []string{"client_secret_basic", "client_secret_post"}

type oauthFailure struct {
	status     int
	code, desc string
	// basic: the client authenticated with HTTP Basic, so a 401 names that scheme.
	basic      bool
	retryAfter time.Duration
}

func writeOAuthError(w http.ResponseWriter, f oauthFailure) {
	h := w.Header()
	if f.status == http.StatusUnauthorized {
		if f.basic {
			h.Set("WWW-Authenticate", `Basic realm="keyward"`)
		} else {
			h.Set("WWW-Authenticate", authn.Challenge+`, error="invalid_token"`)
		}
	}
	switch {
	case f.retryAfter > 0:
		h.Set("Retry-After", strconv.Itoa(int(f.retryAfter.Round(time.Second)/time.Second)+1))
	case f.status == http.StatusServiceUnavailable:
		h.Set("Retry-After", httpwire.RetryAfterOutage)
	}
	writeOAuthJSON(w, f.status, OAuthError{Error: f.code, ErrorDescription: f.desc})
}

func writeOAuthJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func invalidRequest(desc string) *oauthFailure {
	return &oauthFailure{status: http.StatusBadRequest, code: "invalid_request", desc: desc}
}

// clientFailure is how the token endpoints answer a client that oauth.Clients refused.
func clientFailure(e *oauth.ClientError, basic bool) *oauthFailure {
	return &oauthFailure{status: httpwire.StatusOf(e.Code), code: e.OAuthCode, desc: e.Description, basic: basic, retryAfter: e.RetryAfter}
}

// readForm parses an OAuth request body: form-encoded, each parameter at most once, and no
// credentials in the URL.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthFailure) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	if q := r.URL.Query(); q.Has("client_secret") || q.Has("token") {
		return nil, invalidRequest("credentials and tokens must be sent in the body, never in the URL")
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBody)
	if err := r.ParseForm(); err != nil {
		return nil, invalidRequest("the body is not a valid form, or larger than 16 KiB")
	}
	for name, vs := range r.PostForm {
		if len(vs) > 1 {
			return nil, invalidRequest("the parameter " + name + " is given more than once")
		}
	}
	return r.PostForm, nil
}

// hasClientCredentials reports whether a request carries client credentials (Basic, or a
// client_secret in the body) rather than a bearer.
func hasClientCredentials(r *http.Request, form url.Values) bool {
	_, _, basic := r.BasicAuth()
	return basic || form.Has("client_secret")
}

// authenticateClient reads the client credentials of a request, HTTP Basic with the
// form-encoded id and secret (RFC 6749 §2.3.1) or client_id and client_secret in the body,
// never both, and has oauth.Clients judge them.
func (s *Server) authenticateClient(r *http.Request, form url.Values) (*oauth.Client, *oauthFailure) {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, &oauthFailure{status: http.StatusUnauthorized, code: "invalid_client", desc: "the Basic credentials are not form-encoded", basic: true}
		}
		if form.Has("client_secret") || (form.Has("client_id") && form.Get("client_id") != id) {
			return nil, invalidRequest("use one client authentication method: HTTP Basic or client_id and client_secret in the body, not both")
		}
	} else {
		if h := r.Header.Get("Authorization"); h != "" {
			return nil, invalidRequest("client credentials go in HTTP Basic or in the body; this Authorization scheme is not accepted here")
		}
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	addr := ""
	if ip := s.proxies.ClientIP(r); ip.IsValid() {
		addr = ip.String()
	}
	c, err := s.clients.Authenticate(r.Context(), id, secret, addr)
	if err != nil {
		if err.Code == keyward.EUnavailable {
			s.log.Error("oauth: a client could not be checked", "err", err)
		}
		return nil, clientFailure(err, basic)
	}
	return c, nil
}

func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	form, f := readForm(w, r)
	if f == nil {
		switch gt := form.Get("grant_type"); {
		case gt == "":
			f = invalidRequest("grant_type is required")
		case gt != "client_credentials":
			f = &oauthFailure{status: http.StatusBadRequest, code: "unsupported_grant_type", desc: "only the client_credentials grant is supported"}
		}
	}
	var c *oauth.Client
	if f == nil {
		c, f = s.authenticateClient(r, form)
	}
	var scopes []string
	if f == nil {
		var e *oauth.ClientError
		if scopes, e = oauth.GrantScopes(c.Key, form.Get("scope")); e != nil {
			f = clientFailure(e, false)
		}
	}
	if f != nil {
		writeOAuthError(w, *f)
		return
	}
	issued, err := s.tokens.Issue(r.Context(), c.Key, c.Identity, scopes)
	switch keyward.ErrorCode(err) {
	case "":
	case keyward.EUnauthenticated:
		writeOAuthError(w, oauthFailure{status: http.StatusUnauthorized, code: "invalid_client", desc: oauth.ClientAuthFailed, basic: isBasic(r)})
		return
	default:
		s.log.Error("oauth: issuing a token failed", "err", err)
		writeOAuthError(w, oauthFailure{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", desc: "no token could be issued; retry"})
		return
	}
	writeOAuthJSON(w, http.StatusOK, TokenResponse{AccessToken: issued.AccessToken, TokenType: "bearer", ExpiresIn: issued.ExpiresIn, Scope: strings.Join(issued.Scopes, " ")})
}

func isBasic(r *http.Request) bool {
	_, _, ok := r.BasicAuth()
	return ok
}

// caller is who calls introspection or revocation: a client (a key, by its credentials) or
// the principal of a bearer (an admin key, an API key or an access token).
type caller struct {
	accountID string
	client    *oauth.Client
	principal *keyward.Principal
}

func (s *Server) oauthCaller(r *http.Request, form url.Values) (*caller, *oauthFailure) {
	if hasClientCredentials(r, form) {
		c, f := s.authenticateClient(r, form)
		if f != nil {
			return nil, f
		}
		return &caller{accountID: c.Key.AccountID, client: c}, nil
	}
	a, err := s.authn.Authenticate(s.requestInfo(r.Context(), r.RemoteAddr, r.Header.Values("X-Forwarded-For"), ""), r.Header)
	if err != nil {
		if errors.Is(err, authn.ErrNoCredential) {
			return nil, &oauthFailure{status: http.StatusUnauthorized, code: "invalid_client", desc: "authenticate with the client credentials of a key, or an admin key as Bearer", basic: true}
		}
		if keyward.ErrorCode(err) == keyward.EUnavailable {
			return nil, &oauthFailure{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", desc: "the caller could not be checked; retry"}
		}
		return nil, &oauthFailure{status: http.StatusUnauthorized, code: "invalid_token", desc: keyward.ErrorMessage(err)}
	}
	return &caller{accountID: a.Principal.AccountID, principal: &a.Principal}, nil
}

// tokenRequest reads an introspection or revocation request: its caller and the token it
// names. On failure it has answered the request and returns ok false.
func (s *Server) tokenRequest(w http.ResponseWriter, r *http.Request) (c *caller, token string, ok bool) {
	form, f := readForm(w, r)
	if f == nil {
		c, f = s.oauthCaller(r, form)
	}
	if token = form.Get("token"); f == nil && token == "" {
		f = invalidRequest("token is required")
	}
	if f != nil {
		writeOAuthError(w, *f)
		return nil, "", false
	}
	return c, token, true
}

func (s *Server) oauthIntrospect(w http.ResponseWriter, r *http.Request) {
	c, token, ok := s.tokenRequest(w, r)
	if !ok {
		return
	}
	tok, code := s.tokens.Verify(r.Context(), token)
	// Another account's token is as good as unknown: introspection must not confirm it.
	if code != keyward.VerifyValid || tok.AccountID != c.accountID {
		writeOAuthJSON(w, http.StatusOK, IntrospectionResponse{Active: false})
		return
	}
	writeOAuthJSON(w, http.StatusOK, IntrospectionResponse{
		Active: true, Scope: strings.Join(tok.Scopes, " "), ClientID: tok.ClientID, TokenType: "Bearer",
		Exp: tok.ExpiresAt.Unix(), Iat: tok.IssuedAt.Unix(), Sub: tok.Subject, Aud: strings.Join(tok.Audience, " "),
		Iss: tok.Issuer, Jti: tok.ID, AccountID: tok.AccountID, ProjectID: tok.ProjectID,
		EnvironmentID: tok.EnvironmentID, UserID: tok.UserID, Role: tok.RoleSlug, Permissions: tok.Permissions,
	})
}

func (s *Server) oauthRevoke(w http.ResponseWriter, r *http.Request) {
	c, token, ok := s.tokenRequest(w, r)
	if !ok {
		return
	}
	// RFC 7009 §2.2: an invalid, unknown or expired token needs nothing and is answered 200,
	// and so is another client's, so that the endpoint tells nothing about it.
	tok, code := s.tokens.Verify(r.Context(), token)
	if code == keyward.VerifyValid && tok.AccountID == c.accountID && c.may(tok) {
		if err := s.tokens.Revoke(r.Context(), tok); err != nil {
			s.log.Error("oauth: revoking a token failed", "err", err)
			writeOAuthError(w, oauthFailure{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", desc: "the token could not be revoked; retry"})
			return
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// may reports whether the caller may revoke tok: the client it was issued to, or a principal
// that may revoke its key.
func (c *caller) may(tok *keyward.AccessToken) bool {
	if c.client != nil {
		return c.client.Key.ID == tok.ClientID
	}
	return c.principal.KeyID == tok.ClientID || c.principal.Can(keyward.PermKeysRevoke, tok.ProjectID)
}

func (s *Server) oauthJWKS(w http.ResponseWriter, r *http.Request) {
	body, tag := s.tokens.JWKS()
	h := w.Header()
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(oauth.JWKSMaxAge/time.Second)))
	h.Set("ETag", tag)
	if r.Header.Get("If-None-Match") == tag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(body)
}

func (s *Server) oauthMetadata(w http.ResponseWriter, r *http.Request) {
	base := strings.TrimSuffix(s.tokens.Issuer(), "/")
	w.Header().Set("Cache-Control", "public, max-age="+strconv.Itoa(int(oauth.JWKSMaxAge/time.Second)))
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ServerMetadata{
		Issuer:                            s.tokens.Issuer(),
		TokenEndpoint:                     base + "/oauth/token",
		JWKSURI:                           base + "/.well-known/jwks.json",
		IntrospectionEndpoint:             base + "/oauth/introspect",
		RevocationEndpoint:                base + "/oauth/revoke",
		GrantTypesSupported:               []string{"client_credentials"},
		ResponseTypesSupported:            []string{},
		TokenEndpointAuthMethodsSupported: clientAuthMethods,
		IntrospectionEndpointAuthMethodsSupported: clientAuthMethods,
		RevocationEndpointAuthMethodsSupported:    clientAuthMethods,
		ScopesSupported:                           []string{},
		AccessTokenSigningAlgValuesSupported:      []string{s.tokens.Algorithm()},
	})
}

// JWKSet describes the JSON Web Key Set (RFC 7517 §5) that /.well-known/jwks.json serves; the
// oauth package writes it, these types only describe it.
type JWKSet struct {
	Keys []JWK `json:"keys" doc:"The public keys, newest last."`
}

// JWK is one public key of the set (RFC 7517 §4, RFC 7518 §6).
type JWK struct {
	Kty string `json:"kty" doc:"Key type: EC, RSA or OKP."`
	Kid string `json:"kid" doc:"The key id, as access tokens name it in their kid header."`
	Alg string `json:"alg" doc:"The algorithm it signs with, as ES256."`
	Use string `json:"use,omitempty" doc:"sig."`
	Crv string `json:"crv,omitempty" doc:"EC and OKP keys: the curve."`
	X   string `json:"x,omitempty" doc:"EC and OKP keys: the x coordinate (base64url)."`
	Y   string `json:"y,omitempty" doc:"EC keys: the y coordinate (base64url)."`
	N   string `json:"n,omitempty" doc:"RSA keys: the modulus (base64url)."`
	E   string `json:"e,omitempty" doc:"RSA keys: the exponent (base64url)."`
}

func (s *Server) registerOAuth() {
	if s.tokens == nil {
		return
	}
	registry := s.api.OpenAPI().Components.Schemas
	errSchema := registry.Schema(reflect.TypeFor[OAuthError](), true, "OAuthError")
	oauthErr := func(desc string) *huma.Response {
		return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/json": {Schema: errSchema}}}
	}
	form := func(required []string, props map[string]string) *huma.RequestBody {
		sch := &huma.Schema{Type: "object", Required: required, Properties: map[string]*huma.Schema{}}
		for name, doc := range props {
			sch.Properties[name] = &huma.Schema{Type: "string", Description: doc}
		}
		return &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/x-www-form-urlencoded": {Schema: sch}}}
	}
	clientAuth := map[string]string{
		"client_id":     "The key's id (client_secret_post). With HTTP Basic instead, the form-encoded id is the user name.",
		"client_secret": "The key itself (client_secret_post). Never with HTTP Basic.",
	}
	with := func(m map[string]string, more map[string]string) map[string]string {
		out := map[string]string{}
		for k, v := range m {
			out[k] = v
		}
		for k, v := range more {
			out[k] = v
		}
		return out
	}
	basicOrPost := []map[string][]string{{"clientBasic": {}}, {}}
	s.api.OpenAPI().Components.SecuritySchemes["clientBasic"] = &huma.SecurityScheme{Type: "http", Scheme: "basic",
		Description: "client_secret_basic: the key's id as user name and the key as password, each form-encoded (RFC 6749 §2.3.1)."}

	s.handle(http.MethodPost, "/oauth/token", s.oauthToken, &huma.Operation{
		OperationID: "oauth-token", Summary: "Exchange a key for an access token (client credentials)", Tags: []string{"OAuth"},
		Description: "RFC 6749 §4.4. The key is the client: client_id is its id, client_secret the key. Authenticate with HTTP Basic or with both in the body, not both ways. The token carries the key's identity, and the requested scopes (a subset of the key's; all of them when scope is absent).",
		Security:    basicOrPost,
		RequestBody: form([]string{"grant_type"}, with(clientAuth, map[string]string{
			"grant_type": "client_credentials",
			"scope":      "Space-separated scopes, each among the key's; absent for all of the key's.",
		})),
		Responses: map[string]*huma.Response{
			"200": {Description: "The token.", Content: map[string]*huma.MediaType{"application/json": {Schema: registry.Schema(reflect.TypeFor[TokenResponse](), true, "TokenResponse")}}},
			"400": oauthErr("invalid_request, unsupported_grant_type, invalid_scope or unauthorized_client (the key's user is disabled)."),
			"401": oauthErr("invalid_client: unknown, revoked or expired key, or a secret that is not the client_id's. With WWW-Authenticate: Basic when Basic was used."),
			"429": oauthErr("temporarily_unavailable: too many failed client authentications from this client_id or address; see Retry-After."),
			"503": oauthErr("temporarily_unavailable: the store could not be read."),
		},
	})
	introspection := registry.Schema(reflect.TypeFor[IntrospectionResponse](), true, "IntrospectionResponse")
	s.handle(http.MethodPost, "/oauth/introspect", s.oauthIntrospect, &huma.Operation{
		OperationID: "oauth-introspect", Summary: "Introspect an access token", Tags: []string{"OAuth"},
		Description: "RFC 7662. The caller authenticates with the client credentials of a key (Basic or body) or a bearer (an admin key, an API key or an access token); a token of another account, or an unknown, expired or revoked one, is {\"active\": false}.",
		Security:    []map[string][]string{{"clientBasic": {}}, {"bearer": {}}, {}},
		RequestBody: form([]string{"token"}, with(clientAuth, map[string]string{
			"token": "The access token.", "token_type_hint": "Ignored: there is one kind of token.",
		})),
		Responses: map[string]*huma.Response{
			"200": {Description: "The token's state.", Content: map[string]*huma.MediaType{"application/json": {Schema: introspection}}},
			"400": oauthErr("invalid_request."),
			"401": oauthErr("invalid_client or invalid_token: the caller did not authenticate."),
			"429": oauthErr("temporarily_unavailable: too many failed client authentications."),
		},
	})
	s.handle(http.MethodPost, "/oauth/revoke", s.oauthRevoke, &huma.Operation{
		OperationID: "oauth-revoke", Summary: "Revoke an access token", Tags: []string{"OAuth"},
		Description: "RFC 7009. The token's own client (its key's credentials), or a bearer that may revoke its key, revokes it: every node refuses it within a second. 200 also for an unknown, expired or another client's token.",
		Security:    []map[string][]string{{"clientBasic": {}}, {"bearer": {}}, {}},
		RequestBody: form([]string{"token"}, with(clientAuth, map[string]string{
			"token": "The access token.", "token_type_hint": "Ignored: there is one kind of token.",
		})),
		Responses: map[string]*huma.Response{
			"200": {Description: "Revoked, or nothing to revoke."},
			"400": oauthErr("invalid_request."),
			"401": oauthErr("invalid_client or invalid_token: the caller did not authenticate."),
			"429": oauthErr("temporarily_unavailable: too many failed client authentications."),
			"503": oauthErr("temporarily_unavailable: the revocation could not be stored."),
		},
	})
	s.handle(http.MethodGet, "/.well-known/jwks.json", s.oauthJWKS, &huma.Operation{
		OperationID: "oauth-jwks", Summary: "The public keys that sign access tokens", Tags: []string{"OAuth"},
		Description: "RFC 7517 JSON Web Key Set: every key that signs or has signed a token not yet expired, and the next key shortly before it starts signing. Cacheable for a few minutes; refetch on an unknown kid.",
		Responses: map[string]*huma.Response{
			"200": {Description: "The key set.", Content: map[string]*huma.MediaType{"application/jwk-set+json": {Schema: registry.Schema(reflect.TypeFor[JWKSet](), true, "JWKSet")}}},
			"304": {Description: "Not modified since the ETag given in If-None-Match."},
		},
	})
	s.handle(http.MethodGet, "/.well-known/oauth-authorization-server", s.oauthMetadata, &huma.Operation{
		OperationID: "oauth-metadata", Summary: "OAuth 2.0 authorization server metadata", Tags: []string{"OAuth"},
		Description: "RFC 8414.",
		Responses: map[string]*huma.Response{
			"200": {Description: "The metadata.", Content: map[string]*huma.MediaType{"application/json": {Schema: registry.Schema(reflect.TypeFor[ServerMetadata](), true, "ServerMetadata")}}},
		},
	})
}
