package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMalformedInputCorpus sends hostile input to every operation of the served OpenAPI
// document (issue 16, item 10): garbage in each path parameter and query parameter, bodies
// that are not JSON, JSON of the wrong shape, each declared field of the wrong type, invalid
// UTF-8, deep nesting, oversized values, the wrong media type and mangled credentials. The
// cases are generated from the document, so a new route is covered the day it is declared.
// Every answer must come, within a bound, and be no 5xx.
func TestMalformedInputCorpus(t *testing.T) {
	e := newEnv(t)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	e.must(http.StatusOK, "GET", "/openapi.json", nil).decode(t, &doc)

	type operation struct {
		Parameters []struct {
			Name, In string
		} `json:"parameters"`
		RequestBody *struct {
			Content map[string]struct {
				Schema json.RawMessage `json:"schema"`
			} `json:"content"`
		} `json:"requestBody"`
	}
	schemas := e.schemas(t)

	type request struct {
		method, path, contentType, auth, body string
	}
	var cases []request
	garbage := []string{"%00", "..%2F..%2Fetc%2Fpasswd", "%FF%FE", strings.Repeat("a", 4096), "'%20OR%201=1--", "%E2%80%AE", "-1", "99999999999999999999999"}
	paths := slices.Sorted(maps.Keys(doc.Paths))
	operations := 0
	for _, path := range paths {
		for method, raw := range doc.Paths[path] {
			method = strings.ToUpper(method)
			if !slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE"}, method) {
				continue
			}
			operations++
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			// A well-formed path (every parameter a plausible id), then each parameter mangled.
			plain := path
			var params []string
			for _, p := range op.Parameters {
				if p.In == "path" {
					params = append(params, p.Name)
					plain = strings.ReplaceAll(plain, "{"+p.Name+"}", "01a249ff-138a-7cd6-a46a-6acc40c51314")
				}
			}
			for _, name := range params {
				for _, g := range garbage {
					mangled := path
					for _, other := range params {
						v := "01a249ff-138a-7cd6-a46a-6acc40c51314"
						if other == name {
							v = g
						}
						mangled = strings.ReplaceAll(mangled, "{"+other+"}", v)
					}
					cases = append(cases, request{method: method, path: mangled, auth: "Bearer " + e.token})
				}
			}
			for _, p := range op.Parameters {
				if p.In != "query" {
					continue
				}
				for _, g := range []string{"", "-1", "1e309", "%FF", strings.Repeat("9", 400), "true&" + p.Name + "=twice"} {
					cases = append(cases, request{method: method, path: plain + "?" + url.QueryEscape(p.Name) + "=" + g, auth: "Bearer " + e.token})
				}
			}
			// Credentials no one issued, in every shape a client might mangle them.
			for _, auth := range []string{"Bearer", "Bearer " + strings.Repeat("k", 8192), "Basic !!!", "Bearer kw_\xff\xfe", "Digest x"} {
				cases = append(cases, request{method: method, path: plain, auth: auth})
			}
			if op.RequestBody == nil {
				continue
			}
			ctype := "application/json"
			var fields []string
			for ct, c := range op.RequestBody.Content {
				ctype = ct
				fields = schemas.fields(c.Schema)
			}
			bodies := []string{"", "{", "[]", "null", `"text"`, "1e999", `{"a":` + strings.Repeat("[", 10_000) + strings.Repeat("]", 10_000) + "}",
				"{\"name\":\"\xff\xfe\"}", `{"name":"` + strings.Repeat("n", 2<<20) + `"}`, `{"__proto__":{"admin":true}}`}
			if ctype == "application/x-www-form-urlencoded" {
				bodies = append(bodies, "%%%", "a=%FF", strings.Repeat("a=b&", 20_000))
			}
			for _, f := range fields {
				for _, v := range []string{"123456789012345678901234567890", `[]`, `{}`, `null`, `true`, `-1`, `"\u0000"`, `"` + strings.Repeat("x", 70_000) + `"`} {
					bodies = append(bodies, `{"`+f+`":`+v+`}`)
				}
			}
			for _, b := range bodies {
				cases = append(cases, request{method: method, path: plain, contentType: ctype, auth: "Bearer " + e.token, body: b})
			}
			cases = append(cases, request{method: method, path: plain, contentType: "text/plain", auth: "Bearer " + e.token, body: "{}"})
		}
	}

	client := &http.Client{Timeout: 10 * time.Second}
	statuses := map[int]int{}
	fives, hangs := 0, 0
	for _, c := range cases {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		req, err := http.NewRequestWithContext(ctx, c.method, e.url+c.path, strings.NewReader(c.body))
		if err != nil {
			// A path Go's client will not send (a control character): nothing to test.
			cancel()
			continue
		}
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		if c.auth != "" {
			req.Header.Set("Authorization", c.auth)
		}
		res, err := client.Do(req)
		if err != nil {
			cancel()
			if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Timeout") {
				hangs++
				t.Errorf("%s %.120s: no answer within 10 s", c.method, c.path)
				continue
			}
			t.Errorf("%s %.120s: %v", c.method, c.path, err)
			continue
		}
		// An event stream answers its headers and then streams: its status is the answer.
		if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
		}
		res.Body.Close()
		cancel()
		statuses[res.StatusCode]++
		if res.StatusCode >= 500 {
			fives++
			t.Errorf("%s %.120s (%s, %.60q) = %d", c.method, c.path, c.contentType, c.body, res.StatusCode)
		}
	}
	if len(cases) < 300 {
		t.Errorf("%d cases from %d operations, want at least 300", len(cases), operations)
	}
	t.Logf("malformed input: %d cases over %d operations: %d 5xx, %d hangs; statuses %v", len(cases), operations, fives, hangs, statuses)
}

// docSchemas are the document's component schemas, to name the fields of a request body.
type docSchemas map[string]struct {
	Properties map[string]json.RawMessage `json:"properties"`
}

func (e *env) schemas(t *testing.T) docSchemas {
	var doc struct {
		Components struct {
			Schemas docSchemas `json:"schemas"`
		} `json:"components"`
	}
	e.must(http.StatusOK, "GET", "/openapi.json", nil).decode(t, &doc)
	return doc.Components.Schemas
}

// fields are the property names of a body schema: inline, or a $ref to a component.
func (s docSchemas) fields(schema json.RawMessage) []string {
	var sch struct {
		Ref        string                     `json:"$ref"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if json.Unmarshal(schema, &sch) != nil {
		return nil
	}
	props := sch.Properties
	if sch.Ref != "" {
		props = s[strings.TrimPrefix(sch.Ref, "#/components/schemas/")].Properties
	}
	return slices.Sorted(maps.Keys(props))
}
