package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"time"
)

// pageNames are the templates, each rendered inside layout.html.
var pageNames = []string{"signin", "keys", "key_new", "reveal", "key", "revoke", "error", "tiers", "audit", "webhooks", "deliveries", "projects", "members", "key_edit"}

var funcs = template.FuncMap{
	"when": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"short": func(id string) string {
		if len(id) > 8 {
			return id[:8]
		}
		return id
	},
	"join": func(ss []string) string {
		var b bytes.Buffer
		for i, s := range ss {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(s)
		}
		return b.String()
	},
	"selected": func(a, b string) bool { return a == b },
	"json": func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	},
}

func (d *Dashboard) parseTemplates() error {
	d.pages = map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		d.pages[name] = t
	}
	return nil
}

// render writes a page. It renders into a buffer first, so that a template error is a clean
// 500 rather than half a page.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if p.Visit == nil {
		if v, ok := r.Context().Value(visitKey{}).(*visit); ok {
			p.Visit = v
		}
	}
	p.OIDC = d.oidc != nil
	var buf bytes.Buffer
	if err := d.pages[name].Execute(&buf, struct {
		page
		Version string
	}{p, d.version}); err != nil {
		d.log.Error("dashboard: rendering a page failed", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
