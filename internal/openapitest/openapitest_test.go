package openapitest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const doc = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/things/{id}": {
      "get": {
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {
          "200": {"description": "ok", "content": {"application/json": {"schema": {
            "type": "object", "required": ["name", "owner", "tags"], "additionalProperties": false,
            "properties": {
              "name": {"type": "string"},
              "owner": {"anyOf": [{"$ref": "#/components/schemas/Owner"}, {"type": "null"}]},
              "tags": {"type": "array", "items": {"type": "string"}}
            }}}}},
          "404": {"description": "no", "content": {"application/problem+json": {"schema": {"type": "object"}}}}
        }
      }
    },
    "/things": {
      "post": {
        "requestBody": {"required": true, "content": {"application/json": {"schema": {
          "type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}}}},
        "responses": {"204": {"description": "made"}, "422": {"description": "no", "content": {"application/problem+json": {"schema": {"type": "object"}}}}}
      }
    }
  },
  "components": {"schemas": {"Owner": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}}}
}`

// serve answers GET /things/{id} with the given status and body, through the checker.
func serve(t *testing.T, c *Checker, path string, status int, contentType, body string) {
	t.Helper()
	h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
}

func TestCheckerFindsWhatBreaksTheDocument(t *testing.T) {
	for _, tc := range []struct {
		name, path  string
		status      int
		contentType string
		body        string
		want        string // in the violation; "" for none
	}{
		{"conforming", "/things/1", 200, "application/json", `{"name":"a","owner":{"id":"u"},"tags":[]}`, ""},
		{"nullable object as null", "/things/1", 200, "application/json", `{"name":"a","owner":null,"tags":[]}`, ""},
		{"list as null", "/things/1", 200, "application/json", `{"name":"a","owner":null,"tags":null}`, "tags"},
		{"body null", "/things/1", 200, "application/json", `null`, "null"},
		{"missing field", "/things/1", 200, "application/json", `{"name":"a","tags":[]}`, "owner"},
		{"undeclared status", "/things/1", 415, "application/problem+json", `{}`, "415"},
		{"declared error", "/things/1", 404, "application/problem+json", `{}`, ""},
		{"undescribed path", "/elsewhere", 404, "application/problem+json", `{}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			serve(t, c, tc.path, tc.status, tc.contentType, tc.body)
			v := c.Violations()
			switch {
			case tc.want == "" && len(v) > 0:
				t.Errorf("violations %q, want none", v)
			case tc.want != "" && (len(v) == 0 || !strings.Contains(strings.Join(v, "\n"), tc.want)):
				t.Errorf("violations %q, want one naming %q", v, tc.want)
			}
		})
	}
}

// TestCheckerFindsAcceptedRequestsTheDocumentRefuses: a request the server took (2xx) must be
// one the document allows; one it refused is not checked.
func TestCheckerFindsAcceptedRequestsTheDocumentRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		want                    string
	}{
		{"conforming", "application/json", `{"name":"a"}`, 204, ""},
		{"no Content-Type, read as JSON", "", `{"name":"a"}`, 204, ""},
		{"a +json type, read as JSON", "application/merge-patch+json", `{"name":"a"}`, 204, ""},
		{"accepted but breaks the schema", "application/json", `{"name":5}`, 204, "name"},
		{"refused", "application/json", `{"name":5}`, 422, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New([]byte(doc))
			if err != nil {
				t.Fatal(err)
			}
			h := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				if tc.status != 204 {
					w.Header().Set("Content-Type", "application/problem+json")
					w.WriteHeader(tc.status)
					_, _ = w.Write([]byte(`{}`))
					return
				}
				w.WriteHeader(tc.status)
			}))
			req := httptest.NewRequest(http.MethodPost, "/things", strings.NewReader(tc.body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			v := c.Violations()
			switch {
			case tc.want == "" && len(v) > 0:
				t.Errorf("violations %q, want none", v)
			case tc.want != "" && (len(v) == 0 || !strings.Contains(strings.Join(v, "\n"), tc.want)):
				t.Errorf("violations %q, want one naming %q", v, tc.want)
			}
		})
	}
}
