package httpapi

import (
	"bytes"
	_ "embed"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
)

// The reference page at /docs is rendered on the server from the OpenAPI document, once:
// plain HTML and CSS, no script and nothing loaded from elsewhere (huma's own docs page
// loads its renderer from a CDN), so it reads the same offline and behind a strict CSP.
//
//go:embed docspage/reference.html.tmpl
var referenceTemplate string

var referencePage = template.Must(template.New("reference").Parse(referenceTemplate))

type refPage struct {
	Title, Version, Description string
	Tags                        []*refTag
	Schemas                     []refSchema
}

type refTag struct {
	ID, Name, Description string
	Operations            []refOperation
}

type refOperation struct {
	ID, Method, Path, Summary, Description, Auth string
	Params                                       []refField
	Body                                         []refContent
	Responses                                    []refResponse
}

type refField struct {
	Name, In, Description string
	Required              bool
	Type                  template.HTML
}

type refContent struct {
	MediaType string
	Type      template.HTML
}

type refResponse struct {
	Status, Description string
	Content             []refContent
}

type refSchema struct {
	Name, Description string
	Type              template.HTML
	Fields            []refField
}

// reference renders doc as the reference page.
func reference(doc *huma.OpenAPI) ([]byte, error) {
	page := refPage{Title: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description}
	byTag := map[string]*refTag{}
	for _, t := range doc.Tags {
		rt := &refTag{ID: anchor(t.Name), Name: t.Name, Description: t.Description}
		byTag[t.Name] = rt
		page.Tags = append(page.Tags, rt)
	}
	for _, p := range slices.Sorted(maps.Keys(doc.Paths)) {
		item := doc.Paths[p]
		for _, m := range []struct {
			method string
			op     *huma.Operation
		}{{"GET", item.Get}, {"POST", item.Post}, {"PUT", item.Put}, {"PATCH", item.Patch}, {"DELETE", item.Delete}} {
			if m.op == nil {
				continue
			}
			tag := "Other"
			if len(m.op.Tags) > 0 {
				tag = m.op.Tags[0]
			}
			rt := byTag[tag]
			if rt == nil {
				rt = &refTag{ID: anchor(tag), Name: tag}
				byTag[tag] = rt
				page.Tags = append(page.Tags, rt)
			}
			rt.Operations = append(rt.Operations, refOp(m.method, p, m.op))
		}
	}
	page.Tags = slices.DeleteFunc(page.Tags, func(t *refTag) bool { return len(t.Operations) == 0 })
	schemas := doc.Components.Schemas.Map()
	for _, n := range slices.Sorted(maps.Keys(schemas)) {
		s := schemas[n]
		rs := refSchema{Name: n, Description: s.Description, Type: typeOf(s)}
		for _, p := range slices.Sorted(maps.Keys(s.Properties)) {
			ps := s.Properties[p]
			rs.Fields = append(rs.Fields, refField{Name: p, Required: slices.Contains(s.Required, p), Type: typeOf(ps), Description: describeSchema(ps)})
		}
		page.Schemas = append(page.Schemas, rs)
	}
	var b bytes.Buffer
	if err := referencePage.Execute(&b, page); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func refOp(method, path string, op *huma.Operation) refOperation {
	ro := refOperation{ID: anchor(method + path), Method: method, Path: path, Summary: op.Summary, Description: op.Description}
	switch {
	case op.Security != nil && len(op.Security) == 0:
		ro.Auth = "Public: no credential."
	case slices.ContainsFunc(op.Security, func(r map[string][]string) bool { return len(r) == 0 }):
		ro.Auth = "Credential optional."
	default:
		var schemes []string
		for _, r := range op.Security {
			for k := range r {
				schemes = append(schemes, k)
			}
		}
		slices.Sort(schemes)
		ro.Auth = "Credential: " + strings.Join(schemes, " or ") + "."
	}
	for _, p := range op.Parameters {
		ro.Params = append(ro.Params, refField{Name: p.Name, In: p.In, Required: p.Required, Description: p.Description, Type: typeOf(p.Schema)})
	}
	if op.RequestBody != nil {
		ro.Body = contents(op.RequestBody.Content)
	}
	codes := make([]string, 0, len(op.Responses))
	for c := range op.Responses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for _, c := range codes {
		r := op.Responses[c]
		ro.Responses = append(ro.Responses, refResponse{Status: c, Description: r.Description, Content: contents(r.Content)})
	}
	return ro
}

func contents(m map[string]*huma.MediaType) []refContent {
	types := make([]string, 0, len(m))
	for t := range m {
		types = append(types, t)
	}
	slices.Sort(types)
	var out []refContent
	for _, t := range types {
		out = append(out, refContent{MediaType: t, Type: typeOf(m[t].Schema)})
	}
	return out
}

// typeOf names a schema's type for a reader, linking named schemas to their section.
func typeOf(s *huma.Schema) template.HTML {
	if s == nil {
		return ""
	}
	esc := template.HTMLEscapeString
	if s.Ref != "" {
		name := strings.TrimPrefix(s.Ref, schemaPrefix)
		return template.HTML(`<a href="#schema-` + esc(name) + `">` + esc(name) + `</a>`)
	}
	var alts []string
	for _, a := range append(slices.Clone(s.AnyOf), s.OneOf...) {
		alts = append(alts, string(typeOf(a)))
	}
	if len(alts) > 0 {
		return template.HTML(strings.Join(alts, " or "))
	}
	t := s.Type
	switch t {
	case "array":
		t = "array of " + string(typeOf(s.Items))
	case "":
		t = "any"
	default:
		t = esc(t)
		if s.Format != "" {
			t += " (" + esc(s.Format) + ")"
		}
	}
	if len(s.Enum) > 0 {
		var vals []string
		for _, v := range s.Enum {
			if str, ok := v.(string); ok {
				vals = append(vals, esc(str))
			}
		}
		if len(vals) > 0 {
			t += ": " + strings.Join(vals, ", ")
		}
	}
	if s.Nullable {
		t += " or null"
	}
	return template.HTML(t)
}

func describeSchema(s *huma.Schema) string {
	if s == nil {
		return ""
	}
	return s.Description
}

// anchor makes an HTML id of s.
func anchor(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// registerReference serves the reference page at /docs.
func (s *Server) registerReference() {
	var (
		once sync.Once
		page []byte
		err  error
	)
	s.handle(http.MethodGet, "/docs", func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { page, err = reference(s.api.OpenAPI()) })
		if err != nil {
			s.log.Error("rendering the reference page", "err", err)
			http.Error(w, "the reference page could not be rendered", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		// Nothing on the page comes from elsewhere, and nothing runs.
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
		_, _ = w.Write(page)
	}, nil)
}
