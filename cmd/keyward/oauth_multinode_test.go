package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestNodesAgreeOnTokenRevocations runs two nodes on one PostgreSQL database with one public
// URL: a token issued by one verifies on the other, and when it (or its key) is revoked on
// one, the other refuses it within the deny-list's sync.
func TestNodesAgreeOnTokenRevocations(t *testing.T) {
	database := testPostgresDatabase(t)
	secret := make([]byte, 32)
	rand.Read(secret)
	env := []string{"KEYWARD_DATABASE_URL=" + database.String(), "KEYWARD_SERVER_SECRET=1:" + base64.StdEncoding.EncodeToString(secret)}
	start := func(name string) *process {
		p := startProcess(t, []string{"--data", filepath.Join(t.TempDir(), "data"), "--public-url", "https://keyward.cluster.test"}, env)
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("node %s log:\n%s", name, p.stderr.String())
			}
		})
		return p
	}
	a := start("a")
	admin := adminKeyPattern.FindString(a.stderr.String())
	if admin == "" {
		t.Fatalf("node a printed no admin key:\n%s", a.stderr.String())
	}
	b := start("b")
	client := &http.Client{Timeout: 10 * time.Second}

	send := func(req *http.Request) (int, map[string]any) {
		t.Helper()
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		var out map[string]any
		json.Unmarshal(body, &out)
		return res.StatusCode, out
	}
	postJSON := func(p *process, path, token, body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", p.url+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		return send(req)
	}
	postForm := func(p *process, path string, v url.Values) (int, map[string]any) {
		req, _ := http.NewRequest("POST", p.url+path, strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return send(req)
	}
	verifyOn := func(p *process, token string) string {
		t.Helper()
		status, out := postJSON(p, "/v1/keys/verify", token, "")
		if status != 200 {
			t.Fatalf("verify = %d %v", status, out)
		}
		code, _ := out["code"].(string)
		return code
	}
	refusedOn := func(p *process, token string) {
		t.Helper()
		for range 200 {
			if verifyOn(p, token) == "REVOKED" {
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
		t.Fatal("the other node still accepts the token after 200 tries")
	}

	status, k := postJSON(a, "/v1/api-keys", admin, `{"name": "svc", "scopes": ["read"]}`)
	if status != http.StatusCreated {
		t.Fatalf("creating a key = %d %v", status, k)
	}
	creds := url.Values{"grant_type": {"client_credentials"}, "client_id": {k["id"].(string)}, "client_secret": {k["key"].(string)}}
	token := func() string {
		t.Helper()
		status, out := postForm(a, "/oauth/token", creds)
		if status != 200 {
			t.Fatalf("token = %d %v", status, out)
		}
		return out["access_token"].(string)
	}

	first := token()
	if code := verifyOn(b, first); code != "VALID" {
		t.Fatalf("a's token on b = %s, want VALID", code)
	}
	revoke := url.Values{"token": {first}, "client_id": creds["client_id"], "client_secret": creds["client_secret"]}
	if status, out := postForm(a, "/oauth/revoke", revoke); status != 200 {
		t.Fatalf("revoke = %d %v", status, out)
	}
	refusedOn(b, first)

	second := token()
	if code := verifyOn(b, second); code != "VALID" {
		t.Fatalf("a fresh token on b = %s, want VALID", code)
	}
	req, _ := http.NewRequest("DELETE", a.url+"/v1/api-keys/"+k["id"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	if status, out := send(req); status != http.StatusNoContent {
		t.Fatalf("revoking the key = %d %v", status, out)
	}
	refusedOn(b, second)
}
