// Package dashboard is Keyward's web UI: server-rendered pages (html/template, escaped by
// construction) under /ui/, with every asset embedded in the binary, no script or style from
// anywhere else, and no JavaScript needed to use it (a small script adds copy buttons).
//
// A person signs in with an admin key, pasted once and never stored in the browser: the server
// keeps a session (keyward.Service.StartSession) and the browser an HttpOnly, SameSite=Strict
// cookie holding its random token. Each request resolves the session's principal afresh and
// calls the same service methods as the API, so the dashboard authorizes exactly as the API
// does, and every change it makes is audited under the person who made it. Forms are
// protected against cross-site requests twice: http.CrossOriginProtection refuses
// cross-origin browser POSTs, and each form carries a token derived from the session's.
package dashboard

import (
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the dashboard is served.
const Prefix = "/ui/"

// cookieName is the session cookie's.
const cookieName = "keyward_session"

// Config configures the dashboard.
type Config struct {
	Service *keyward.Service
	Logger  *slog.Logger
	// Secure marks the session cookie Secure: set it when Keyward serves TLS, or sits behind
	// a proxy that does.
	Secure bool
	// Version is shown in the footer.
	Version string
	// OIDC, when set, offers sign-in through the OpenID Connect provider.
	OIDC *OIDC
	// Proxies are the trusted reverse proxies (--trusted-proxies), whose X-Forwarded-For
	// names the client in the audit log, as for the API.
	Proxies httpwire.Proxies
}

// Dashboard serves the web UI.
type Dashboard struct {
	svc     *keyward.Service
	log     *slog.Logger
	secure  bool
	version string
	oidc    *OIDC
	proxies httpwire.Proxies
	pages   map[string]*template.Template
	mux     *http.ServeMux
	csrf    *http.CrossOriginProtection
}

// New returns the dashboard.
func New(cfg Config) (*Dashboard, error) {
	d := &Dashboard{svc: cfg.Service, log: cfg.Logger, secure: cfg.Secure, version: cfg.Version,
		mux: http.NewServeMux(), csrf: http.NewCrossOriginProtection(), oidc: cfg.OIDC, proxies: cfg.Proxies}
	if d.log == nil {
		d.log = slog.Default()
	}
	if err := d.parseTemplates(); err != nil {
		return nil, err
	}
	d.routes()
	return d, nil
}

// ServeHTTP serves /ui/… with the dashboard's headers: a strict Content-Security-Policy (only
// this origin's scripts and styles, no inline code, no framing), and nothing cached, since
// pages show keys and, once, their secrets.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	d.csrf.Handler(d.mux).ServeHTTP(w, r)
}

func (d *Dashboard) routes() {
	static, _ := fs.Sub(staticFS, "static")
	d.mux.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix+"static/", http.FileServerFS(static)))
	d.mux.HandleFunc("GET "+Prefix+"{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"keys", http.StatusSeeOther)
	})
	d.mux.HandleFunc("GET "+Prefix+"sign-in", d.signInPage)
	d.mux.HandleFunc("POST "+Prefix+"sign-in", d.signIn)
	if d.oidc != nil {
		d.mux.HandleFunc("GET "+Prefix+"sign-in/oidc", d.startOIDC)
		d.mux.HandleFunc("GET "+Prefix+"callback", d.callback)
	}
	d.mux.HandleFunc("POST "+Prefix+"sign-out", d.signedIn(d.signOut))
	d.mux.HandleFunc("GET "+Prefix+"keys", d.signedIn(d.keysPage))
	d.mux.HandleFunc("GET "+Prefix+"keys/new", d.signedIn(d.newKeyPage))
	d.mux.HandleFunc("POST "+Prefix+"keys", d.signedIn(d.createKey))
	d.mux.HandleFunc("GET "+Prefix+"keys/{id}", d.signedIn(d.keyPage))
	d.mux.HandleFunc("POST "+Prefix+"keys/{id}/rotate", d.signedIn(d.rotateKey))
	d.mux.HandleFunc("GET "+Prefix+"keys/{id}/revoke", d.signedIn(d.confirmRevoke))
	d.mux.HandleFunc("POST "+Prefix+"keys/{id}/revoke", d.signedIn(d.revokeKey))
	d.mux.HandleFunc("GET "+Prefix+"tier-requests", d.signedIn(d.tierRequestsPage))
	d.mux.HandleFunc("POST "+Prefix+"tier-requests/{id}", d.signedIn(d.decideTier))
	d.mux.HandleFunc("GET "+Prefix+"audit", d.signedIn(d.auditPage))
	d.mux.HandleFunc("GET "+Prefix+"projects", d.signedIn(d.projectsPage))
	d.mux.HandleFunc("POST "+Prefix+"projects", d.signedIn(d.createProject))
	d.mux.HandleFunc("POST "+Prefix+"projects/{id}/environments", d.signedIn(d.createEnvironment))
	d.mux.HandleFunc("GET "+Prefix+"projects/{id}/members", d.signedIn(d.membersPage))
	d.mux.HandleFunc("POST "+Prefix+"projects/{id}/members", d.signedIn(d.addMember))
	d.mux.HandleFunc("POST "+Prefix+"projects/{id}/members/{member}", d.signedIn(d.changeMember))
	d.mux.HandleFunc("GET "+Prefix+"keys/{id}/edit", d.signedIn(d.editKeyPage))
	d.mux.HandleFunc("POST "+Prefix+"keys/{id}/edit", d.signedIn(d.editKey))
	d.mux.HandleFunc("GET "+Prefix+"webhooks", d.signedIn(d.webhooksPage))
	d.mux.HandleFunc("POST "+Prefix+"webhooks", d.signedIn(d.createWebhook))
	d.mux.HandleFunc("POST "+Prefix+"webhooks/{id}/rotate-secret", d.signedIn(d.rotateWebhookSecret))
	d.mux.HandleFunc("POST "+Prefix+"webhooks/{id}/enabled", d.signedIn(d.toggleWebhook))
	d.mux.HandleFunc("POST "+Prefix+"webhooks/{id}/delete", d.signedIn(d.deleteWebhook))
	d.mux.HandleFunc("GET "+Prefix+"webhooks/{id}/deliveries", d.signedIn(d.deliveriesPage))
	d.mux.HandleFunc("POST "+Prefix+"webhooks/deliveries/{msg}/resend", d.signedIn(d.resendDelivery))
	d.mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		d.render(w, r, http.StatusNotFound, "error", page{Title: "Not found", Error: "There is no such page."})
	})
}

// Redirect answers GET / with the dashboard, for servers that put it at the root.
func Redirect(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// csrfToken is the form token of a session: an HMAC of a fixed label under the session's own
// token, so that it needs no storage, differs per session, and cannot be computed from
// anything a page shows.
func csrfToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte("keyward dashboard form"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// now is the service's clock.
func (d *Dashboard) now() time.Time { return d.svc.Now() }
