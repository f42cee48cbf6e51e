package dashboard

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// tierRequestsData is the tier requests page.
type tierRequestsData struct {
	Requests  []*keyward.TierRequest
	Status    string
	CanDecide bool
}

func (d *Dashboard) tierRequestsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	status := r.URL.Query().Get("status")
	if status == "" {
		status = string(keyward.TierRequestPending)
	}
	if status == "all" {
		status = ""
	}
	reqs, _, err := d.svc.TierRequests(r.Context(), v.p, "", keyward.TierRequestStatus(status), keyward.Page{Limit: 100})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	data := tierRequestsData{Requests: reqs, Status: status, CanDecide: v.p.Can(keyward.PermApproveHigh, "")}
	d.render(w, r, http.StatusOK, "tiers", page{Title: "Tier requests", Visit: v, Data: data})
}

// decideTier approves or rejects a request; a member who may not is told so by the domain's
// refusal, as the API would tell them.
func (d *Dashboard) decideTier(w http.ResponseWriter, r *http.Request, v *visit) {
	approve := r.PostFormValue("decision") == "approve"
	if _, err := d.svc.DecideTierRequest(r.Context(), v.p, r.PathValue("id"), approve, strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
		d.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"tier-requests", http.StatusSeeOther)
}

// auditData is the audit log page.
type auditData struct {
	Events []*keyward.AuditEvent
	Query  url.Values
	Next   string
}

func (d *Dashboard) auditPage(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	in := keyward.AuditQuery{Action: q.Get("action"), ActorID: q.Get("actor"), TargetID: q.Get("target"), Outcome: q.Get("outcome"),
		Page: keyward.Page{After: q.Get("after"), Limit: 50}}
	events, next, err := d.svc.ListAuditEvents(r.Context(), v.p, in)
	if err != nil {
		d.render(w, r, statusOf(err), "audit", page{Title: "Audit log", Visit: v, Error: message(err), Data: auditData{Query: q}})
		return
	}
	data := auditData{Events: events, Query: q}
	if next != "" {
		nq := url.Values{"action": {in.Action}, "actor": {in.ActorID}, "target": {in.TargetID}, "outcome": {in.Outcome}, "after": {next}}
		data.Next = nq.Encode()
	}
	d.render(w, r, http.StatusOK, "audit", page{Title: "Audit log", Visit: v, Data: data})
}

// usageChart draws a key's verifications, valid against refused, over the last 24 hours by
// hour or the last 30 days by day, as an SVG drawn here: no chart library, no script.
func (d *Dashboard) usageChart(r *http.Request, v *visit, k *keyward.Key, month bool) template.HTML {
	step, n, label := time.Hour, 24, "15:04 UTC"
	if month {
		step, n, label = 24*time.Hour, 30, "Jan 2"
	}
	to := d.now().Truncate(step).Add(step)
	from := to.Add(-time.Duration(n) * step)
	buckets, err := d.svc.Usage(r.Context(), v.p, keyward.UsageInput{KeyID: k.ID, From: from, To: to, Granularity: step})
	if err != nil {
		return ""
	}
	valid, refused := make([]int64, n), make([]int64, n)
	var peak int64 = 1
	for _, b := range buckets {
		i := int(b.Start.Sub(from) / step)
		if i < 0 || i >= n {
			continue
		}
		if b.Outcome == keyward.VerifyValid {
			valid[i] += b.Count
		} else {
			refused[i] += b.Count
		}
		peak = max(peak, valid[i]+refused[i])
	}
	var total, bad int64
	var svg strings.Builder
	const w, h = 480, 120
	bar := w / n
	fmt.Fprintf(&svg, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-labelledby="usage-title">`, w, h+20)
	for i := range n {
		total += valid[i] + refused[i]
		bad += refused[i]
		vh := int(valid[i] * h / peak)
		rh := int(refused[i] * h / peak)
		fmt.Fprintf(&svg, `<rect class="valid" x="%d" y="%d" width="%d" height="%d"></rect>`, i*bar+1, h-vh, bar-2, vh)
		fmt.Fprintf(&svg, `<rect class="refused" x="%d" y="%d" width="%d" height="%d"></rect>`, i*bar+1, h-vh-rh, bar-2, rh)
	}
	if total == 0 {
		fmt.Fprintf(&svg, `<text x="%d" y="%d" text-anchor="middle">no verifications in this time</text>`, w/2, h/2)
	}
	fmt.Fprintf(&svg, `<text x="0" y="%d">%s</text><text x="%d" y="%d" text-anchor="end">now</text>`, h+16, from.Format(label), w, h+16)
	fmt.Fprintf(&svg, `<title id="usage-title">%d verifications, of which %d refused</title></svg>`, total, bad)
	// Every value written above is a number or a fixed string: nothing to escape.
	return template.HTML(svg.String())
}

// keyAudit is the key's audit trail: the last changes made to it.
func (d *Dashboard) keyAudit(r *http.Request, v *visit, k *keyward.Key) []*keyward.AuditEvent {
	events, _, err := d.svc.ListAuditEvents(r.Context(), v.p, keyward.AuditQuery{TargetID: k.ID, Page: keyward.Page{Limit: 20}})
	if err != nil {
		return nil
	}
	return events
}
