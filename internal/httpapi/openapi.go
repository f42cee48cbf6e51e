package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/yaml"
)

// schemaPrefix is where the document keeps its named schemas.
const schemaPrefix = "#/components/schemas/"

// schemaNames renames the schemas whose Go names read badly once the Go suffixes are gone
// (or would clash with another schema's).
var schemaNames = map[string]string{
	"MemberJSON":                     "ProjectMember",
	"ErrorEnvelopeErrorStruct":       "ErrorEnvelopeError",
	"Request-rate-limit-tierRequest": "RequestTierRequest",
	"CreatedAccountOutputBody":       "CreatedAccount",
	"ErrorDetail":                    "FieldError",
}

// schemaNamer names schemas as a user reads them: Key, CreateKeyRequest, not KeyJSON or
// CreateKeyInputBody, which are Go's names for the wire types and handler inputs.
func schemaNamer(t reflect.Type, hint string) string {
	name := huma.DefaultSchemaNamer(t, hint)
	if n, ok := schemaNames[name]; ok {
		return n
	}
	for _, r := range []struct{ suffix, with string }{
		{"InputBody", "Request"}, {"OutputBody", "Response"}, {"JSON", ""}, {"Struct", ""},
	} {
		if base, ok := strings.CutSuffix(name, r.suffix); ok && base != "" {
			return base + r.with
		}
	}
	return name
}

// tags describe the document's groups of operations, in the order a reader meets them.
var tags = []*huma.Tag{
	{Name: "Verification", Description: "The hot path: verify a key (public, no credential) and report use; the change stream for caches outside the server."},
	{Name: "API keys", Description: "Issue, list, update, rotate and revoke keys, and import keys from another system."},
	{Name: "Projects", Description: "Projects group keys; each has environments and members with project roles."},
	{Name: "Rate limits", Description: "Rate-limit tiers, requests for a higher tier and their approval, and usage counts."},
	{Name: "Identity", Description: "Who the caller is: the credential's principal and its permissions."},
	{Name: "Accounts", Description: "Accounts (tenants) and their settings."},
	{Name: "Users", Description: "The account's users: people signing in through OIDC, and the keys acting for them."},
	{Name: "Roles", Description: "Built-in and custom roles: named sets of permissions."},
	{Name: "Audit", Description: "Who changed what, when, and from where."},
	{Name: "Webhooks", Description: "Endpoints that receive signed event deliveries, and the deliveries themselves."},
	{Name: "Leaks", Description: "Reports of leaked keys: GitHub secret scanning and a public report route."},
	{Name: "OAuth", Description: "OAuth 2.0 client credentials: keys as clients, short-lived signed access tokens, their keys (JWKS)."},
	{Name: "Gateway", Description: "Endpoints for front doors (Envoy, NGINX, Traefik/Caddy forward auth, Hasura) that ask Keyward whether to let a request through."},
	{Name: "Health", Description: "Liveness, readiness and metrics for the operator."},
	{Name: "Seed 000: self-service keys", Description: "The self-service key routes of the seed contract, kept for its clients."},
	{Name: "Seed 003: account keys", Description: "The account key routes of the seed contract, kept for its clients."},
}

// errorDescriptions describe the error statuses a route may answer, when the route does not
// say more itself.
var errorDescriptions = map[int]string{
	http.StatusBadRequest:            "The request is malformed: bad JSON, invalid UTF-8, a bad parameter.",
	http.StatusUnauthorized:          "No valid credential.",
	http.StatusForbidden:             "The credential may not do this.",
	http.StatusNotFound:              "No such resource in the caller's account.",
	http.StatusRequestTimeout:        "The body did not arrive in time.",
	http.StatusConflict:              "The change conflicts with the resource's state.",
	http.StatusRequestEntityTooLarge: "The body is too large.",
	http.StatusUnsupportedMediaType:  "The body is not JSON (Content-Type).",
	http.StatusUnprocessableEntity:   "A field breaks a rule.",
	http.StatusTooManyRequests:       "The credential is over its rate limit or out of credits.",
	http.StatusInternalServerError:   "An internal error.",
	http.StatusServiceUnavailable:    "A dependency (the store) is not answering; try again.",
}

// finishDocument makes the document say what the server does where huma's derivation from
// the handlers' types cannot: which fields may be null, every error a route can answer,
// public routes, tags and servers. It runs once, after every route is registered.
func (s *Server) finishDocument() {
	doc := s.api.OpenAPI()
	reg := doc.Components.Schemas
	nullableRefs(reg)
	for _, sch := range reg.Map() {
		nullInEnums(sch)
	}
	doc.Servers = []*huma.Server{{URL: "/", Description: "This server: the document's own origin."}}
	doc.Tags = tags
	problem := &huma.Schema{Ref: schemaPrefix + "Problem"}
	for _, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Delete, item.Patch} {
			if op == nil {
				continue
			}
			finishOperation(op, problem)
		}
	}
}

// finishOperation declares the errors op can answer and marks it public when it needs no
// credential.
func finishOperation(op *huma.Operation, problem *huma.Schema) {
	if op.RequestBody != nil {
		// huma describes a RawBody field (kept to tell null from absent) as a second,
		// binary body; the route takes JSON only.
		delete(op.RequestBody.Content, "application/octet-stream")
	}
	var statuses []int
	switch {
	case len(op.Security) == 0:
		op.Security = []map[string][]string{} // public: says so, not "as the document's default"
	case slices.ContainsFunc(op.Security, func(r map[string][]string) bool { return len(r) == 0 }):
		// Credentials optional (the OAuth routes, which declare their own errors).
	default:
		// Authentication refuses a bad credential, a key over its limits, and waits on the
		// store.
		statuses = append(statuses, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	}
	if op.RequestBody != nil && op.RequestBody.Content["application/json"] != nil {
		// Every JSON body is read under a deadline and a size bound, and checked for its
		// Content-Type, its syntax and its schema.
		statuses = append(statuses, http.StatusBadRequest, http.StatusRequestTimeout, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity)
	}
	if len(statuses) == 0 {
		return
	}
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	// An added error takes the shape of the route's own errors (the seed 003 routes answer an
	// envelope of their own), else problem+json.
	var like *huma.Response
	for _, code := range []string{"401", "400", "403", "404", "422"} {
		if r := op.Responses[code]; r != nil && len(r.Content) > 0 {
			like = r
			break
		}
	}
	for _, r := range op.Responses {
		if mt := r.Content["application/problem+json"]; mt != nil && mt.Schema == nil {
			mt.Schema = problem
		}
	}
	for _, st := range statuses {
		code := strconv.Itoa(st)
		if op.Responses[code] != nil {
			continue
		}
		r := &huma.Response{Description: errorDescriptions[st]}
		if like != nil {
			r.Content = like.Content
		} else {
			r.Content = map[string]*huma.MediaType{"application/problem+json": {Schema: problem}}
		}
		op.Responses[code] = r
	}
}

// nullableRefs marks nullable the fields huma cannot: a pointer to a struct, sent as null
// when nil, is a $ref that huma declares required and never null. Such a field becomes
// anyOf [$ref, null].
func nullableRefs(reg huma.Registry) {
	for name, s := range reg.Map() {
		t := reg.TypeFromRef(schemaPrefix + name)
		if t == nil {
			continue
		}
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			continue
		}
		nullableFields(t, s)
	}
}

func nullableFields(t reflect.Type, s *huma.Schema) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			nullableFields(f.Type, s)
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct {
			continue
		}
		if slices.Contains(strings.Split(opts, ","), "omitempty") {
			continue // absent, never null
		}
		if name == "" {
			name = f.Name
		}
		p := s.Properties[name]
		if p == nil || p.Ref == "" {
			continue
		}
		s.Properties[name] = &huma.Schema{Description: p.Description, AnyOf: []*huma.Schema{{Ref: p.Ref}, {Type: "null"}}}
	}
}

// nullInEnums lets a nullable enum be null: an enum lists every value allowed, and neither
// 3.1's type [string, null] nor 3.0's nullable adds null to it.
func nullInEnums(s *huma.Schema) {
	if s == nil {
		return
	}
	if s.Nullable && len(s.Enum) > 0 && !slices.Contains(s.Enum, nil) {
		s.Enum = append(s.Enum, nil)
	}
	for _, p := range s.Properties {
		nullInEnums(p)
	}
	nullInEnums(s.Items)
	for _, a := range s.AnyOf {
		nullInEnums(a)
	}
	for _, a := range s.OneOf {
		nullInEnums(a)
	}
}

// documents are the server's OpenAPI document in the forms it serves, marshalled once.
type documents struct {
	once                       sync.Once
	v31, v31yaml, v30, v30yaml []byte
	err                        error
}

func (s *Server) documents() (*documents, error) {
	d := &s.docs
	d.once.Do(func() {
		doc := s.api.OpenAPI()
		if d.v31, d.err = json.Marshal(doc); d.err != nil {
			return
		}
		if d.v30, d.err = downgrade(doc); d.err != nil {
			return
		}
		d.v31yaml, d.err = toYAML(d.v31)
		if d.err != nil {
			return
		}
		d.v30yaml, d.err = toYAML(d.v30)
	})
	return d, d.err
}

func toYAML(j []byte) ([]byte, error) {
	var b strings.Builder
	if err := yaml.Convert(&b, strings.NewReader(string(j))); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// OpenAPI30 returns the document as OpenAPI 3.0, as /openapi-3.0.json serves it.
func (s *Server) OpenAPI30() ([]byte, error) {
	d, err := s.documents()
	if err != nil {
		return nil, err
	}
	return d.v30, nil
}

// downgrade is huma's 3.0 form of doc with what huma leaves of 3.1 taken out: a null type
// (3.0 says nullable), anyOf [X, null] (3.0: allOf [X] and nullable), contentMediaType.
func downgrade(doc *huma.OpenAPI) ([]byte, error) {
	b, err := doc.Downgrade()
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	var schemas map[string]any
	if root, ok := v.(map[string]any); ok {
		if c, ok := root["components"].(map[string]any); ok {
			schemas, _ = c["schemas"].(map[string]any)
		}
	}
	to30(v, schemas)
	return json.Marshal(v)
}

// to30 rewrites v, a part of a document, for 3.0; schemas are the document's named schemas.
func to30(v any, schemas map[string]any) {
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok && len(v) > 1 {
			// 3.0 ignores a $ref's siblings (its description): wrap it.
			delete(v, "$ref")
			v["allOf"] = []any{map[string]any{"$ref": ref}}
		}
		delete(v, "contentMediaType")
		delete(v, "contentEncoding")
		delete(v, "$schema")
		for _, key := range []string{"anyOf", "oneOf"} {
			alts, ok := v[key].([]any)
			if !ok {
				continue
			}
			kept := alts[:0]
			for _, a := range alts {
				if m, ok := a.(map[string]any); ok && m["type"] == "null" && len(m) == 1 {
					v["nullable"] = true
					continue
				}
				kept = append(kept, a)
			}
			if len(kept) == 1 {
				delete(v, key)
				v["allOf"] = kept
			} else {
				v[key] = kept
			}
		}
		if v["nullable"] == true && v["type"] == nil {
			// 3.0's nullable needs a type beside it: the referenced schema's.
			if all, ok := v["allOf"].([]any); ok && len(all) == 1 {
				if ref, ok := all[0].(map[string]any)["$ref"].(string); ok {
					if target, ok := schemas[strings.TrimPrefix(ref, schemaPrefix)].(map[string]any); ok {
						v["type"] = target["type"]
					}
				}
			}
		}
		if c, ok := v["const"]; ok {
			delete(v, "const")
			v["enum"] = []any{c}
		}
		for _, x := range v {
			to30(x, schemas)
		}
	case []any:
		for _, x := range v {
			to30(x, schemas)
		}
	}
}

// registerDocuments serves the document: 3.1 and 3.0, JSON and YAML.
func (s *Server) registerDocuments() {
	for _, d := range []struct {
		path, contentType string
		body              func(*documents) []byte
	}{
		{"/openapi.json", "application/openapi+json", func(d *documents) []byte { return d.v31 }},
		{"/openapi.yaml", "application/openapi+yaml", func(d *documents) []byte { return d.v31yaml }},
		{"/openapi-3.0.json", "application/openapi+json", func(d *documents) []byte { return d.v30 }},
		{"/openapi-3.0.yaml", "application/openapi+yaml", func(d *documents) []byte { return d.v30yaml }},
	} {
		s.handle(http.MethodGet, d.path, func(w http.ResponseWriter, r *http.Request) {
			docs, err := s.documents()
			if err != nil {
				s.log.Error("marshalling the OpenAPI document", "err", err)
				http.Error(w, fmt.Sprintf("the document could not be marshalled: %v", err), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", d.contentType)
			_, _ = w.Write(d.body(docs))
		}, nil)
	}
}
