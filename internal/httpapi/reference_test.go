package httpapi_test

import (
	"html/template"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
)

// TestReferencePage fetches /docs: a page that loads nothing from elsewhere and runs no
// script, and names every operation of the document.
func TestReferencePage(t *testing.T) {
	e := newEnv(t)
	r := e.doAs("", "GET", "/docs", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /docs = %d %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q", ct)
	}
	page := string(r.body)
	if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|<script|@import|url\(`).FindAllString(page, -1); len(m) > 0 {
		t.Errorf("the page refers elsewhere or runs script: %q", m)
	}
	n := 0
	for path, item := range e.server.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			n++
			// Each operation's heading: its method, then its path.
			if want := op.Method + "</span>" + template.HTMLEscapeString(path) + "</h3>"; !strings.Contains(page, want) {
				t.Errorf("the page does not list %s %s", op.Method, path)
			}
		}
	}
	if n == 0 {
		t.Fatal("the document has no paths")
	}
}
