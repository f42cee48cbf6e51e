package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/keyward/keyward/internal/browsertest"
	"github.com/keyward/keyward/internal/oidctest"
)

// screenshotDir is where the dashboard test writes its screenshots: docs/screenshots when
// KEYWARD_SCREENSHOTS=1 (the one command that refreshes them is in docs/dashboard.md), else a
// temporary directory, so that a test run leaves the repository as it was.
func screenshotDir(t *testing.T) string {
	if os.Getenv("KEYWARD_SCREENSHOTS") == "1" {
		dir, err := filepath.Abs(filepath.Join("..", "..", "docs", "screenshots"))
		if err != nil {
			t.Fatal(err)
		}
		return dir
	}
	return t.TempDir()
}

// shoot writes the page at phone and desktop width, light and dark, and checks it with axe:
// no serious or critical accessibility violation.
func shoot(t *testing.T, tab *browsertest.Tab, dir, name string) {
	t.Helper()
	for _, w := range []struct {
		label string
		px    int
	}{{"phone", 390}, {"desktop", 1280}} {
		for _, dark := range []bool{false, true} {
			scheme := "light"
			if dark {
				scheme = "dark"
			}
			tab.Screenshot(filepath.Join(dir, name+"-"+w.label+"-"+scheme+".png"), w.px, dark)
		}
	}
	if v := browsertest.SeriousViolations(tab.Axe(t)); len(v) > 0 {
		t.Errorf("page %s: %d serious accessibility violations: %v", name, len(v), v)
	}
}

// TestDashboardInBrowser drives the dashboard with real Chromium against a real server: sign
// in with the admin key, create a key and read its secret from the reveal panel, check it
// verifies through the API, find the secret gone on reload, rotate with a grace and see both
// secrets verify, revoke and see it refused, sign out and find the session dead.
func TestDashboardInBrowser(t *testing.T) {
	p := startServer(t, filepath.Join(t.TempDir(), "data"))
	admin := adminKeyPattern.FindString(p.stderr.String())
	b := browsertest.New(t)
	tab := b.Tab(t)
	shots := screenshotDir(t)

	tab.Navigate(p.url + "/")
	if loc := tab.Location(); !strings.HasSuffix(loc, "/ui/sign-in") {
		t.Fatalf("/ without a session leads to %s, want the sign-in page", loc)
	}
	shoot(t, tab, shots, "sign-in")
	tab.SetValue("#admin_key", "kwadmin_wrong")
	tab.Submit("#admin_key")
	tab.WaitVisible(".alert")
	if txt := tab.Text(".alert"); !strings.Contains(txt, "not valid") {
		t.Errorf("a wrong admin key says %q", txt)
	}
	// By keyboard alone: type the key and press Enter.
	tab.SendKeys("#admin_key", admin+"\r")
	tab.WaitVisible(".empty")
	if loc := tab.Location(); !strings.HasSuffix(loc, "/ui/keys") {
		t.Fatalf("after sign-in: %s", loc)
	}
	for _, c := range tab.Cookies() {
		if c.Name == "keyward_session" && (!c.HTTPOnly || c.SameSite != "Strict") {
			t.Errorf("the session cookie is not HttpOnly and SameSite=Strict: %+v", c)
		}
	}
	shoot(t, tab, shots, "keys-empty")

	tab.Click(".empty a.primary")
	tab.WaitVisible("#name")
	shoot(t, tab, shots, "key-new")
	tab.SetValue("#name", "checkout service")
	tab.SetValue("#scopes", "orders:read orders:write")
	tab.Submit("#name")
	tab.WaitVisible("#secret")
	var secret string
	tab.Eval(`document.getElementById("secret").value`, &secret)
	if !strings.HasPrefix(secret, "kw_") {
		t.Fatalf("the reveal panel shows %q", secret)
	}
	shoot(t, tab, shots, "key-reveal")
	if code := p.verifyCode(secret); code != "VALID" {
		t.Fatalf("the secret from the panel verifies %s", code)
	}
	tab.Click("#stored")
	tab.Click(".confirm button")
	tab.WaitVisible(".fields")
	keyURL := tab.Location()
	var html string
	tab.Eval(`document.documentElement.outerHTML`, &html)
	if strings.Contains(html, secret) {
		t.Fatal("the key's page holds its secret")
	}
	tab.Navigate(keyURL) // a reload: the secret is not to be had again
	tab.Eval(`document.documentElement.outerHTML`, &html)
	if strings.Contains(html, secret) || strings.Contains(keyURL, secret) {
		t.Fatal("the secret is still on the page, or in its URL, after a reload")
	}
	shoot(t, tab, shots, "key")

	tab.SetValue("#grace_seconds", "3600")
	tab.Submit("#grace_seconds")
	tab.WaitVisible("#secret")
	var rotated string
	tab.Eval(`document.getElementById("secret").value`, &rotated)
	if rotated == secret || p.verifyCode(rotated) != "VALID" || p.verifyCode(secret) != "VALID" {
		t.Fatalf("after a rotation with an hour's grace: new %s, old %s", p.verifyCode(rotated), p.verifyCode(secret))
	}
	tab.Click("#stored")
	tab.Click(".confirm button")
	tab.WaitVisible(".fields")
	tab.Click("a.danger")
	tab.WaitVisible("button.danger")
	shoot(t, tab, shots, "revoke")
	tab.Click("button.danger")
	tab.WaitVisible(".status.revoked")
	if code := p.verifyCode(rotated); code != "REVOKED" {
		t.Errorf("the revoked key verifies %s", code)
	}
	tab.Navigate(p.url + "/ui/keys")
	tab.WaitVisible("table")
	shoot(t, tab, shots, "keys")
	tab.Navigate(p.url + "/ui/audit")
	tab.WaitVisible("table")
	if txt := tab.Text("table"); !strings.Contains(txt, "revoke-api-key") || !strings.Contains(txt, "dashboard-sign-in") {
		t.Errorf("the audit log page lacks the dashboard's own actions:\n%s", txt)
	}
	shoot(t, tab, shots, "audit")
	tab.Navigate(p.url + "/ui/tier-requests")
	tab.WaitVisible(".empty")
	shoot(t, tab, shots, "tier-requests-empty")

	// Edit the surviving key: a bad metadata object is refused beside its field, a good one saved.
	keyPage := strings.TrimSuffix(keyURL, "?")
	tab.Navigate(keyPage + "/edit")
	tab.WaitVisible("#metadata")
	tab.SetValue("#name", "checkout service (eu)")
	tab.SetValue("#metadata", "not json")
	tab.Submit("#name")
	tab.WaitVisible("#metadata-error")
	shoot(t, tab, shots, "key-edit")
	tab.SetValue("#metadata", `{"customer": "acme"}`)
	tab.Submit("#name")
	tab.WaitVisible(".fields")
	if txt := tab.Text(".fields"); !strings.Contains(txt, `"customer":"acme"`) {
		t.Errorf("after the edit the key shows:\n%s", txt)
	}
	tab.Navigate(keyPage + "?usage=30d")
	tab.WaitVisible("svg.chart")
	if txt := tab.Text("ol.history"); !strings.Contains(txt, "this key") || !strings.Contains(txt, "replaced") {
		t.Errorf("the rotated key's lineage reads:\n%s", txt)
	}

	// A project, an environment of it, and a member.
	p.mustCall(http.StatusCreated, admin, "POST", "/v1/users", map[string]any{"email": "ada@example.com", "name": "Ada"})
	tab.Navigate(p.url + "/ui/projects")
	tab.WaitVisible("#name")
	tab.SetValue("#name", "shop")
	tab.SetValue("#key_prefix", "sk_live")
	tab.Submit("#name")
	tab.WaitVisible("table")
	tab.SetValue("input[name=name][placeholder='new environment']", "production")
	tab.Submit("input[placeholder='new environment']")
	tab.WaitVisible("table")
	if txt := tab.Text("table"); !strings.Contains(txt, "production") || !strings.Contains(txt, "sk_live_") {
		t.Errorf("the projects page shows:\n%s", txt)
	}
	shoot(t, tab, shots, "projects")
	tab.Click("a.button[href$='/members']")
	tab.WaitVisible("#user_id")
	tab.Submit("#user_id")
	tab.WaitVisible("table")
	if txt := tab.Text("table"); !strings.Contains(txt, "ada@example.com") {
		t.Errorf("the members page shows:\n%s", txt)
	}
	shoot(t, tab, shots, "members")
	tab.Click("button[name=remove]")
	tab.WaitVisible(".empty")

	// A key in that project's environment, with credits.
	tab.Navigate(p.url + "/ui/keys/new")
	tab.WaitVisible("#name")
	tab.SetValue("#name", "shop production")
	var projectID, envID string
	tab.Eval(`document.querySelector("#project_id option:nth-child(2)").value`, &projectID)
	tab.Eval(`document.querySelector("#environment_id option:nth-child(2)").value`, &envID)
	tab.SetValue("#project_id", projectID)
	tab.SetValue("#environment_id", envID)
	tab.SetValue("#credits", "5")
	tab.Submit("#name")
	tab.WaitVisible("#secret")
	var shopSecret string
	tab.Eval(`document.getElementById("secret").value`, &shopSecret)
	if !strings.HasPrefix(shopSecret, "sk_live_") {
		t.Errorf("a key of the shop project starts %q", shopSecret[:8])
	}
	v := p.mustCall(http.StatusOK, "", "POST", "/v1/keys/verify", map[string]any{"key": shopSecret})
	if v["environment_id"] != envID || v["remaining"] != float64(4) {
		t.Errorf("the key made with an environment and 5 credits verifies as %v", v)
	}

	tab.Navigate(p.url + "/ui/webhooks")
	tab.WaitVisible("#url")
	tab.SetValue("#url", "https://hooks.example.com/keyward")
	tab.Click("input[value='api_key.revoked']")
	tab.Submit("#url")
	tab.WaitVisible("#whsec")
	var whsec string
	tab.Eval(`document.getElementById("whsec").value`, &whsec)
	if !strings.HasPrefix(whsec, "whsec_") {
		t.Fatalf("the webhook's secret panel shows %q", whsec)
	}
	shoot(t, tab, shots, "webhooks")
	eps := p.mustCallList(admin, "GET", "/v1/webhook-endpoints")
	if len(eps) != 1 || eps[0]["url"] != "https://hooks.example.com/keyward" {
		t.Fatalf("endpoints after the form: %v", eps)
	}
	tab.Navigate(p.url + "/ui/webhooks")
	tab.WaitVisible("table")
	var page string
	tab.Eval(`document.documentElement.outerHTML`, &page)
	if strings.Contains(page, whsec) {
		t.Fatal("the webhooks page shows the secret again")
	}
	tab.Click("a.button[href$='/deliveries']")
	tab.WaitVisible(".empty")
	shoot(t, tab, shots, "deliveries")

	var cookie string
	for _, c := range tab.Cookies() {
		if c.Name == "keyward_session" {
			cookie = c.Value
		}
	}
	tab.Click(".signout button")
	tab.WaitVisible("#admin_key")
	if status, loc := getWithCookie(t, p.url+"/ui/keys", cookie); status != http.StatusSeeOther || !strings.HasSuffix(loc, "/ui/sign-in") {
		t.Errorf("the session's cookie replayed after sign-out: %d to %q, want 303 to the sign-in page", status, loc)
	}
}

// signInCookie signs in to the dashboard at base with an admin key, over plain HTTP, and
// returns the session cookie's value.
func signInCookie(t *testing.T, base, adminKey string) string {
	t.Helper()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noRedirect.PostForm(base+"/ui/sign-in", url.Values{"admin_key": {adminKey}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == "keyward_session" {
			return c.Value
		}
	}
	t.Fatalf("sign-in answered %d without a session cookie", res.StatusCode)
	return ""
}

// getWithCookie GETs u with the session cookie, without following redirects.
func getWithCookie(t *testing.T, u, session string) (int, string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	parsed, _ := url.Parse(u)
	jar.SetCookies(parsed, []*http.Cookie{{Name: "keyward_session", Value: session, Path: "/ui/"}})
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Location")
}

// TestDashboardRefuses: a form posted from another origin, or without the session's form
// token, changes nothing; another tenant's key id in a URL is not found.
func TestDashboardRefuses(t *testing.T) {
	p := startServer(t, filepath.Join(t.TempDir(), "data"))
	admin := adminKeyPattern.FindString(p.stderr.String())
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	session := &http.Cookie{Name: "keyward_session", Value: signInCookie(t, p.url, admin)}
	page := func(method, path string, form url.Values, header map[string]string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, p.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		req.AddCookie(session)
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, res.Body)
		return res.StatusCode, b.String()
	}
	// The form token, as the new-key page carries it.
	_, form := page("GET", "/ui/keys/new", nil, nil)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)
	if m == nil {
		t.Fatal("the new-key form has no form token")
	}
	token := m[1]

	create := url.Values{"csrf": {token}, "name": {"from elsewhere"}}
	if status, _ := page("POST", "/ui/keys", create, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); status != http.StatusForbidden {
		t.Errorf("a cross-origin form post: %d, want 403", status)
	}
	if status, _ := page("POST", "/ui/keys", url.Values{"name": {"no token"}}, nil); status != http.StatusForbidden {
		t.Errorf("a form post without the token: %d, want 403", status)
	}
	if keys := p.mustCallList(admin, "GET", "/v1/api-keys"); len(keys) != 0 {
		t.Fatalf("refused posts made %d keys", len(keys))
	}
	if status, _ := page("POST", "/ui/keys", url.Values{"csrf": {token}, "name": {"same origin"}}, map[string]string{"Sec-Fetch-Site": "same-origin"}); status != http.StatusCreated {
		t.Errorf("the same post from the dashboard itself: %d, want 201", status)
	}

	other := p.mustCall(http.StatusCreated, admin, "POST", "/v1/accounts", map[string]any{"name": "other-tenant"})
	otherAdmin := other["admin_key"].(map[string]any)["key"].(string)
	theirs := p.mustCall(http.StatusCreated, otherAdmin, "POST", "/v1/api-keys", map[string]any{"name": "theirs"})
	for _, path := range []string{"/ui/keys/" + theirs["id"].(string), "/ui/keys/" + theirs["id"].(string) + "/revoke"} {
		if status, _ := page("GET", path, nil, nil); status != http.StatusNotFound {
			t.Errorf("another tenant's key at %s: %d, want 404", path, status)
		}
	}
	if status, _ := page("POST", "/ui/keys/"+theirs["id"].(string)+"/revoke", url.Values{"csrf": {token}}, nil); status != http.StatusNotFound {
		t.Errorf("revoking another tenant's key: %d, want 404", status)
	}
}

// TestDashboardOIDCSignIn: a person signs in through the OIDC provider (a local issuer over
// real HTTP, Authorization Code with PKCE), lands on the keys page as the same user the API
// knows by that issuer and subject, and a callback that was not started here is refused.
func TestDashboardOIDCSignIn(t *testing.T) {
	issuer := oidctest.NewIssuer(t)
	issuer.EnableLogin(t, oidctest.Login{
		ClientID: "keyward-dashboard", ClientSecret: "s3cret-" + randomHex(8), Audience: "https://api.example.com",
		User: oidctest.Claims{Subject: "auth0|grace", Email: "grace@example.com", Name: "Grace Hopper"},
	})
	addr := freeAddr(t)
	p := startProcess(t, []string{"--data", filepath.Join(t.TempDir(), "data"),
		"--oidc-issuer", issuer.URL, "--oidc-audience", "https://api.example.com", "--oidc-role", "admin",
		"--oidc-client-id", "keyward-dashboard", "--public-url", "http://" + addr, "--addr", addr},
		[]string{"KEYWARD_OIDC_CLIENT_SECRET=" + issuer.LoginSecret()})
	admin := adminKeyPattern.FindString(p.stderr.String())

	tab := browsertest.New(t).Tab(t)
	tab.Navigate(p.url + "/ui/sign-in")
	tab.Click("#oidc")
	tab.WaitVisible(".empty")
	if loc := tab.Location(); !strings.HasSuffix(loc, "/ui/keys") {
		t.Fatalf("after the provider: %s", loc)
	}
	if who := tab.Text(".who"); !strings.Contains(who, "user") {
		t.Errorf("the header says %q, want a user", who)
	}
	if issuer.Exchanges() != 1 {
		t.Errorf("%d code exchanges, want 1", issuer.Exchanges())
	}
	users := p.mustCallList(admin, "GET", "/v1/users")
	found := false
	for _, u := range users {
		if u["subject"] == "auth0|grace" && u["issuer"] == issuer.URL {
			found = true
		}
	}
	if !found {
		t.Errorf("the API knows no user auth0|grace of the issuer: %v", users)
	}
	// The person can create a key, as the admin role allows.
	tab.Click(".empty a.primary")
	tab.SetValue("#name", "grace's key")
	tab.Submit("#name")
	tab.WaitVisible("#secret")

	// A callback with a state this browser never got is refused, and signs no one in.
	other := browsertest.New(t).Tab(t)
	other.Navigate(p.url + "/ui/callback?code=stolen&state=guessed")
	other.WaitVisible(".alert")
	if txt := other.Text(".alert"); !strings.Contains(txt, "did not complete") {
		t.Errorf("a forged callback says %q", txt)
	}
	for _, c := range other.Cookies() {
		if c.Name == "keyward_session" {
			t.Error("a forged callback made a session")
		}
	}
}

// TestDashboardTierApproval: an approver approves a pending tier request from the dashboard;
// a member, signed in through the OIDC provider, sees it and is refused when deciding it.
func TestDashboardTierApproval(t *testing.T) {
	issuer := oidctest.NewIssuer(t)
	issuer.EnableLogin(t, oidctest.Login{ClientID: "dash", ClientSecret: "s-" + randomHex(8), Audience: "https://api.example.com",
		User: oidctest.Claims{Subject: "auth0|mia", Email: "mia@example.com", Name: "Mia"}})
	addr := freeAddr(t)
	p := startProcess(t, []string{"--data", filepath.Join(t.TempDir(), "data"), "--oidc-issuer", issuer.URL,
		"--oidc-audience", "https://api.example.com", "--oidc-client-id", "dash", "--public-url", "http://" + addr, "--addr", addr},
		[]string{"KEYWARD_OIDC_CLIENT_SECRET=" + issuer.LoginSecret()})
	admin := adminKeyPattern.FindString(p.stderr.String())
	p.mustCall(http.StatusCreated, admin, "POST", "/v1/users", map[string]any{"email": "mia@example.com", "issuer": issuer.URL, "subject": "auth0|mia", "role_id": "member"})
	role := p.mustCall(http.StatusCreated, admin, "POST", "/v1/roles", map[string]any{"name": "Updater", "slug": "updater", "permissions": []string{"api_keys.update", "api_keys.read"}})
	updater := p.mustCall(http.StatusCreated, admin, "POST", "/v1/api-keys", map[string]any{"name": "updater", "role_id": role["id"]})
	target := p.mustCall(http.StatusCreated, admin, "POST", "/v1/api-keys", map[string]any{"name": "wants more"})
	req := p.mustCall(http.StatusCreated, updater["key"].(string), "POST", "/v1/api-keys/"+target["id"].(string)+"/tier-requests", map[string]any{"tier": "high"})
	if req["status"] != "pending" {
		t.Fatalf("tier request: %v", req)
	}

	b := browsertest.New(t)
	member := b.Tab(t)
	member.Navigate(p.url + "/ui/sign-in")
	member.Click("#oidc")
	member.WaitVisible(".who")
	member.Navigate(p.url + "/ui/keys?mine=1")
	if h := member.Text("h1"); h != "My keys" {
		t.Errorf("a member's keys page is titled %q", h)
	}
	member.Navigate(p.url + "/ui/tier-requests")
	member.WaitVisible("table")
	shoot(t, member, t.TempDir(), "tier-requests")
	member.Click("button[value=approve]")
	member.WaitVisible(".alert")
	if txt := member.Text(".alert"); !strings.Contains(txt, "approve_high_tier") {
		t.Errorf("a member approving is told %q", txt)
	}

	approver := b.Tab(t)
	approver.Navigate(p.url + "/ui/sign-in")
	approver.SetValue("#admin_key", admin)
	approver.Submit("#admin_key")
	approver.WaitVisible(".who")
	approver.Navigate(p.url + "/ui/keys")
	approver.WaitVisible("table")
	if txt := approver.Text("table"); !strings.Contains(txt, "tier request pending") {
		t.Errorf("the keys list does not show the pending request:\n%s", txt)
	}
	approver.Navigate(p.url + "/ui/tier-requests")
	approver.WaitVisible("table")
	approver.SetValue("input[name=reason]", "launch week")
	approver.Click("button[value=approve]")
	approver.WaitVisible(".empty")
	got := p.mustCall(http.StatusOK, admin, "GET", "/v1/tier-requests/"+req["id"].(string), nil)
	if got["status"] != "approved" || got["reason"] != "launch week" {
		t.Errorf("after the approver's click: %v", got)
	}
	if k := p.mustCall(http.StatusOK, admin, "GET", "/v1/api-keys/"+target["id"].(string), nil); k["rate_limit_tier"] != "high" {
		t.Errorf("the key's tier is %v", k["rate_limit_tier"])
	}
}

// TestDashboardSessionSurvivesRestart: a session is kept in the store, so a restarted server
// still knows it.
func TestDashboardSessionSurvivesRestart(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	p := startServer(t, data)
	admin := adminKeyPattern.FindString(p.stderr.String())
	cookie := signInCookie(t, p.url, admin)
	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("stopping: %v", err)
	}
	q := startServer(t, data)
	if status, loc := getWithCookie(t, q.url+"/ui/keys", cookie); status != http.StatusOK {
		t.Errorf("after a restart the session's page answers %d (to %q), want 200", status, loc)
	}
}

// TestDashboardSessionAcrossNodes: a session made on one PostgreSQL node works on another,
// and signing out on that one ends it on the first.
func TestDashboardSessionAcrossNodes(t *testing.T) {
	cl := startFlaggedCluster(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	cookie := signInCookie(t, cl.a.url, cl.token)
	if status, _ := getWithCookie(t, cl.b.url+"/ui/keys", cookie); status != http.StatusOK {
		t.Fatalf("node b answers the session made on node a with %d", status)
	}
	// Sign out on node c, with the form token its page carries.
	req, _ := http.NewRequest("GET", cl.c.url+"/ui/keys", nil)
	req.AddCookie(&http.Cookie{Name: "keyward_session", Value: cookie})
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
	if m == nil {
		t.Fatal("node c's page has no form token")
	}
	req, _ = http.NewRequest("POST", cl.c.url+"/ui/sign-out", strings.NewReader(url.Values{"csrf": {string(m[1])}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: "keyward_session", Value: cookie})
	if res, err = noRedirect.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if status, _ := getWithCookie(t, cl.a.url+"/ui/keys", cookie); status != http.StatusSeeOther {
		t.Errorf("after signing out on node c, node a answers the session with %d, want 303 to sign in", status)
	}
}
