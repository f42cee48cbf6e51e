package dashboard

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
)

// page is what every template gets.
type page struct {
	Title string
	// Visit is the signed-in request; nil on the sign-in page.
	Visit *visit
	// Error is shown at the top of the page; Fields are errors beside a form's fields.
	Error  string
	Fields map[string]string
	Data   any
	// OIDC is set when sign-in through the OIDC provider is offered.
	OIDC bool
}

// Principal names who is signed in, for the header.
func (v *visit) Who() string {
	if v.p.Kind == keyward.KindAdminKey {
		return "admin key " + v.p.ID[:8]
	}
	return "user " + v.p.ID[:8]
}

// IsUser reports whether a person signed in through the OIDC provider (rather than with an
// admin key).
func (v *visit) IsUser() bool { return v.p.Kind == keyward.KindUser }

// CSRF is the form token for templates.
func (v *visit) CSRF() string { return v.csrf }

// keysData is the keys page.
type keysData struct {
	Keys     []keyRow
	Projects []*keyward.Project
	Query    keysQuery
	Next     string // the next page's query string; "" on the last page
}

type keysQuery struct {
	Project, Status, Search string
	// Mine lists the keys that act for the signed-in user: seed 000's page.
	Mine bool
}

// keyRow is a key as a table row shows it.
type keyRow struct {
	*keyward.Key
	Status  keyward.Status
	Project string
}

// searchScan bounds how many keys a search reads to fill a page: a search by name or prefix
// filters pages of the listing, and stops after this many keys.
const searchScan = 2000

func (d *Dashboard) keysPage(w http.ResponseWriter, r *http.Request, v *visit) {
	q := keysQuery{Project: r.URL.Query().Get("project"), Status: r.URL.Query().Get("status"), Search: strings.TrimSpace(r.URL.Query().Get("q")),
		Mine: r.URL.Query().Get("mine") == "1" && v.p.UserID != ""}
	userID := ""
	if q.Mine {
		userID = v.p.UserID
	}
	limit := 25
	after := r.URL.Query().Get("after")
	projects, _, err := d.svc.ListProjects(r.Context(), v.p, keyward.Page{Limit: 200})
	if err != nil && keyward.ErrorCode(err) != keyward.EForbidden {
		d.fail(w, r, err)
		return
	}
	names := map[string]string{}
	for _, p := range projects {
		names[p.ID] = p.Name
	}
	now := d.now()
	data := keysData{Projects: projects, Query: q}
	pending := map[string]*keyward.TierRequest{}
	if reqs, _, err := d.svc.TierRequests(r.Context(), v.p, "", keyward.TierRequestPending, keyward.Page{Limit: 200}); err == nil {
		for _, tr := range reqs {
			pending[tr.KeyID] = tr
		}
	}
	scanned := 0
	for len(data.Keys) < limit && scanned < searchScan {
		keys, next, err := d.svc.ListKeys(r.Context(), v.p, keyward.ListKeysInput{
			ProjectID: q.Project, UserID: userID, Status: keyward.Status(q.Status), Page: keyward.Page{After: after, Limit: 100},
		})
		if err != nil {
			d.render(w, r, statusOf(err), "keys", page{Title: "API keys", Visit: v, Error: message(err), Data: data})
			return
		}
		for _, k := range keys {
			scanned++
			after = k.ID
			if q.Search != "" && !matches(k, q.Search) {
				continue
			}
			if tr := pending[k.ID]; tr != nil {
				k.PendingTierRequest = tr
			}
			data.Keys = append(data.Keys, keyRow{Key: k, Status: k.Status(now), Project: names[k.ProjectID]})
			if len(data.Keys) == limit {
				break
			}
		}
		if next == "" {
			after = ""
			break
		}
	}
	if after != "" && len(data.Keys) == limit {
		next := url.Values{"project": {q.Project}, "status": {q.Status}, "q": {q.Search}, "after": {after}}
		if q.Mine {
			next.Set("mine", "1")
		}
		data.Next = next.Encode()
	}
	title := "API keys"
	if q.Mine || !v.p.Can(keyward.PermKeysRead, "") {
		// Keys that act for the signed-in user (seed 000's page), or all a caller who manages
		// only their own keys may see.
		title = "My keys"
	}
	d.render(w, r, http.StatusOK, "keys", page{Title: title, Visit: v, Data: data})
}

// matches reports whether a key's name or prefix contains s, ignoring case.
func matches(k *keyward.Key, s string) bool {
	s = strings.ToLower(s)
	return strings.Contains(strings.ToLower(k.Name), s) || strings.Contains(strings.ToLower(k.Prefix), s)
}

// newKeyData is the create form, with what was typed when it comes back with errors.
type newKeyData struct {
	Projects     []*keyward.Project
	Environments []envChoice
	Form         url.Values
}

// envChoice is an environment offered by the create form, named with its project.
type envChoice struct {
	ID, Label string
}

// newKeyForm is the create form's data: the projects and every environment of them.
func (d *Dashboard) newKeyForm(r *http.Request, v *visit, form url.Values) newKeyData {
	projects, _, _ := d.svc.ListProjects(r.Context(), v.p, keyward.Page{Limit: 200})
	data := newKeyData{Projects: projects, Form: form}
	for _, p := range projects {
		envs, _, _ := d.svc.ListEnvironments(r.Context(), v.p, p.ID, keyward.Page{Limit: 100})
		for _, e := range envs {
			data.Environments = append(data.Environments, envChoice{ID: e.ID, Label: p.Name + " / " + e.Name})
		}
	}
	return data
}

func (d *Dashboard) newKeyPage(w http.ResponseWriter, r *http.Request, v *visit) {
	d.render(w, r, http.StatusOK, "key_new", page{Title: "New API key", Visit: v, Data: d.newKeyForm(r, v, url.Values{})})
}

// revealData is the one page that shows a secret.
type revealData struct {
	Key     *keyward.Key
	Secret  string
	Rotated *keyward.Key // the key a rotation replaced
}

func (d *Dashboard) createKey(w http.ResponseWriter, r *http.Request, v *visit) {
	in := keyward.CreateKeyInput{
		ProjectID: r.PostFormValue("project_id"), Name: strings.TrimSpace(r.PostFormValue("name")),
		Scopes: fieldsOf(r.PostFormValue("scopes")), AllowedIPs: fieldsOf(r.PostFormValue("allowed_ips")),
		RateLimitTier: r.PostFormValue("tier"), EnvironmentID: r.PostFormValue("environment_id"),
	}
	fields := map[string]string{}
	if s := r.PostFormValue("credits"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			fields["credits"] = "A whole number of verifications, or empty for uncounted use."
		} else {
			in.Credits = &keyward.Credits{Remaining: n}
		}
	}
	if s := r.PostFormValue("expires_in_days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 3650 {
			fields["expires_in_days"] = "A whole number of days, 1 to 3650, or empty for a key that never expires."
		} else {
			t := d.now().Add(time.Duration(n) * 24 * time.Hour)
			in.ExpiresAt = &t
		}
	}
	if s := r.PostFormValue("rotation_days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fields["rotation_days"] = "A whole number of days, or empty for no schedule."
		}
		in.RotationIntervalDays = n
	}
	in.RotationWebhookURL = strings.TrimSpace(r.PostFormValue("rotation_webhook_url"))
	if len(fields) == 0 {
		k, secret, err := d.svc.CreateKey(r.Context(), v.p, in)
		if err == nil {
			d.render(w, r, http.StatusCreated, "reveal", page{Title: "Key created", Visit: v, Data: revealData{Key: k, Secret: secret}})
			return
		}
		if !formError(err, fields) {
			d.fail(w, r, err)
			return
		}
	}
	d.render(w, r, http.StatusUnprocessableEntity, "key_new", page{Title: "New API key", Visit: v, Fields: fields,
		Error: "The key was not created: see below.", Data: d.newKeyForm(r, v, r.PostForm)})
}

// formError puts a validation error from the service beside the field it names, and reports
// whether it was one a person can fix in the form.
func formError(err error, fields map[string]string) bool {
	switch keyward.ErrorCode(err) {
	case keyward.EValidation, keyward.EInvalid, keyward.EForbidden, keyward.ENotFound, keyward.EConflict:
	default:
		return false
	}
	msg := message(err)
	for _, f := range []string{"name", "scopes", "allowed_ips", "rotation_webhook_url", "rotation_interval_days", "expires_at", "environment", "credits", "project", "tier"} {
		if strings.Contains(msg, f) {
			key := f
			switch f {
			case "rotation_interval_days":
				key = "rotation_days"
			case "expires_at":
				key = "expires_in_days"
			case "project":
				key = "project_id"
			case "environment":
				key = "environment_id"
			}
			fields[key] = msg
			return true
		}
	}
	fields["_"] = msg
	return true
}

// fieldsOf splits a list typed with commas, spaces or new lines.
func fieldsOf(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// keyData is the key page.
type keyData struct {
	Key     *keyward.Key
	Status  keyward.Status
	Project string
	Usage   template.HTML
	Month   bool // the usage chart shows 30 days
	Audit   []*keyward.AuditEvent
	// Lineage is the key's rotation chain, oldest first, when it has been rotated.
	Lineage []*keyward.Key
}

func (d *Dashboard) keyPage(w http.ResponseWriter, r *http.Request, v *visit) {
	k, err := d.svc.Key(r.Context(), v.p, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	month := r.URL.Query().Get("usage") == "30d"
	data := keyData{Key: k, Status: k.Status(d.now()), Usage: d.usageChart(r, v, k, month), Month: month, Audit: d.keyAudit(r, v, k),
		Lineage: d.lineage(r, v, k)}
	if k.ProjectID != "" {
		if p, err := d.svc.Project(r.Context(), v.p, k.ProjectID); err == nil {
			data.Project = p.Name
		}
	}
	d.render(w, r, http.StatusOK, "key", page{Title: k.Name, Visit: v, Data: data})
}

// graces are the grace periods the rotate form offers.
var graces = map[string]time.Duration{"0": 0, "3600": time.Hour, "86400": 24 * time.Hour, "604800": 7 * 24 * time.Hour}

func (d *Dashboard) rotateKey(w http.ResponseWriter, r *http.Request, v *visit) {
	grace, ok := graces[r.PostFormValue("grace_seconds")]
	if !ok {
		d.render(w, r, http.StatusUnprocessableEntity, "error", page{Title: "Refused", Visit: v, Error: "Choose one of the grace periods offered."})
		return
	}
	rot, err := d.svc.RotateKey(r.Context(), v.p, r.PathValue("id"), keyward.RotateKeyInput{GracePeriod: grace})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	d.render(w, r, http.StatusCreated, "reveal", page{Title: "Key rotated", Visit: v, Data: revealData{Key: rot.New, Secret: rot.Secret, Rotated: rot.Old}})
}

func (d *Dashboard) confirmRevoke(w http.ResponseWriter, r *http.Request, v *visit) {
	k, err := d.svc.Key(r.Context(), v.p, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	d.render(w, r, http.StatusOK, "revoke", page{Title: "Revoke " + k.Name, Visit: v, Data: keyData{Key: k, Status: k.Status(d.now())}})
}

func (d *Dashboard) revokeKey(w http.ResponseWriter, r *http.Request, v *visit) {
	k, err := d.svc.RevokeKey(r.Context(), v.p, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"keys/"+url.PathEscape(k.ID), http.StatusSeeOther)
}

// fail answers an error of the service: another tenant's object is "not found" like a
// missing one, a refusal says which permission is missing, and anything else is logged and
// answered without detail.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, err error) {
	v, _ := r.Context().Value(visitKey{}).(*visit)
	status := statusOf(err)
	msg := message(err)
	if status >= 500 {
		d.log.Error("dashboard: request failed", "path", r.URL.Path, "err", err)
		msg = "Something went wrong on Keyward's side; try again."
	}
	d.render(w, r, status, "error", page{Title: http.StatusText(status), Visit: v, Error: msg})
}

// statusOf is the API's status for a domain error (httpwire's one table), except that a
// malformed id in a page's URL is a page not found.
func statusOf(err error) int {
	if keyward.ErrorCode(err) == keyward.EInvalid {
		return http.StatusNotFound
	}
	return httpwire.StatusOf(keyward.ErrorCode(err))
}

func message(err error) string {
	if e, ok := errors.AsType[*keyward.Error](err); ok {
		return e.Message
	}
	return fmt.Sprint(err)
}

// editData is the edit form of a key.
type editData struct {
	Key  *keyward.Key
	Form url.Values
}

func (d *Dashboard) editKeyPage(w http.ResponseWriter, r *http.Request, v *visit) {
	k, err := d.svc.Key(r.Context(), v.p, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	form := url.Values{"name": {k.Name}, "scopes": {strings.Join(k.Scopes, " ")}}
	if k.ExpiresAt != nil {
		form.Set("expires_on", k.ExpiresAt.UTC().Format("2006-01-02"))
	}
	if k.Metadata != nil {
		b, _ := json.MarshalIndent(k.Metadata, "", "  ")
		form.Set("metadata", string(b))
	}
	d.render(w, r, http.StatusOK, "key_edit", page{Title: "Edit " + k.Name, Visit: v, Data: editData{Key: k, Form: form}})
}

// editKey changes a key's name, scopes, expiry and metadata, as PATCH /v1/api-keys/{id} does.
func (d *Dashboard) editKey(w http.ResponseWriter, r *http.Request, v *visit) {
	k, err := d.svc.Key(r.Context(), v.p, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	fields := map[string]string{}
	name := strings.TrimSpace(r.PostFormValue("name"))
	scopes := fieldsOf(r.PostFormValue("scopes"))
	in := keyward.UpdateKeyInput{Name: &name, Scopes: &scopes}
	switch e := strings.TrimSpace(r.PostFormValue("expires_on")); e {
	case "":
		in.ClearExpiresAt = k.ExpiresAt != nil
	default:
		t, err := time.Parse("2006-01-02", e)
		if err != nil {
			fields["expires_on"] = "A date as 2027-06-01, or empty for a key that never expires."
		} else {
			in.ExpiresAt = &t
		}
	}
	switch m := strings.TrimSpace(r.PostFormValue("metadata")); m {
	case "":
		in.ClearMetadata = k.Metadata != nil
	default:
		if err := json.Unmarshal([]byte(m), &in.Metadata); err != nil || in.Metadata == nil {
			fields["metadata"] = "A JSON object, as {\"customer\": \"acme\"}, or empty for none."
		}
	}
	if len(fields) == 0 {
		_, err := d.svc.UpdateKey(r.Context(), v.p, k.ID, in)
		if err == nil {
			http.Redirect(w, r, Prefix+"keys/"+url.PathEscape(k.ID), http.StatusSeeOther)
			return
		}
		if !formError(err, fields) {
			d.fail(w, r, err)
			return
		}
		if msg, ok := fields["expires_in_days"]; ok {
			fields["expires_on"] = msg
		}
	}
	d.render(w, r, http.StatusUnprocessableEntity, "key_edit", page{Title: "Edit " + k.Name, Visit: v, Fields: fields,
		Error: "The key was not changed: see below.", Data: editData{Key: k, Form: r.PostForm}})
}

// lineageScan bounds the keys read to find a key's rotation chain.
const lineageScan = 2000

// lineage is k's rotation chain, oldest first: the keys of its account (and project) that
// share its lineage, found in at most lineageScan keys. A key never rotated has none.
func (d *Dashboard) lineage(r *http.Request, v *visit, k *keyward.Key) []*keyward.Key {
	if k.LineageID == k.ID && k.ReplacedByKeyID == "" {
		return nil
	}
	var chain []*keyward.Key
	after := ""
	for scanned := 0; scanned < lineageScan; {
		keys, next, err := d.svc.ListKeys(r.Context(), v.p, keyward.ListKeysInput{ProjectID: k.ProjectID, AccountOnly: k.ProjectID == "", Page: keyward.Page{After: after, Limit: 200}})
		if err != nil {
			return nil
		}
		for _, c := range keys {
			if c.LineageID == k.LineageID {
				chain = append(chain, c)
			}
		}
		scanned += len(keys)
		if next == "" || len(keys) == 0 {
			break
		}
		after = keys[len(keys)-1].ID
	}
	return chain
}
