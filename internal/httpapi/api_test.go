package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

func TestCreateKeyValidation(t *testing.T) {
	e := newEnv(t)
	projectID := e.project("p")
	past := e.clock.Now().Add(-time.Minute).Format(time.RFC3339)
	tests := []struct {
		name string
		body string
		want int
		code string
	}{
		{"empty name", `{"project_id":"` + projectID + `","name":""}`, 422, "validation_failed"},
		{"long name", `{"project_id":"` + projectID + `","name":"` + strings.Repeat("n", 129) + `"}`, 422, "validation_failed"},
		{"blank name", `{"project_id":"` + projectID + `","name":"   "}`, 422, "validation_failed"},
		{"bad scope", `{"project_id":"` + projectID + `","name":"k","scopes":["has space"]}`, 422, "validation_failed"},
		{"past expiry", `{"project_id":"` + projectID + `","name":"k","expires_at":"` + past + `"}`, 422, "validation_failed"},
		{"rotation 0 days", `{"project_id":"` + projectID + `","name":"k","rotation_interval_days":0}`, 422, "validation_failed"},
		{"http webhook", `{"project_id":"` + projectID + `","name":"k","rotation_webhook_url":"http://example.com/h"}`, 422, "validation_failed"},
		{"unknown field", `{"project_id":"` + projectID + `","name":"k","nmae":"x"}`, 422, "validation_failed"},
		{"trailing data", `{"project_id":"` + projectID + `","name":"k"} {}`, 400, "invalid_request"},
		{"not json", `name=k`, 400, "invalid_request"},
		{"environment without project", `{"name":"k","environment_id":"` + keyward.NewID() + `"}`, 422, "validation_failed"},
		{"high tier by an owner", `{"name":"k","rate_limit_tier":"high"}`, 201, ""},
		{"unknown tier", `{"name":"k","rate_limit_tier":"turbo"}`, 422, "validation_failed"},
		{"unknown role", `{"name":"k","role_id":"` + keyward.NewID() + `"}`, 404, "not_found"},
		{"unknown user", `{"name":"k","user_id":"` + keyward.NewID() + `"}`, 404, "not_found"},
		{"project twice", `{"name":"k","project_accesses":[{"project_id":"` + projectID + `","role_id":"viewer"},{"project_id":"` + projectID + `","role_id":"admin"}]}`, 422, "validation_failed"},
		{"malformed project id", `{"project_id":"nope","name":"k"}`, 400, "invalid_request"},
		{"empty project id", `{"project_id":"","name":"k"}`, 400, "invalid_request"},
		{"unknown project", `{"project_id":"` + keyward.NewID() + `","name":"k"}`, 404, "not_found"},
		{"too large", `{"project_id":"` + projectID + `","name":"k","metadata":{"x":"` + strings.Repeat("a", 1<<20) + `"}}`, 413, "request_too_large"},
		{"big metadata", `{"project_id":"` + projectID + `","name":"k","metadata":{"x":"` + strings.Repeat("a", 9<<10) + `"}}`, 422, "validation_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/v1/api-keys", tt.body)
			if r.status != tt.want {
				t.Fatalf("status = %d %.300s, want %d", r.status, r.body, tt.want)
			}
			if tt.code == "" {
				return
			}
			if len(r.body) > 4<<10 {
				t.Errorf("the error is %d bytes: it must not echo the request back", len(r.body))
			}
			if got := problemCode(t, r); got != tt.code {
				t.Errorf("code = %q, want %q", got, tt.code)
			}
		})
	}
}

func TestIDsAndRoutes(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		want         int
		code         string
	}{
		{"GET", "/v1/api-keys/not-an-id", 400, "invalid_request"},
		{"GET", "/v1/api-keys/" + keyward.NewID(), 404, "not_found"},
		{"DELETE", "/v1/api-keys/" + keyward.NewID(), 404, "not_found"},
		{"POST", "/v1/api-keys/" + keyward.NewID() + "/rotate", 404, "not_found"},
		{"GET", "/v1/projects/" + keyward.NewID(), 404, "not_found"},
		{"GET", "/v1/api-keys?status=sleeping", 422, "validation_failed"},
		{"GET", "/v1/api-keys?cursor=garbage", 400, "invalid_request"},
		{"GET", "/v1/api-keys?limit=0", 422, "validation_failed"},
		{"GET", "/v1/nowhere", 404, "not_found"},
		{"PUT", "/v1/api-keys", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(tt.method, tt.path, nil)
			if r.status != tt.want {
				t.Fatalf("status = %d %s, want %d", r.status, r.body, tt.want)
			}
			if got := problemCode(t, r); got != tt.code {
				t.Errorf("code = %q, want %q", got, tt.code)
			}
		})
	}
}

// fill puts ids into a route pattern's path parameters.
func fill(path, projectID, keyID string) string {
	for _, p := range []string{"{projectID}", "{accountID}", "{userID}", "{roleID}", "{memberID}", "{id}"} {
		path = strings.ReplaceAll(path, p, projectID)
	}
	return strings.ReplaceAll(path, "{keyID}", keyID)
}

func TestSecretsNeverStoredOrLogged(t *testing.T) {
	e := newEnv(t)
	projectID := e.project("p")
	var secrets []string
	for i := range 3 {
		k := e.key(map[string]any{"project_id": projectID, "name": "k" + string(rune('0'+i))})
		secrets = append(secrets, k.Key)
		e.verify(k.Key)
		var rot struct{ Key string }
		e.must(http.StatusCreated, "POST", "/v1/api-keys/"+k.ID+"/rotate", map[string]any{"grace_period_seconds": 30}).decode(t, &rot)
		secrets = append(secrets, rot.Key)
	}
	secrets = append(secrets, e.token)
	if err := e.verifier.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	listing := e.must(http.StatusOK, "GET", "/v1/api-keys", nil).body

	// The database file and its WAL, byte for byte.
	var stored []byte
	matches, _ := filepath.Glob(e.dbPath + "*")
	for _, path := range matches {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, b...)
	}
	if len(stored) == 0 {
		t.Fatal("read no database bytes")
	}
	for _, s := range secrets {
		body := s[strings.LastIndex(s, "_")+1:]
		if bytes.Contains(stored, []byte(body[8:])) {
			t.Errorf("the database holds the secret part of %s…", s[:12])
		}
		if strings.Contains(e.logs.String(), body[8:]) {
			t.Errorf("the log holds the secret part of %s…", s[:12])
		}
		if bytes.Contains(listing, []byte(s)) {
			t.Errorf("the listing holds %s…", s[:12])
		}
	}
}

func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	e := newEnv(t)
	r := e.doAs("", "GET", "/openapi.json", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /openapi.json = %d", r.status)
	}
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	r.decode(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	registered := map[string]bool{}
	for _, rt := range e.server.Routes() {
		if rt.Method == "*" { // httpapi.AnyMethod
			rt.Method = http.MethodGet // described as a GET; it answers every method
		}
		id := rt.Method + " " + rt.Path
		registered[id] = true
		if strings.HasPrefix(rt.Path, "/openapi") || rt.Path == "/docs" {
			continue // the document does not describe itself, nor its rendering
		}
		if !documented[id] {
			t.Errorf("route %s is not in the OpenAPI document", id)
		}
	}
	for id := range documented {
		if !registered[id] {
			t.Errorf("the OpenAPI document describes %s, which no route serves", id)
		}
	}
	// Every registered route answers something other than the router's fallbacks.
	for _, rt := range e.server.Routes() {
		if rt.Method == "*" { // httpapi.AnyMethod
			rt.Method = http.MethodPost
		}
		path := fill(rt.Path, keyward.NewID(), keyward.NewID())
		res := e.do(rt.Method, path, `{}`)
		if res.status == http.StatusMethodNotAllowed || (res.status == http.StatusNotFound && strings.Contains(string(res.body), "no route")) {
			t.Errorf("%s %s is registered but the router does not reach it: %d %s", rt.Method, path, res.status, res.body)
		}
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := e.doAs("", "GET", path, nil); r.status != http.StatusOK {
			t.Errorf("GET %s = %d %s", path, r.status, r.body)
		}
	}
}

// TestStoreDownFailsClosed closes the database under a running server: verification must not
// guess, and readiness must say so.
func TestStoreDownFailsClosed(t *testing.T) {
	e := newEnv(t)
	k := e.key(map[string]any{"project_id": e.project("p"), "name": "k"})
	e.store.Close()
	r := e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": k.Key})
	if r.status != http.StatusServiceUnavailable || problemCode(t, r) != "service_unavailable" {
		t.Errorf("verify with the store down = %d %s, want 503 service_unavailable", r.status, r.body)
	}
	if r := e.doAs("", "GET", "/readyz", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the store down = %d, want 503", r.status)
	}
	if r := e.doAs("", "GET", "/healthz", nil); r.status != http.StatusOK {
		t.Errorf("healthz with the store down = %d, want 200: the process still runs", r.status)
	}
	if r := e.do("GET", "/v1/projects", nil); r.status < 500 {
		t.Errorf("a management call with the store down = %d, want a 5xx", r.status)
	}
}

// TestCompatBodyTooLarge: the compatibility routes answer an oversized body as the rest of
// the API does, 413, each in its own shape.
func TestCompatBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	huge := map[string]any{"name": strings.Repeat("a", 70<<10)}
	r := e.do("POST", "/apikey/create", huge)
	if r.status != http.StatusRequestEntityTooLarge || problemCode(t, r) != "request_too_large" {
		t.Errorf("seed 000 with a 70 KiB body = %d %s, want 413 request_too_large", r.status, r.body)
	}
	r = e.do("POST", "/api/v1/api-keys", huge)
	var env struct {
		Success bool `json:"success"`
		Error   struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	r.decode(t, &env)
	if r.status != http.StatusRequestEntityTooLarge || env.Success || env.Error.Code != "request_too_large" {
		t.Errorf("seed 003 with a 70 KiB body = %d %s, want 413 request_too_large", r.status, r.body)
	}
}
