package dashboard

import (
	"context"
	"crypto/subtle"
	"net/http"

	"github.com/keyward/keyward/internal/keyward"
)

// visit is a signed-in request: its session, who it acts as, and the form token.
type visit struct {
	session *keyward.Session
	p       keyward.Principal
	csrf    string
}

type visitKey struct{}

// signedIn runs h for a request with a live session, and sends anyone else to sign in. A
// POST must carry the session's form token.
func (d *Dashboard) signedIn(h func(w http.ResponseWriter, r *http.Request, v *visit)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		if err != nil {
			http.Redirect(w, r, Prefix+"sign-in", http.StatusSeeOther)
			return
		}
		ctx := d.requestContext(r)
		sess, p, err := d.svc.SessionPrincipal(ctx, c.Value)
		if err != nil {
			if keyward.ErrorCode(err) != keyward.EUnauthenticated {
				d.log.Error("dashboard: reading a session failed", "err", err)
				d.render(w, r, http.StatusServiceUnavailable, "error", page{Title: "Unavailable", Error: "Keyward could not read your session; try again."})
				return
			}
			d.clearCookie(w)
			http.Redirect(w, r, Prefix+"sign-in", http.StatusSeeOther)
			return
		}
		v := &visit{session: sess, p: p, csrf: csrfToken(c.Value)}
		if r.Method == http.MethodPost {
			if err := r.ParseForm(); err != nil || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(v.csrf)) != 1 {
				d.render(w, r, http.StatusForbidden, "error", page{Title: "Refused", Error: "This form is stale or did not come from this page. Go back, reload and try again."})
				return
			}
		}
		h(w, r.WithContext(context.WithValue(ctx, visitKey{}, v)), v)
	}
}

// requestContext is the request's context with what the audit log records of it: the
// client's address, behind trusted proxies as the API reads it.
func (d *Dashboard) requestContext(r *http.Request) context.Context {
	addr := ""
	if ip := d.proxies.ClientIP(r); ip.IsValid() {
		addr = ip.String()
	}
	return keyward.WithRequestInfo(r.Context(), keyward.RequestInfo{RemoteAddr: addr})
}

func (d *Dashboard) setCookie(w http.ResponseWriter, token string, sess *keyward.Session) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: token, Path: Prefix, Expires: sess.ExpiresAt,
		HttpOnly: true, Secure: d.secure, SameSite: http.SameSiteStrictMode,
	})
}

func (d *Dashboard) clearCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1,
		HttpOnly: true, Secure: d.secure, SameSite: http.SameSiteStrictMode})
}

func (d *Dashboard) signInPage(w http.ResponseWriter, r *http.Request) {
	d.render(w, r, http.StatusOK, "signin", page{Title: "Sign in"})
}

// signIn takes an admin key, pasted into the form: it is checked, and only the session's
// token goes back to the browser.
func (d *Dashboard) signIn(w http.ResponseWriter, r *http.Request) {
	ctx := d.requestContext(r)
	p, err := d.svc.AuthenticateAdmin(ctx, r.PostFormValue("admin_key"))
	if err != nil {
		status, msg := http.StatusUnauthorized, "That admin key is not valid: it is mistyped, revoked or of another Keyward."
		if keyward.ErrorCode(err) != keyward.EUnauthenticated {
			status, msg = http.StatusServiceUnavailable, "Keyward could not check the key; try again."
			d.log.Error("dashboard: sign-in failed", "err", err)
		}
		d.render(w, r, status, "signin", page{Title: "Sign in", Error: msg})
		return
	}
	sess, token, err := d.svc.StartSession(ctx, p)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	d.setCookie(w, token, sess)
	http.Redirect(w, r, Prefix+"keys", http.StatusSeeOther)
}

func (d *Dashboard) signOut(w http.ResponseWriter, r *http.Request, v *visit) {
	if err := d.svc.EndSession(r.Context(), v.session, v.p); err != nil {
		d.fail(w, r, err)
		return
	}
	d.clearCookie(w)
	http.Redirect(w, r, Prefix+"sign-in", http.StatusSeeOther)
}
