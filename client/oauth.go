package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// A Keyward API key is also an OAuth 2.0 client: its id is the client_id and the key itself
// the client_secret. Token exchanges the key for a short-lived access token (the
// client-credentials grant, RFC 6749 §4.4); Introspect (RFC 7662) and RevokeToken (RFC 7009)
// inspect and end one. These endpoints answer errors as RFC 6749 §5.2 says, not as problems:
// they come back as *OAuthError.

// AuthMethod is how Token authenticates the client to the token endpoint.
type AuthMethod string

// Client authentication methods (RFC 6749 §2.3.1).
const (
	// AuthClientSecretBasic sends the client id and secret as HTTP Basic credentials, each
	// form-encoded first. It is the default.
	AuthClientSecretBasic AuthMethod = "client_secret_basic"
	// AuthClientSecretPost sends them as client_id and client_secret in the form body.
	AuthClientSecretPost AuthMethod = "client_secret_post"
)

// TokenParams is a client-credentials token request.
type TokenParams struct {
	// ClientID is the id of the API key.
	ClientID string
	// ClientSecret is the API key itself.
	ClientSecret string
	// Scopes asks for a subset of the key's scopes; empty asks for all of them. A scope the
	// key does not hold is refused with invalid_scope.
	Scopes []string
	// AuthMethod is how the credentials are sent; "" is AuthClientSecretBasic.
	AuthMethod AuthMethod
}

// String describes the request without its secret, so that printing it never leaks it.
func (p TokenParams) String() string {
	return fmt.Sprintf("client.TokenParams{ClientID: %q, Scopes: %q}", p.ClientID, p.Scopes)
}

// GoString is String, for %#v.
func (p TokenParams) GoString() string { return p.String() }

// Token is an access token as the token endpoint issues it (RFC 6749 §5.1). Use it as
// "Authorization: Bearer " + AccessToken wherever its key is accepted.
type Token struct {
	// AccessToken is the token: an RFC 9068 JWT. It is a credential: keep it secret.
	AccessToken string `json:"access_token"`
	// TokenType is "bearer".
	TokenType string `json:"token_type"`
	// ExpiresIn is the token's lifetime in seconds, as the server counted it.
	ExpiresIn int `json:"expires_in"`
	// Scope is the token's scopes, space-separated as on the wire; Scopes splits it.
	Scope string `json:"scope"`
	// Expiry is when the token expires by this machine's clock: the time the request was
	// sent plus ExpiresIn. It is not part of the wire form.
	Expiry time.Time `json:"-"`
}

// Scopes returns the token's scopes.
func (t Token) Scopes() []string { return strings.Fields(t.Scope) }

// String describes the token without the token itself, so that printing it never leaks it.
func (t Token) String() string {
	return fmt.Sprintf("client.Token{TokenType: %q, ExpiresIn: %d, Scope: %q}", t.TokenType, t.ExpiresIn, t.Scope)
}

// GoString is String, for %#v.
func (t Token) GoString() string { return t.String() }

// Token exchanges an API key's client credentials for an access token. It does not send the
// Client's own credential: the key authenticates itself. Errors: *OAuthError with
// invalid_client (an unknown, revoked or expired key, or a wrong secret), invalid_scope,
// unauthorized_client (the key's user is disabled) or temporarily_unavailable (with
// RetryAfter when too many authentications failed).
func (c *Client) Token(ctx context.Context, params TokenParams) (*Token, error) {
	if params.ClientID == "" || params.ClientSecret == "" {
		return nil, errors.New("keyward: Token needs a client ID and a client secret")
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	for _, s := range params.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n") {
			return nil, fmt.Errorf("keyward: invalid scope %q: a scope is one non-empty word", s)
		}
	}
	if len(params.Scopes) > 0 {
		form.Set("scope", strings.Join(params.Scopes, " "))
	}
	var auth func(*http.Request)
	switch params.AuthMethod {
	case "", AuthClientSecretBasic:
		// RFC 6749 §2.3.1: the id and secret are form-encoded before they become the Basic
		// user name and password, so that a ':' or a non-ASCII character survives.
		auth = func(r *http.Request) {
			r.SetBasicAuth(url.QueryEscape(params.ClientID), url.QueryEscape(params.ClientSecret))
		}
	case AuthClientSecretPost:
		form.Set("client_id", params.ClientID)
		form.Set("client_secret", params.ClientSecret)
	default:
		return nil, fmt.Errorf("keyward: invalid auth method %q: want %s or %s", params.AuthMethod, AuthClientSecretBasic, AuthClientSecretPost)
	}
	sent := time.Now()
	var t Token
	if err := c.postForm(ctx, "/oauth/token", form, auth, &t); err != nil {
		return nil, err
	}
	if t.AccessToken == "" {
		return nil, errors.New("keyward: POST /oauth/token: the answer holds no access token")
	}
	t.Expiry = sent.Add(time.Duration(t.ExpiresIn) * time.Second)
	return &t, nil
}

// Introspection is what the server says of an access token (RFC 7662 §2.2). When Active is
// false the token is unknown, malformed, expired, revoked or another account's, and every
// other field is empty.
type Introspection struct {
	Active bool
	// Scope is the token's scopes, space-separated; Scopes splits it.
	Scope string
	// ClientID is the key the token was issued to.
	ClientID string
	// TokenType is "Bearer".
	TokenType string
	ExpiresAt *time.Time
	IssuedAt  *time.Time
	// Subject is the key's user when it acts for one, else the key.
	Subject  string
	Audience string
	Issuer   string
	// TokenID is the token's jti.
	TokenID       string
	AccountID     string
	ProjectID     string
	EnvironmentID string
	UserID        string
	// Role is the slug of the key's account-level role, "" for none.
	Role string
	// Permissions are the key's effective permissions when the token was issued.
	Permissions []string
}

// Scopes returns the token's scopes.
func (i Introspection) Scopes() []string { return strings.Fields(i.Scope) }

// introspectionWire is the RFC 7662 form: times in Unix seconds, claims by their JWT names.
type introspectionWire struct {
	Active        bool            `json:"active"`
	Scope         string          `json:"scope,omitempty"`
	ClientID      string          `json:"client_id,omitempty"`
	TokenType     string          `json:"token_type,omitempty"`
	Exp           int64           `json:"exp,omitempty"`
	Iat           int64           `json:"iat,omitempty"`
	Sub           string          `json:"sub,omitempty"`
	Aud           json.RawMessage `json:"aud,omitempty"`
	Iss           string          `json:"iss,omitempty"`
	Jti           string          `json:"jti,omitempty"`
	AccountID     string          `json:"account_id,omitempty"`
	ProjectID     string          `json:"project_id,omitempty"`
	EnvironmentID string          `json:"environment_id,omitempty"`
	UserID        string          `json:"user_id,omitempty"`
	Role          string          `json:"role,omitempty"`
	Permissions   []string        `json:"permissions,omitempty"`
}

// MarshalJSON writes the introspection in its RFC 7662 wire form.
func (i Introspection) MarshalJSON() ([]byte, error) {
	w := introspectionWire{
		Active: i.Active, Scope: i.Scope, ClientID: i.ClientID, TokenType: i.TokenType,
		Sub: i.Subject, Iss: i.Issuer, Jti: i.TokenID, AccountID: i.AccountID, ProjectID: i.ProjectID,
		EnvironmentID: i.EnvironmentID, UserID: i.UserID, Role: i.Role, Permissions: i.Permissions,
	}
	if i.ExpiresAt != nil {
		w.Exp = i.ExpiresAt.Unix()
	}
	if i.IssuedAt != nil {
		w.Iat = i.IssuedAt.Unix()
	}
	if i.Audience != "" {
		w.Aud, _ = json.Marshal(i.Audience)
	}
	return json.Marshal(w)
}

// UnmarshalJSON reads the RFC 7662 wire form. An aud given as an array is joined with
// spaces.
func (i *Introspection) UnmarshalJSON(b []byte) error {
	var w introspectionWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*i = Introspection{
		Active: w.Active, Scope: w.Scope, ClientID: w.ClientID, TokenType: w.TokenType,
		Subject: w.Sub, Issuer: w.Iss, TokenID: w.Jti, AccountID: w.AccountID, ProjectID: w.ProjectID,
		EnvironmentID: w.EnvironmentID, UserID: w.UserID, Role: w.Role, Permissions: w.Permissions,
	}
	if w.Exp != 0 {
		t := time.Unix(w.Exp, 0).UTC()
		i.ExpiresAt = &t
	}
	if w.Iat != 0 {
		t := time.Unix(w.Iat, 0).UTC()
		i.IssuedAt = &t
	}
	if len(w.Aud) > 0 && string(w.Aud) != "null" {
		var many []string
		if err := json.Unmarshal(w.Aud, &i.Audience); err != nil {
			if err := json.Unmarshal(w.Aud, &many); err != nil {
				return fmt.Errorf("aud: want a string or an array of strings")
			}
			i.Audience = strings.Join(many, " ")
		}
	}
	return nil
}

// Introspect asks the server about an access token, authenticating with the Client's own
// credential (an admin key, an API key or an access token of the token's account). A token
// that is not active is not an error: the answer says Active false. Errors: *OAuthError
// (invalid_token or invalid_client when the Client's credential is refused).
func (c *Client) Introspect(ctx context.Context, token string) (*Introspection, error) {
	if token == "" {
		return nil, errors.New("keyward: Introspect needs a token")
	}
	auth, err := c.bearerAuth("Introspect")
	if err != nil {
		return nil, err
	}
	var i Introspection
	if err := c.postForm(ctx, "/oauth/introspect", url.Values{"token": {token}}, auth, &i); err != nil {
		return nil, err
	}
	return &i, nil
}

// RevokeToken revokes an access token, authenticating with the Client's own credential. The
// server answers the same whether or not the token was live and the Client's to revoke (RFC
// 7009 §2.2), so a nil error says only that the request was accepted: an admin key, or the
// token's own key, revokes it; Introspect tells whether it is still active. A revoked token
// is refused on every node within about a second. Errors: *OAuthError.
func (c *Client) RevokeToken(ctx context.Context, token string) error {
	if token == "" {
		return errors.New("keyward: RevokeToken needs a token")
	}
	auth, err := c.bearerAuth("RevokeToken")
	if err != nil {
		return err
	}
	return c.postForm(ctx, "/oauth/revoke", url.Values{"token": {token}}, auth, nil)
}

// bearerAuth sends the Client's credential as a bearer, or says that there is none.
func (c *Client) bearerAuth(method string) (func(*http.Request), error) {
	if c.token == "" {
		return nil, fmt.Errorf("keyward: %s needs a Client made with a credential (an admin key, an API key or an access token)", method)
	}
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+c.token) }, nil
}

// postForm posts form to one of the OAuth endpoints, authenticated by auth (when non-nil),
// and decodes a successful JSON answer into out (when non-nil). An RFC 6749 error answer
// becomes an *OAuthError; any other error answer (a proxy's page) an *Error.
func (c *Client) postForm(ctx context.Context, path string, form url.Values, auth func(*http.Request), out any) error {
	if c.baseErr != nil {
		return c.baseErr
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("keyward: POST %s: %w", path, err)
	}
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", c.userAgent)
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != nil {
		auth(hreq)
	}
	resp, err := c.httpClient.Do(hreq)
	if err != nil {
		return fmt.Errorf("keyward: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("keyward: POST %s: reading response: %w", path, err)
	}
	if len(data) > maxResponseBytes {
		return fmt.Errorf("keyward: POST %s: response body exceeds %d bytes", path, maxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		if e := decodeOAuthError(resp, data); e != nil {
			return e
		}
		return decodeError(resp, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("keyward: POST %s: decoding response: %w", path, err)
		}
	}
	return nil
}

// OAuthCode is an RFC 6749 §5.2 (or RFC 6750 §3.1) error code.
type OAuthCode string

// OAuth error codes the server answers with.
const (
	OAuthInvalidRequest         OAuthCode = "invalid_request"         // 400: a malformed request
	OAuthInvalidClient          OAuthCode = "invalid_client"          // 401: the client credentials are refused
	OAuthUnauthorizedClient     OAuthCode = "unauthorized_client"     // 400: the key's user is disabled
	OAuthUnsupportedGrantType   OAuthCode = "unsupported_grant_type"  // 400
	OAuthInvalidScope           OAuthCode = "invalid_scope"           // 400: a scope the key does not hold
	OAuthInvalidToken           OAuthCode = "invalid_token"           // 401: the bearer credential is refused
	OAuthTemporarilyUnavailable OAuthCode = "temporarily_unavailable" // 429 or 503: retry later
)

// OAuthError is an error answer of an OAuth endpoint: {"error", "error_description"}.
type OAuthError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the error code, such as invalid_client.
	Code OAuthCode
	// Description explains the error, for people; it may be empty.
	Description string
	// URI is the error_uri, a page about the error; usually empty.
	URI string
	// RetryAfter is how long to wait before retrying, from the Retry-After header; 0 if absent.
	RetryAfter time.Duration
}

// Error returns "keyward: oauth: CODE: DESCRIPTION (HTTP STATUS)" on one line.
func (e *OAuthError) Error() string {
	var b strings.Builder
	b.WriteString("keyward: oauth: ")
	b.WriteString(string(e.Code))
	if e.Description != "" {
		b.WriteString(": ")
		b.WriteString(e.Description)
	}
	fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	return oneLine(b.String())
}

// OAuthErrorCode returns the Code of the first *OAuthError in err's chain, and "" when there
// is none.
func OAuthErrorCode(err error) OAuthCode {
	var e *OAuthError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// decodeOAuthError reads an RFC 6749 §5.2 error answer, or returns nil for a body that is not
// one.
func decodeOAuthError(resp *http.Response, body []byte) *OAuthError {
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mediaType != "application/json" {
		return nil
	}
	var w struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		URI         string `json:"error_uri"`
	}
	if err := json.Unmarshal(body, &w); err != nil || w.Error == "" {
		return nil
	}
	return &OAuthError{Status: resp.StatusCode, Code: OAuthCode(w.Error), Description: truncate(w.Description, maxPlainDetail),
		URI: w.URI, RetryAfter: retryAfter(resp.Header)}
}
