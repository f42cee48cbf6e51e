package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keyward/keyward/client"
)

// clearOAuthEnv unsets every variable the oauth commands read, so that the test's own
// environment cannot feed them a secret.
func clearOAuthEnv(t *testing.T) {
	t.Helper()
	for _, name := range []string{envClientID, envClientSecret, envClientSecretFile, envKeywardToken, envKeywardURL} {
		t.Setenv(name, "")
	}
}

// runOAuthCLI runs `keyward oauth ARGS --url URL` with stdin, and returns its stdout and error.
func runOAuthCLI(t *testing.T, url, stdin string, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd(nil, nil)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetIn(strings.NewReader(stdin))
	root.SetArgs(append(append([]string{"oauth"}, args...), "--url", url))
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

// mustOAuthCLI is runOAuthCLI for a command that must succeed.
func mustOAuthCLI(t *testing.T, url, stdin string, args ...string) string {
	t.Helper()
	out, err := runOAuthCLI(t, url, stdin, args...)
	if err != nil {
		t.Fatalf("keyward oauth %s: %v", strings.Join(args, " "), err)
	}
	return out
}

var accessTokenPattern = regexp.MustCompile(`eyJ[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+\.[0-9A-Za-z_-]+`)

// oauthClientKey creates a project and a key with the scopes read and write, and returns the
// key's id and secret.
func oauthClientKey(t *testing.T, url, admin string) (id, secret string) {
	t.Helper()
	projectID := jsonField(t, runCLI(t, url, admin, "projects", "create", "--name", "svc", "--json"), "id")
	created := runCLI(t, url, admin, "keys", "create", "--project", projectID, "--name", "svc", "--scope", "read", "--scope", "write", "--json")
	return jsonField(t, created, "id"), jsonField(t, created, "key")
}

func decodeJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not a JSON object: %s", s)
	}
	return m
}

// TestCLIOAuthEndToEnd gets tokens with the secret from a file, the environment and stdin,
// uses one as a bearer, introspects and revokes them, against a real server.
func TestCLIOAuthEndToEnd(t *testing.T) {
	clearOAuthEnv(t)
	url, admin := runMain(t)
	keyID, secret := oauthClientKey(t, url, admin)
	secretFile := filepath.Join(t.TempDir(), "api-key")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// From a file, narrowed to one scope, as JSON: the token endpoint's own answer.
	out := mustOAuthCLI(t, url, "", "token", "--client-id", keyID, "--client-secret-file", secretFile, "--scope", "read", "--json")
	got := decodeJSON(t, out)
	first, _ := got["access_token"].(string)
	if !accessTokenPattern.MatchString(first) || got["token_type"] != "bearer" || got["scope"] != "read" || got["expires_in"] != float64(3600) {
		t.Fatalf("oauth token --json = %s, want a bearer JWT with scope read for 3600s", out)
	}
	if len(got) != 4 {
		t.Errorf("oauth token --json has fields %v, want exactly the token response's four", got)
	}

	// From the environment, as text: both scopes, and the token once.
	t.Setenv(envClientSecret, secret)
	out = mustOAuthCLI(t, url, "", "token", "--client-id", keyID, "--scope", "read write")
	if !strings.Contains(out, "bearer") || !strings.Contains(out, "read,write") || len(accessTokenPattern.FindAllString(out, -1)) != 1 {
		t.Errorf("oauth token (text) =\n%s\nwant the type, both scopes and one token", out)
	}
	if strings.Contains(out, secret) {
		t.Errorf("oauth token printed the client secret")
	}
	t.Setenv(envClientSecret, "")

	// From stdin, with the client ID from the environment and the credentials in the body.
	t.Setenv(envClientID, keyID)
	second := jsonField(t, mustOAuthCLI(t, url, secret+"\n", "token", "--post", "--json"), "access_token")
	if second == "" || second == first {
		t.Fatalf("a second token = %q, want a new one", second)
	}
	t.Setenv(envClientID, "")

	// The token works where its key does.
	if who := jsonField(t, runCLI(t, url, first, "whoami", "--json"), "key_id"); who != keyID {
		t.Errorf("whoami with the access token: key_id = %q, want %q", who, keyID)
	}

	// Introspection, the token from stdin, as JSON and as text.
	info := decodeJSON(t, mustOAuthCLI(t, url, first+"\n", "introspect", "--token", admin, "--json"))
	if info["active"] != true || info["client_id"] != keyID || info["scope"] != "read" || info["token_type"] != "Bearer" {
		t.Errorf("introspect --json = %v, want an active token of %s with scope read", info, keyID)
	}
	if _, ok := info["exp"].(float64); !ok {
		t.Errorf("introspect --json has exp %v, want Unix seconds", info["exp"])
	}
	text := mustOAuthCLI(t, url, "", "introspect", first, "--token", admin)
	for _, want := range []string{"ACTIVE", "true", keyID, "read"} {
		if !strings.Contains(text, want) {
			t.Errorf("introspect (text) does not say %q:\n%s", want, text)
		}
	}

	// An admin key revokes the first token; it is refused at once on this node.
	if out := mustOAuthCLI(t, url, first, "revoke", "-", "--token", admin); !strings.Contains(out, "Revoked") {
		t.Errorf("revoke = %q", out)
	}
	if info := decodeJSON(t, mustOAuthCLI(t, url, first, "introspect", "--token", admin, "--json")); len(info) != 1 || info["active"] != false {
		t.Errorf("introspect after revoke = %v, want only active false", info)
	}
	if text := mustOAuthCLI(t, url, first, "introspect", "--token", admin); !strings.Contains(text, "not active") {
		t.Errorf("introspect (text) after revoke:\n%s", text)
	}

	// The key revokes its own token, with nothing printed under --json.
	if out := mustOAuthCLI(t, url, second, "revoke", "--token", secret, "--json"); out != "" {
		t.Errorf("revoke --json printed %q, want nothing", out)
	}
	if info := decodeJSON(t, mustOAuthCLI(t, url, second, "introspect", "--token", admin, "--json")); info["active"] != false {
		t.Errorf("introspect after the key revoked its token = %v, want active false", info)
	}
}

func TestCLIOAuthErrorsAreClear(t *testing.T) {
	clearOAuthEnv(t)
	url, admin := runMain(t)
	keyID, secret := oauthClientKey(t, url, admin)
	wrong := strings.TrimSuffix(secret, secret[len(secret)-6:]) + "zzzzzz"

	tests := []struct {
		name, stdin string
		args        []string
		want        string
		wantOAuth   client.OAuthCode
	}{
		{name: "wrong secret", stdin: wrong, args: []string{"token", "--client-id", keyID},
			want: "invalid_client: Client authentication failed (HTTP 401); check --client-id and the client secret", wantOAuth: client.OAuthInvalidClient},
		{name: "another key's id", stdin: secret, args: []string{"token", "--client-id", "01900000-0000-7000-8000-000000000000"},
			want: "invalid_client", wantOAuth: client.OAuthInvalidClient},
		{name: "a scope the key lacks", stdin: secret, args: []string{"token", "--client-id", keyID, "--scope", "read admin"},
			want: `invalid_scope: the scope "admin" is not among the key's scopes (HTTP 400)`, wantOAuth: client.OAuthInvalidScope},
		{name: "no client id", stdin: secret, args: []string{"token"}, want: "no client ID: pass --client-id"},
		{name: "empty stdin", args: []string{"token", "--client-id", keyID}, want: "no client secret: stdin is empty"},
		{name: "missing secret file", args: []string{"token", "--client-id", keyID, "--client-secret-file", filepath.Join(t.TempDir(), "nope")},
			want: "reading the client secret from --client-secret-file"},
		{name: "a secret as a flag is no flag", stdin: secret, args: []string{"token", "--client-id", keyID, "--client-secret", secret},
			want: "unknown flag: --client-secret"},
		{name: "introspect without a credential", stdin: "eyJ.a.b", args: []string{"introspect"}, want: "no credential: set KEYWARD_TOKEN"},
		{name: "introspect with an empty stdin", args: []string{"introspect", "--token", admin}, want: "no token: stdin is empty"},
		{name: "introspect with a refused bearer", stdin: "eyJ.a.b", args: []string{"introspect", "--token", "kwadmin_wrong"},
			want: "(HTTP 401); check --token or KEYWARD_TOKEN", wantOAuth: client.OAuthInvalidToken},
		{name: "revoke with two tokens", args: []string{"revoke", "a", "b", "--token", admin}, want: "accepts at most 1 arg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runOAuthCLI(t, url, tt.stdin, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error saying %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), wrong) {
				t.Errorf("the error %q holds the client secret", err)
			}
			if got := client.OAuthErrorCode(err); got != tt.wantOAuth {
				t.Errorf("OAuthErrorCode = %q, want %q", got, tt.wantOAuth)
			}
			var oe *client.OAuthError
			if tt.wantOAuth != "" && (!errors.As(err, &oe) || oe.Status < 400) {
				t.Errorf("got %v, want an *OAuthError with its HTTP status", err)
			}
		})
	}
}
