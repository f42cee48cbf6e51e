package main

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/oidctest"
)

// TestServeWithOIDC starts the server as `keyward serve --oidc-issuer … --oidc-audience …
// --oidc-account-claim …` would, and signs two users in: one into the default account, one
// into the account their token's claim names.
func TestServeWithOIDC(t *testing.T) {
	issuer := oidctest.NewIssuer(t)
	cfg := config.Default()
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.OIDCIssuer, cfg.OIDCAudience = issuer.URL, "https://api.keyward.test"
	cfg.OIDCAccountClaim = "https://keyward.example/account"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var stderr lockedBuffer
	m := &Main{Config: cfg, Stderr: &stderr}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	admin := adminKeyPattern.FindString(stderr.String())
	call := func(token, method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, m.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	if status, out := call(admin, "POST", "/v1/accounts", `{"name":"acme"}`); status != http.StatusCreated {
		t.Fatalf("creating account acme = %d %v", status, out)
	}
	for _, tt := range []struct {
		name        string
		claims      oidctest.Claims
		wantAccount string
	}{
		{"default account", oidctest.Claims{Subject: "auth0|ada", Audience: []string{cfg.OIDCAudience}}, "default"},
		{"account from claim", oidctest.Claims{Subject: "auth0|bob", Audience: []string{cfg.OIDCAudience},
			Extra: map[string]any{cfg.OIDCAccountClaim: "acme"}}, "acme"},
	} {
		status, out := call(issuer.Token(t, tt.claims), "GET", "/v1/whoami", "")
		if status != http.StatusOK {
			t.Fatalf("%s: whoami = %d %v", tt.name, status, out)
		}
		acct, _ := out["account"].(map[string]any)
		role, _ := out["role"].(map[string]any)
		if acct["name"] != tt.wantAccount || role["slug"] != "member" || out["kind"] != "user" {
			t.Errorf("%s: whoami = %v, want a member of %s", tt.name, out, tt.wantAccount)
		}
	}
	// A claim naming no account refuses the sign-in rather than creating a tenant.
	ghost := issuer.Token(t, oidctest.Claims{Subject: "auth0|eve", Audience: []string{cfg.OIDCAudience}, Extra: map[string]any{cfg.OIDCAccountClaim: "ghost"}})
	if status, _ := call(ghost, "GET", "/v1/whoami", ""); status != http.StatusForbidden {
		t.Errorf("sign-in into a missing account = %d, want 403", status)
	}
}
