package dashboard

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyward/keyward/internal/keyward"
)

// OIDC signs people in through the configured OpenID Connect provider, with the
// Authorization Code flow and PKCE run by the server: the browser only carries the code.
type OIDC struct {
	Issuer, ClientID, ClientSecret string
	// RedirectURL is Keyward's callback, PUBLIC_URL/ui/callback, registered with the provider.
	RedirectURL string
	// Authenticate turns the provider's access token into the principal the API would see
	// for it (authn's OIDC path), so that the person is the same user the API knows.
	Authenticate func(ctx context.Context, accessToken string) (keyward.Principal, error)
	// HTTPClient reaches the provider; nil means one with a 10 s timeout.
	HTTPClient *http.Client

	once     sync.Mutex
	provider *oidc.Provider
}

// oidcCookie carries the sign-in's state, nonce and PKCE verifier from the redirect to the
// callback, sealed under the server secret (so it is neither readable nor forgeable, and any
// node can take the callback), for ten minutes.
const (
	oidcCookie  = "keyward_oidc"
	oidcPending = 10 * time.Minute
	sealPurpose = "dashboard oidc sign-in"
)

type pendingLogin struct {
	State, Nonce, Verifier string
	Until                  time.Time
}

func (o *OIDC) config(ctx context.Context) (*oidc.Provider, *oauth2.Config, error) {
	o.once.Lock()
	defer o.once.Unlock()
	if o.provider == nil {
		client := o.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), o.Issuer)
		if err != nil {
			return nil, nil, fmt.Errorf("discovering the OIDC provider: %w", err)
		}
		o.provider = p
	}
	return o.provider, &oauth2.Config{
		ClientID: o.ClientID, ClientSecret: o.ClientSecret, RedirectURL: o.RedirectURL,
		Endpoint: o.provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "email"},
	}, nil
}

// startOIDC sends the browser to the provider.
func (d *Dashboard) startOIDC(w http.ResponseWriter, r *http.Request) {
	_, cfg, err := d.oidc.config(r.Context())
	if err != nil {
		d.log.Error("dashboard: OIDC sign-in", "err", err)
		d.render(w, r, http.StatusServiceUnavailable, "signin", page{Title: "Sign in", Error: "The identity provider cannot be reached; try again, or sign in with an admin key."})
		return
	}
	pl := pendingLogin{State: keyward.NewSessionToken(), Nonce: keyward.NewSessionToken(), Verifier: oauth2.GenerateVerifier(), Until: d.now().Add(oidcPending)}
	plain, _ := json.Marshal(pl)
	sealed, err := d.svc.Seal(sealPurpose, string(plain))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: base64.RawURLEncoding.EncodeToString(sealed), Path: Prefix,
		MaxAge: int(oidcPending / time.Second), HttpOnly: true, Secure: d.secure,
		// Lax: the provider's redirect back is a top-level navigation from another site.
		SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, cfg.AuthCodeURL(pl.State, oidc.Nonce(pl.Nonce), oauth2.S256ChallengeOption(pl.Verifier)), http.StatusFound)
}

// callback finishes the sign-in: state checked against the sealed cookie, the code exchanged
// with the PKCE verifier, the ID token's signature, audience and nonce checked, and the
// access token signed in as the API would.
func (d *Dashboard) callback(w http.ResponseWriter, r *http.Request) {
	refuse := func(why string) {
		d.render(w, r, http.StatusBadRequest, "signin", page{Title: "Sign in", Error: "The sign-in did not complete: " + why + ". Try again."})
	}
	if e := r.URL.Query().Get("error"); e != "" {
		refuse("the identity provider answered " + e)
		return
	}
	pl, ok := d.pendingLogin(r)
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: d.secure, SameSite: http.SameSiteLaxMode})
	if !ok || subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("state")), []byte(pl.State)) != 1 {
		refuse("it was not started here, or it took too long")
		return
	}
	provider, cfg, err := d.oidc.config(r.Context())
	if err != nil {
		refuse("the identity provider cannot be reached")
		return
	}
	tok, err := cfg.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(pl.Verifier))
	if err != nil {
		d.log.Warn("dashboard: OIDC code exchange failed", "err", err)
		refuse("the identity provider refused the code")
		return
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: d.oidc.ClientID}).Verify(r.Context(), rawID)
	if err != nil || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pl.Nonce)) != 1 {
		d.log.Warn("dashboard: OIDC ID token refused", "err", err)
		refuse("the identity provider's answer did not check out")
		return
	}
	ctx := d.requestContext(r)
	p, err := d.oidc.Authenticate(ctx, tok.AccessToken)
	if err != nil {
		d.render(w, r, statusOf(err), "signin", page{Title: "Sign in", Error: message(err)})
		return
	}
	// The ID token says who signed in; the access token is what the API knows them by. They
	// must name the same person.
	if p.Kind != keyward.KindUser {
		refuse("the provider's token is not a person's")
		return
	}
	if u, err := d.svc.User(ctx, p, p.ID); err != nil || u.Subject != idt.Subject || u.Issuer != idt.Issuer {
		refuse("the provider's tokens name different people")
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

func (d *Dashboard) pendingLogin(r *http.Request) (pendingLogin, bool) {
	var pl pendingLogin
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		return pl, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return pl, false
	}
	plain, err := d.svc.Unseal(sealPurpose, sealed)
	if err != nil || json.Unmarshal([]byte(plain), &pl) != nil || !d.now().Before(pl.Until) {
		return pl, false
	}
	return pl, true
}
