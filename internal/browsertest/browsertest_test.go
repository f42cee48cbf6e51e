package browsertest

import (
	"bytes"
	"fmt"
	"image/png"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// csp is what the dashboard will send: no inline script, no eval, nothing from elsewhere.
const csp = "default-src 'self'; script-src 'self'"

const goodPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in</title>
<link rel="stylesheet" href="/style.css">
</head>
<body><main>
<h1>Keyward</h1>
<p id="hello">Hello, browser.</p>
<form method="post" action="/submit">
  <label for="name">Name</label>
  <input id="name" name="name" type="text" autocomplete="name">
  <button type="submit">Save</button>
</form>
</main></body></html>`

// The stylesheet is a file: the CSP's default-src 'self' forbids inline <style> too.
const styleCSS = `:root { color-scheme: light dark; }
body { margin: 0; font: 16px/1.5 sans-serif; background: #fff; color: #111; }
@media (prefers-color-scheme: dark) { body { background: #111; color: #eee; } }
main { max-width: 40rem; margin: 0 auto; padding: 1rem; }
`

const badPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Bad</title></head>
<body><main>
<h1>Bad page</h1>
<img src="/pixel.png">
<input id="nolabel" type="text">
</main></body></html>`

// An inline script and an inline style: with the CSP above the browser must refuse both.
const inlineScriptPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>CSP</title>
<style>h1 { color: rgb(255, 0, 0); }</style></head>
<body><main><h1 id="h">untouched</h1>
<script>document.getElementById("h").textContent = "inline ran";</script>
</main></body></html>`

// server serves the test pages on 127.0.0.1 with the strict CSP on every response.
func server(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, body)
		}
	}
	mux.HandleFunc("GET /{$}", page(goodPage))
	mux.HandleFunc("GET /bad", page(badPage))
	mux.HandleFunc("GET /inline", page(inlineScriptPage))
	mux.HandleFunc("GET /style.css", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		fmt.Fprint(w, styleCSS)
	})
	mux.HandleFunc("GET /pixel.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(onePixelPNG)
	})
	mux.HandleFunc("POST /submit", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s3cr3t", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/done?"+url.Values{"name": {r.PostFormValue("name")}}.Encode(), http.StatusSeeOther)
	})
	mux.HandleFunc("GET /done", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><title>Done</title></head><body><main><p id="done">Saved %s</p></main></body></html>`,
			strings.ReplaceAll(r.URL.Query().Get("name"), "<", "&lt;"))
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		mux.ServeHTTP(w, r)
	})}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

var onePixelPNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89" +
	"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

func TestPageTextFormAndCookie(t *testing.T) {
	srv := server(t)
	start := time.Now()
	b := New(t)
	t.Logf("%s (%s) started in %v", b.Version, b.Path, time.Since(start).Round(time.Millisecond))
	tab := b.Tab(t)

	tab.Navigate(srv.URL + "/")
	if got := tab.Text("#hello"); got != "Hello, browser." {
		t.Errorf("text of #hello = %q", got)
	}
	var title string
	tab.Eval(`document.title`, &title)
	if title != "Sign in" {
		t.Errorf("document.title = %q", title)
	}

	tab.SendKeys("#name", "Ada")
	tab.SetValue("#name", tab.value("#name")+" Lovelace")
	tab.Submit("#name")
	tab.WaitVisible("#done")
	if got := tab.Text("#done"); got != "Saved Ada Lovelace" {
		t.Errorf("after submitting: %q", got)
	}
	if loc := tab.Location(); loc != srv.URL+"/done?name=Ada+Lovelace" {
		t.Errorf("location = %q", loc)
	}

	var session string
	for _, c := range tab.Cookies() {
		if c.Name == "session" {
			session = c.Value
			if !c.HTTPOnly {
				t.Errorf("session cookie not HttpOnly: %+v", c)
			}
		}
	}
	if session != "s3cr3t" {
		t.Errorf("session cookie = %q; cookies: %v", session, tab.Cookies())
	}
	// HttpOnly: the page's own script does not see it.
	var docCookie string
	tab.Eval(`document.cookie`, &docCookie)
	if strings.Contains(docCookie, "session") {
		t.Errorf("document.cookie = %q", docCookie)
	}

	// A second tab is a separate browser context: no cookie.
	other := b.Tab(t)
	other.Navigate(srv.URL + "/")
	if cs := other.Cookies(); len(cs) != 0 {
		t.Errorf("a new tab sees cookies of another: %v", cs)
	}

	// Click: the form's button submits too.
	other.SetValue("#name", "Grace")
	other.Click("button[type=submit]")
	other.WaitVisible("#done")
	if got := other.Text("#done"); got != "Saved Grace" {
		t.Errorf("after clicking: %q", got)
	}
}

// value reads an input's value, to show Eval with a result of another type.
func (tab *Tab) value(selector string) string {
	var v string
	tab.Eval(`document.querySelector(`+strconv.Quote(selector)+`).value`, &v)
	return v
}

func TestCSPIsEnforced(t *testing.T) {
	// The pages are served with a CSP that forbids inline script; the browser must honour it,
	// or the dashboard's tests would pass with pages that a real browser breaks.
	srv := server(t)
	tab := New(t).Tab(t)
	tab.Navigate(srv.URL + "/inline")
	if got := tab.Text("#h"); got != "untouched" {
		t.Errorf("the inline script ran despite %q: %q", csp, got)
	}
	var color string
	tab.Eval(`getComputedStyle(document.getElementById("h")).color`, &color)
	if color == "rgb(255, 0, 0)" {
		t.Errorf("the inline style applied despite %q", csp)
	}
}

func TestScreenshots(t *testing.T) {
	srv := server(t)
	tab := New(t).Tab(t)
	tab.Navigate(srv.URL + "/")
	dir := t.TempDir()
	for _, width := range []int{390, 1280} {
		for _, dark := range []bool{false, true} {
			name := fmt.Sprintf("home-%d-%s.png", width, map[bool]string{false: "light", true: "dark"}[dark])
			path := filepath.Join(dir, name)
			tab.Screenshot(path, width, dark)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s: not a PNG: %v", name, err)
			}
			if got := img.Bounds().Dx(); got != width {
				t.Errorf("%s: %d px wide, want %d", name, got, width)
			}
			// The body's background: white in light, #111 in dark.
			r, g, bl, _ := img.At(2, img.Bounds().Dy()-2).RGBA()
			light := r>>8 > 0xf0 && g>>8 > 0xf0 && bl>>8 > 0xf0
			if light == dark {
				t.Errorf("%s: background is rgb(%d,%d,%d), want it %s", name, r>>8, g>>8, bl>>8, map[bool]string{false: "light", true: "dark"}[dark])
			}
		}
	}
	// The viewport and the scheme are back to the tab's defaults.
	var w int
	tab.Eval(`window.innerWidth`, &w)
	var dark bool
	tab.Eval(`matchMedia("(prefers-color-scheme: dark)").matches`, &dark)
	if w != 1280 || dark {
		t.Errorf("after the screenshots: innerWidth %d, dark %v", w, dark)
	}
}

func TestAxe(t *testing.T) {
	srv := server(t)
	tab := New(t).Tab(t)

	tab.Navigate(srv.URL + "/bad")
	vs := tab.Axe(t)
	found := map[string]Violation{}
	for _, v := range vs {
		found[v.ID] = v
		t.Logf("bad page: %s", v)
	}
	for id, target := range map[string]string{"image-alt": "img", "label": "#nolabel"} {
		v, ok := found[id]
		if !ok {
			t.Errorf("axe did not report %s on the bad page", id)
			continue
		}
		if len(v.Nodes) != 1 || len(v.Nodes[0].Target) != 1 || v.Nodes[0].Target[0] != target {
			t.Errorf("%s: nodes %+v, want the one %s", id, v.Nodes, target)
		}
		if len(SeriousViolations([]Violation{v})) != 1 {
			t.Errorf("%s: impact %q, want serious or critical", id, v.Impact)
		}
	}
	// axe ran under the page's CSP: the evaluation is not the page's script.
	var cspSeen bool
	tab.Eval(`typeof axe === "object"`, &cspSeen)
	if !cspSeen {
		t.Error("axe is not in the page after Axe")
	}

	tab.Navigate(srv.URL + "/")
	if vs := SeriousViolations(tab.Axe(t)); len(vs) != 0 {
		t.Errorf("good page: serious violations: %v", vs)
	}
}

func TestSeriousViolations(t *testing.T) {
	in := []Violation{{ID: "a", Impact: "minor"}, {ID: "b", Impact: "serious"}, {ID: "c", Impact: "critical"}, {ID: "d", Impact: "moderate"}}
	got := SeriousViolations(in)
	if len(got) != 2 || got[0].ID != "b" || got[1].ID != "c" {
		t.Errorf("SeriousViolations = %v", got)
	}
}

func TestNoBrowser(t *testing.T) {
	t.Setenv(EnvChromium, "/nonexistent/chromium")
	t.Run("fails naming the package", func(t *testing.T) {
		rec := &recorder{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); New(rec) }()
		<-done
		if !rec.failed || !strings.Contains(rec.msg, "apt-get install chromium") {
			t.Errorf("failed %v, message %q", rec.failed, rec.msg)
		}
	})
	t.Run("skips with KEYWARD_TEST_SKIP_BROWSER=1", func(t *testing.T) {
		t.Setenv(EnvSkip, "1")
		rec := &recorder{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); New(rec) }()
		<-done
		if !rec.skipped || rec.failed {
			t.Errorf("skipped %v, failed %v, message %q", rec.skipped, rec.failed, rec.msg)
		}
	})
}

// recorder stands in for a test, to watch New fail or skip; Fatalf and Skipf end the
// goroutine, as the real ones do.
type recorder struct {
	testing.TB
	failed, skipped bool
	msg             string
}

func (r *recorder) Helper() {}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped, r.msg = true, fmt.Sprintf(format, args...)
	runtime.Goexit()
}
