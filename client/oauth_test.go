package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// formRequest is what a test handler saw of one OAuth request.
type formRequest struct {
	Method, Path, Auth, ContentType string
	Form                            url.Values
}

// formServer answers every request with status, header and body, and records the form
// requests it saw. Like fixedServer, it only lets a test look at the wire.
func formServer(t *testing.T, status int, header map[string]string, body string) (*httptest.Server, func() []formRequest) {
	t.Helper()
	var (
		mu   sync.Mutex
		seen []formRequest
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		form, err := url.ParseQuery(string(data))
		if err != nil {
			t.Errorf("request body is not a form: %v", err)
		}
		mu.Lock()
		seen = append(seen, formRequest{Method: r.Method, Path: r.URL.EscapedPath(), Auth: r.Header.Get("Authorization"),
			ContentType: r.Header.Get("Content-Type"), Form: form})
		mu.Unlock()
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []formRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]formRequest(nil), seen...)
	}
}

var jsonHeader = map[string]string{"Content-Type": "application/json"}

// basicOf decodes a Basic Authorization header the way the server does: base64, then each
// half form-decoded (RFC 6749 §2.3.1).
func basicOf(t *testing.T, header string) (id, secret string) {
	t.Helper()
	raw, ok := strings.CutPrefix(header, "Basic ")
	if !ok {
		t.Fatalf("Authorization = %q, want Basic", header)
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	encID, encSecret, _ := strings.Cut(string(b), ":")
	if id, err = url.QueryUnescape(encID); err != nil {
		t.Fatal(err)
	}
	if secret, err = url.QueryUnescape(encSecret); err != nil {
		t.Fatal(err)
	}
	return id, secret
}

func TestTokenSendsBasicCredentialsFormEncoded(t *testing.T) {
	srv, seen := formServer(t, 200, jsonHeader, `{"access_token":"eyJ.a.b","token_type":"bearer","expires_in":3600,"scope":"read write"}`)
	// A secret with the characters the form-encoding exists for: ':' would end the user name
	// of a plain Basic header, '+' and '%' would be misread by a form decoder.
	const id, secret = "01a209ef-6082-79c1-a3ae-ac1d604a672b", "s3:cr+t %2F é"
	before := time.Now()
	tok, err := New(srv.URL, "kwadmin_t").Token(t.Context(), TokenParams{ClientID: id, ClientSecret: secret, Scopes: []string{"read", "write"}})
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "eyJ.a.b" || tok.TokenType != "bearer" || tok.ExpiresIn != 3600 {
		t.Errorf("token = %#v %q, want eyJ.a.b, bearer, 3600", tok, tok.AccessToken)
	}
	if diff := cmp.Diff([]string{"read", "write"}, tok.Scopes()); diff != "" {
		t.Errorf("Scopes (-want +got):\n%s", diff)
	}
	if tok.Expiry.Before(before.Add(time.Hour)) || tok.Expiry.After(time.Now().Add(time.Hour)) {
		t.Errorf("Expiry = %v, want an hour after the request", tok.Expiry)
	}
	reqs := seen()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != "POST" || r.Path != "/oauth/token" || r.ContentType != "application/x-www-form-urlencoded" {
		t.Errorf("request = %s %s (%s), want a form POST to /oauth/token", r.Method, r.Path, r.ContentType)
	}
	gotID, gotSecret := basicOf(t, r.Auth) // not the Client's bearer
	if gotID != id || gotSecret != secret {
		t.Errorf("Basic credentials decode to %q, %q; want %q, %q", gotID, gotSecret, id, secret)
	}
	want := url.Values{"grant_type": {"client_credentials"}, "scope": {"read write"}}
	if diff := cmp.Diff(want, r.Form); diff != "" {
		t.Errorf("form (-want +got):\n%s", diff)
	}
}

func TestTokenWithPostCredentials(t *testing.T) {
	srv, seen := formServer(t, 200, jsonHeader, `{"access_token":"eyJ.a.b","token_type":"bearer","expires_in":60,"scope":""}`)
	_, err := New(srv.URL, "").Token(t.Context(), TokenParams{ClientID: "key_1", ClientSecret: "kw_secret", AuthMethod: AuthClientSecretPost})
	if err != nil {
		t.Fatal(err)
	}
	r := seen()[0]
	if r.Auth != "" {
		t.Errorf("Authorization = %q, want none with client_secret_post", r.Auth)
	}
	want := url.Values{"grant_type": {"client_credentials"}, "client_id": {"key_1"}, "client_secret": {"kw_secret"}}
	if diff := cmp.Diff(want, r.Form); diff != "" {
		t.Errorf("form (-want +got):\n%s", diff)
	}
}

func TestOAuthErrors(t *testing.T) {
	token := func(ctx context.Context, c *Client) error {
		_, err := c.Token(ctx, TokenParams{ClientID: "key_1", ClientSecret: "kw_supersecret"})
		return err
	}
	tests := []struct {
		name    string
		status  int
		header  map[string]string
		body    string
		call    func(context.Context, *Client) error
		want    *OAuthError
		wantMsg string
	}{
		{
			name: "invalid client", status: 401,
			header:  map[string]string{"Content-Type": "application/json", "WWW-Authenticate": `Basic realm="keyward"`},
			body:    `{"error":"invalid_client","error_description":"Client authentication failed"}`,
			call:    token,
			want:    &OAuthError{Status: 401, Code: OAuthInvalidClient, Description: "Client authentication failed"},
			wantMsg: "keyward: oauth: invalid_client: Client authentication failed (HTTP 401)",
		},
		{
			name: "invalid scope", status: 400, header: jsonHeader,
			body:    `{"error":"invalid_scope","error_description":"the scope \"admin\" is not among the key's scopes"}`,
			call:    token,
			want:    &OAuthError{Status: 400, Code: OAuthInvalidScope, Description: `the scope "admin" is not among the key's scopes`},
			wantMsg: `keyward: oauth: invalid_scope: the scope "admin" is not among the key's scopes (HTTP 400)`,
		},
		{
			name: "too many failures", status: 429,
			header: map[string]string{"Content-Type": "application/json", "Retry-After": "31"},
			body:   `{"error":"temporarily_unavailable","error_description":"too many failed client authentications; retry later"}`,
			call:   token,
			want: &OAuthError{Status: 429, Code: OAuthTemporarilyUnavailable, Description: "too many failed client authentications; retry later",
				RetryAfter: 31 * time.Second},
			wantMsg: "keyward: oauth: temporarily_unavailable: too many failed client authentications; retry later (HTTP 429)",
		},
		{
			name: "introspection with a refused bearer", status: 401, header: jsonHeader,
			body: `{"error":"invalid_token","error_description":"the key is revoked"}`,
			call: func(ctx context.Context, c *Client) error {
				_, err := c.Introspect(ctx, "eyJ.a.b")
				return err
			},
			want:    &OAuthError{Status: 401, Code: OAuthInvalidToken, Description: "the key is revoked"},
			wantMsg: "keyward: oauth: invalid_token: the key is revoked (HTTP 401)",
		},
		{
			name: "revocation without a description", status: 400, header: jsonHeader,
			body: `{"error":"invalid_request"}`,
			call: func(ctx context.Context, c *Client) error { return c.RevokeToken(ctx, "eyJ.a.b") },
			want: &OAuthError{Status: 400, Code: OAuthInvalidRequest}, wantMsg: "keyward: oauth: invalid_request (HTTP 400)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := formServer(t, tt.status, tt.header, tt.body)
			err := tt.call(t.Context(), New(srv.URL, "kwadmin_t"))
			var got *OAuthError
			if !errors.As(err, &got) {
				t.Fatalf("got %T %v, want an *OAuthError", err, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("OAuthError (-want +got):\n%s", diff)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.wantMsg)
			}
			if OAuthErrorCode(err) != tt.want.Code {
				t.Errorf("OAuthErrorCode = %q, want %q", OAuthErrorCode(err), tt.want.Code)
			}
			if strings.Contains(err.Error(), "supersecret") {
				t.Errorf("error %q contains the client secret", err)
			}
		})
	}
}

func TestOAuthErrorFromAProxyIsAnError(t *testing.T) {
	srv, _ := formServer(t, 502, map[string]string{"Content-Type": "text/html"}, "<html>bad gateway</html>")
	_, err := New(srv.URL, "").Token(t.Context(), TokenParams{ClientID: "key_1", ClientSecret: "kw_s"})
	if ErrorCode(err) != CodeServiceUnavailable || OAuthErrorCode(err) != "" {
		t.Errorf("got %v (code %q, oauth code %q), want a service_unavailable *Error", err, ErrorCode(err), OAuthErrorCode(err))
	}
}

func TestIntrospect(t *testing.T) {
	srv, seen := formServer(t, 200, jsonHeader, `{"active":true,"scope":"read write","client_id":"key_1","token_type":"Bearer",
		"exp":1767326645,"iat":1767323045,"sub":"usr_1","aud":"https://keyward.example.com","iss":"https://keyward.example.com",
		"jti":"tok_1","account_id":"acc_1","project_id":"prj_1","user_id":"usr_1","role":"viewer","permissions":["api_keys.read"]}`)
	got, err := New(srv.URL, "kwadmin_t").Introspect(t.Context(), "eyJ.a.b")
	if err != nil {
		t.Fatal(err)
	}
	exp, iat := time.Unix(1767326645, 0).UTC(), time.Unix(1767323045, 0).UTC()
	want := &Introspection{Active: true, Scope: "read write", ClientID: "key_1", TokenType: "Bearer", ExpiresAt: &exp, IssuedAt: &iat,
		Subject: "usr_1", Audience: "https://keyward.example.com", Issuer: "https://keyward.example.com", TokenID: "tok_1",
		AccountID: "acc_1", ProjectID: "prj_1", UserID: "usr_1", Role: "viewer", Permissions: []string{"api_keys.read"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Introspection (-want +got):\n%s", diff)
	}
	r := seen()[0]
	if r.Path != "/oauth/introspect" || r.Auth != "Bearer kwadmin_t" || r.Form.Get("token") != "eyJ.a.b" || len(r.Form) != 1 {
		t.Errorf("request = %+v, want the token in the form and the Client's bearer", r)
	}

	// The JSON it prints is the wire form it read.
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	var back Introspection
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, &back); diff != "" {
		t.Errorf("Introspection after a JSON round trip (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(b), `"exp":1767326645`) {
		t.Errorf("marshalled %s, want exp in Unix seconds", b)
	}
}

func TestIntrospectInactiveAndArrayAudience(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		want       Introspection
	}{
		{"inactive", `{"active":false}`, Introspection{}},
		{"audience array", `{"active":true,"aud":["a","b"]}`, Introspection{Active: true, Audience: "a b"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := formServer(t, 200, jsonHeader, tt.body)
			got, err := New(srv.URL, "kwadmin_t").Introspect(t.Context(), "eyJ.a.b")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("Introspection (-want +got):\n%s", diff)
			}
		})
	}
	var i Introspection
	if err := json.Unmarshal([]byte(`{"active":true,"aud":7}`), &i); err == nil {
		t.Errorf("an aud that is a number decoded without an error")
	}
}

func TestRevokeToken(t *testing.T) {
	srv, seen := formServer(t, 200, nil, "")
	if err := New(srv.URL, "kwadmin_t").RevokeToken(t.Context(), "eyJ.a.b"); err != nil {
		t.Fatal(err)
	}
	r := seen()[0]
	if r.Path != "/oauth/revoke" || r.Auth != "Bearer kwadmin_t" || r.Form.Get("token") != "eyJ.a.b" {
		t.Errorf("request = %+v, want the token in the form and the Client's bearer", r)
	}
}

func TestOAuthRefusedBeforeRequest(t *testing.T) {
	srv, seen := formServer(t, 200, jsonHeader, `{}`)
	ctx := t.Context()
	withToken, without := New(srv.URL, "kwadmin_t"), New(srv.URL, "")
	tests := []struct {
		name string
		call func() error
	}{
		{"token without a client id", func() error {
			_, err := withToken.Token(ctx, TokenParams{ClientSecret: "s"})
			return err
		}},
		{"token without a secret", func() error {
			_, err := withToken.Token(ctx, TokenParams{ClientID: "key_1"})
			return err
		}},
		{"a scope with a space", func() error {
			_, err := withToken.Token(ctx, TokenParams{ClientID: "key_1", ClientSecret: "s", Scopes: []string{"a b"}})
			return err
		}},
		{"an empty scope", func() error {
			_, err := withToken.Token(ctx, TokenParams{ClientID: "key_1", ClientSecret: "s", Scopes: []string{""}})
			return err
		}},
		{"an unknown auth method", func() error {
			_, err := withToken.Token(ctx, TokenParams{ClientID: "key_1", ClientSecret: "s", AuthMethod: "private_key_jwt"})
			return err
		}},
		{"introspect without a token", func() error {
			_, err := withToken.Introspect(ctx, "")
			return err
		}},
		{"introspect without a credential", func() error {
			_, err := without.Introspect(ctx, "eyJ.a.b")
			return err
		}},
		{"revoke without a token", func() error { return withToken.RevokeToken(ctx, "") }},
		{"revoke without a credential", func() error { return without.RevokeToken(ctx, "eyJ.a.b") }},
		{"token with a bad base URL", func() error {
			_, err := New("ftp://x", "").Token(ctx, TokenParams{ClientID: "key_1", ClientSecret: "s"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Error("got nil error, want a refusal")
			}
		})
	}
	if n := len(seen()); n != 0 {
		t.Errorf("%d requests reached the server, want none", n)
	}
}

func TestOAuthValuesNeverPrintTheirSecrets(t *testing.T) {
	for _, v := range []any{
		TokenParams{ClientID: "key_1", ClientSecret: "kw_supersecret"},
		Token{AccessToken: "eyJsupersecret", TokenType: "bearer", ExpiresIn: 60},
		&Token{AccessToken: "eyJsupersecret"},
	} {
		for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
			if s := fmt.Sprintf(format, v); strings.Contains(s, "supersecret") {
				t.Errorf("Sprintf(%q, %T) = %q, contains the secret", format, v, s)
			}
		}
	}
}
