package dashboard

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// webhooksData is the webhooks page.
type webhooksData struct {
	Endpoints []*keyward.WebhookEndpoint
	Topics    []string
	// Created is set on the answer that made an endpoint or rotated its secret.
	Created *keyward.CreatedWebhookEndpoint
}

func (d *Dashboard) webhooksPage(w http.ResponseWriter, r *http.Request, v *visit) {
	d.renderWebhooks(w, r, v, http.StatusOK, nil, "")
}

func (d *Dashboard) renderWebhooks(w http.ResponseWriter, r *http.Request, v *visit, status int, created *keyward.CreatedWebhookEndpoint, problem string) {
	eps, _, err := d.svc.WebhookEndpoints(r.Context(), v.p, keyward.Page{Limit: keyward.MaxWebhookEndpoints})
	if err != nil && problem == "" {
		d.fail(w, r, err)
		return
	}
	d.render(w, r, status, "webhooks", page{Title: "Webhooks", Visit: v, Error: problem,
		Data: webhooksData{Endpoints: eps, Topics: keyward.Topics, Created: created}})
}

// createWebhook adds an endpoint and shows its secret once, on this answer only.
func (d *Dashboard) createWebhook(w http.ResponseWriter, r *http.Request, v *visit) {
	u := strings.TrimSpace(r.PostFormValue("url"))
	desc := strings.TrimSpace(r.PostFormValue("description"))
	topics := r.PostForm["events"]
	ep, err := d.svc.CreateWebhookEndpoint(r.Context(), v.p, keyward.WebhookEndpointInput{URL: &u, Description: &desc, Topics: &topics})
	if err != nil {
		if statusOf(err) >= 500 {
			d.fail(w, r, err)
			return
		}
		d.renderWebhooks(w, r, v, statusOf(err), nil, message(err))
		return
	}
	d.renderWebhooks(w, r, v, http.StatusCreated, ep, "")
}

func (d *Dashboard) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, v *visit) {
	ep, err := d.svc.RotateWebhookSecret(r.Context(), v.p, r.PathValue("id"), 24*time.Hour)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	d.renderWebhooks(w, r, v, http.StatusOK, ep, "")
}

func (d *Dashboard) toggleWebhook(w http.ResponseWriter, r *http.Request, v *visit) {
	enabled, _ := strconv.ParseBool(r.PostFormValue("enabled"))
	if _, err := d.svc.UpdateWebhookEndpoint(r.Context(), v.p, r.PathValue("id"), keyward.WebhookEndpointInput{Enabled: &enabled}); err != nil {
		d.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"webhooks", http.StatusSeeOther)
}

func (d *Dashboard) deleteWebhook(w http.ResponseWriter, r *http.Request, v *visit) {
	if err := d.svc.DeleteWebhookEndpoint(r.Context(), v.p, r.PathValue("id")); err != nil {
		d.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"webhooks", http.StatusSeeOther)
}

// deliveriesData is an endpoint's delivery log.
type deliveriesData struct {
	Endpoint   *keyward.WebhookEndpoint
	Deliveries []delivery
}

type delivery struct {
	*keyward.OutboxMessage
	Attempts []*keyward.OutboxAttempt
}

// State names where a message is.
func (m delivery) State() string {
	switch {
	case m.DeliveredAt != nil:
		return "delivered"
	case m.AbandonedAt != nil:
		return "failed"
	}
	return "pending"
}

func (d *Dashboard) deliveriesPage(w http.ResponseWriter, r *http.Request, v *visit) {
	ep, err := d.svc.WebhookEndpoint(r.Context(), v.p, r.PathValue("id"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	msgs, _, err := d.svc.WebhookDeliveries(r.Context(), v.p, ep.ID, keyward.Page{Limit: 50})
	if err != nil {
		d.fail(w, r, err)
		return
	}
	data := deliveriesData{Endpoint: ep}
	for _, m := range msgs {
		_, atts, err := d.svc.WebhookMessage(r.Context(), v.p, m.ID)
		if err != nil {
			d.fail(w, r, err)
			return
		}
		data.Deliveries = append(data.Deliveries, delivery{OutboxMessage: m, Attempts: atts})
	}
	d.render(w, r, http.StatusOK, "deliveries", page{Title: "Deliveries", Visit: v, Data: data})
}

func (d *Dashboard) resendDelivery(w http.ResponseWriter, r *http.Request, v *visit) {
	m, err := d.svc.ResendWebhookMessage(r.Context(), v.p, r.PathValue("msg"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	_, id := keyward.ParseDestination(m.Destination)
	http.Redirect(w, r, Prefix+"webhooks/"+id+"/deliveries", http.StatusSeeOther)
}
