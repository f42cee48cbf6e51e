package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"time"
)

// WebhookEndpoint is a URL the server sends the account's events to (api_key.created,
// api_key.rotated, api_key.leaked, ...), signed per Standard Webhooks with the endpoint's
// secret.
//
// The wire sends null for unset values; here an unset string is "" and an unset time nil.
// WebhookEndpoint marshals back to the same wire form, nulls included.
type WebhookEndpoint struct {
	ID          string `json:"id"`
	AccountID   string `json:"account_id"`
	URL         string `json:"url"`
	Description string `json:"description"`
	// Events are the event types the endpoint receives; empty: all of them.
	Events  []string `json:"events"`
	Enabled bool     `json:"enabled"`
	// DisabledReason says why a disabled endpoint is: by its owner, or because it answered
	// 410 Gone; "" while it is enabled.
	DisabledReason string `json:"disabled_reason"`
	// PreviousSecretExpiresAt is, after a secret rotation with an overlap, until when the old
	// secret still signs beside the new one; nil otherwise.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

// MarshalJSON writes the endpoint in its wire form, with null for an unset DisabledReason.
func (e WebhookEndpoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(webhookEndpointWire(e, ""))
}

// webhookEndpointWire is e as the server sends it; secret, when not "", is added as "secret".
func webhookEndpointWire(e WebhookEndpoint, secret string) any {
	type plain WebhookEndpoint // has no MarshalJSON, so encoding it does not recurse
	return struct {
		plain
		DisabledReason *string `json:"disabled_reason"`
		Secret         string  `json:"secret,omitempty"`
	}{plain: plain(e), DisabledReason: nullIfEmpty(e.DisabledReason), Secret: secret}
}

// CreatedWebhookEndpoint is an endpoint together with its signing secret, as returned by
// CreateWebhookEndpoint and RotateWebhookSecret.
type CreatedWebhookEndpoint struct {
	WebhookEndpoint
	// Secret is the whsec_ signing secret. The server shows it only in this answer: store it
	// now or lose it.
	Secret string `json:"secret"`
}

// MarshalJSON writes the endpoint in its wire form, secret included.
func (e CreatedWebhookEndpoint) MarshalJSON() ([]byte, error) {
	return json.Marshal(webhookEndpointWire(e.WebhookEndpoint, e.Secret))
}

// CreateWebhookEndpointParams describes a new webhook endpoint.
type CreateWebhookEndpointParams struct {
	// URL is required: https, or http only to a loopback host. It must reach the public
	// internet unless the server allows private addresses.
	URL         string `json:"url"`
	Description string `json:"description,omitempty"`
	// Events are the event types to receive; none: all of them.
	Events []string `json:"events,omitempty"`
}

// CreateWebhookEndpoint adds a webhook endpoint to the caller's account. The answer's Secret
// is the only copy of the signing secret there will ever be. Errors: validation_failed (also
// for a URL that is not allowed), unauthenticated, forbidden.
func (c *Client) CreateWebhookEndpoint(ctx context.Context, params CreateWebhookEndpointParams) (*CreatedWebhookEndpoint, error) {
	var e CreatedWebhookEndpoint
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/webhook-endpoints", body: params, auth: true}, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// ListWebhookEndpoints returns one page of the account's webhook endpoints, without secrets.
func (c *Client) ListWebhookEndpoints(ctx context.Context, params ListParams) (*Page[*WebhookEndpoint], error) {
	return listPage[*WebhookEndpoint](ctx, c, "/v1/webhook-endpoints", params.query())
}

// AllWebhookEndpoints yields every webhook endpoint of the account from params.Cursor on,
// fetching pages as it goes. It stops at the first error, which it yields.
func (c *Client) AllWebhookEndpoints(ctx context.Context, params ListParams) iter.Seq2[*WebhookEndpoint, error] {
	return all(ctx, params.Cursor, func(ctx context.Context, cursor string) (*Page[*WebhookEndpoint], error) {
		p := params
		p.Cursor = cursor
		return c.ListWebhookEndpoints(ctx, p)
	})
}

// GetWebhookEndpoint returns one webhook endpoint, without its secret. Errors: not_found.
func (c *Client) GetWebhookEndpoint(ctx context.Context, endpointID string) (*WebhookEndpoint, error) {
	id, err := pathID("webhook endpoint ID", endpointID)
	if err != nil {
		return nil, err
	}
	var e WebhookEndpoint
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/webhook-endpoints/" + id, auth: true}, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// UpdateWebhookEndpointParams changes some of an endpoint's fields and leaves the others
// alone: a nil pointer (or nil slice) means "leave unchanged".
type UpdateWebhookEndpointParams struct {
	URL         *string
	Description *string
	// Events replaces the event types when non-nil; an empty, non-nil slice subscribes to
	// all of them.
	Events []string
	// Enabled stops deliveries (false) or resumes them (true), also for an endpoint the
	// server disabled because it answered 410 Gone.
	Enabled *bool
}

// body is the PATCH document: absent fields are left out.
func (p UpdateWebhookEndpointParams) body() map[string]any {
	b := map[string]any{}
	if p.URL != nil {
		b["url"] = *p.URL
	}
	if p.Description != nil {
		b["description"] = *p.Description
	}
	if p.Events != nil {
		b["events"] = p.Events
	}
	if p.Enabled != nil {
		b["enabled"] = *p.Enabled
	}
	return b
}

// UpdateWebhookEndpoint changes the fields params sets and returns the updated endpoint.
// Errors: validation_failed, not_found, unauthenticated, forbidden.
func (c *Client) UpdateWebhookEndpoint(ctx context.Context, endpointID string, params UpdateWebhookEndpointParams) (*WebhookEndpoint, error) {
	id, err := pathID("webhook endpoint ID", endpointID)
	if err != nil {
		return nil, err
	}
	var e WebhookEndpoint
	req := request{method: http.MethodPatch, path: "/v1/webhook-endpoints/" + id, body: params.body(), auth: true}
	if _, err := c.do(ctx, req, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// DeleteWebhookEndpoint deletes a webhook endpoint; messages still waiting for it are given
// up. Errors: not_found.
func (c *Client) DeleteWebhookEndpoint(ctx context.Context, endpointID string) error {
	id, err := pathID("webhook endpoint ID", endpointID)
	if err != nil {
		return err
	}
	_, err = c.do(ctx, request{method: http.MethodDelete, path: "/v1/webhook-endpoints/" + id, auth: true}, nil)
	return err
}

// MaxSecretOverlap is the longest overlap a webhook secret rotation accepts.
const MaxSecretOverlap = 7 * 24 * time.Hour

// RotateWebhookSecretParams tunes a webhook secret rotation.
type RotateWebhookSecretParams struct {
	// Overlap is how long the old secret keeps signing beside the new one (every message
	// carries both signatures), in whole seconds up to MaxSecretOverlap; nil lets the server
	// choose (a day), a pointer to 0 ends the old secret at once.
	Overlap *time.Duration
}

// RotateWebhookSecret gives an endpoint a new signing secret. The answer's Secret is the only
// copy of it. Errors: validation_failed, not_found, unauthenticated, forbidden.
func (c *Client) RotateWebhookSecret(ctx context.Context, endpointID string, params RotateWebhookSecretParams) (*CreatedWebhookEndpoint, error) {
	id, err := pathID("webhook endpoint ID", endpointID)
	if err != nil {
		return nil, err
	}
	// No body at all when the overlap is the server's to choose: the server reads an empty
	// object as an overlap of 0.
	var body any
	if o := params.Overlap; o != nil {
		if *o < 0 || *o > MaxSecretOverlap || *o%time.Second != 0 {
			return nil, fmt.Errorf("keyward: overlap %v: want whole seconds from 0 to %v", *o, MaxSecretOverlap)
		}
		body = map[string]any{"overlap_seconds": int64(*o / time.Second)}
	}
	var e CreatedWebhookEndpoint
	req := request{method: http.MethodPost, path: "/v1/webhook-endpoints/" + id + "/rotate-secret", body: body, auth: true}
	if _, err := c.do(ctx, req, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// TestWebhookEndpoint queues a webhook.test event for an endpoint and returns its delivery,
// pending; follow it with GetWebhookDelivery. Errors: not_found, conflict (a disabled
// endpoint), unauthenticated, forbidden.
func (c *Client) TestWebhookEndpoint(ctx context.Context, endpointID string) (*WebhookDelivery, error) {
	id, err := pathID("webhook endpoint ID", endpointID)
	if err != nil {
		return nil, err
	}
	var d WebhookDelivery
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/webhook-endpoints/" + id + "/test", auth: true}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// DeliveryStatus is where a webhook message stands.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"   // waiting for its next attempt
	DeliveryDelivered DeliveryStatus = "delivered" // the endpoint answered 2xx
	// DeliveryFailed is given up: after the last retry, or because the endpoint answered
	// 410, was disabled or deleted.
	DeliveryFailed DeliveryStatus = "failed"
)

// WebhookDelivery is one message sent, or to be sent, to an endpoint, with its attempts.
//
// The wire sends null for unset values; here an unset string is "" and an unset time nil.
// WebhookDelivery marshals back to the same wire form, nulls included.
type WebhookDelivery struct {
	// ID is the message id (msg_...), the webhook-id header of every attempt.
	ID        string         `json:"id"`
	Event     string         `json:"event"`
	Status    DeliveryStatus `json:"status"`
	CreatedAt time.Time      `json:"created_at"`
	// NextAttemptAt is, while pending, when the next attempt is due.
	NextAttemptAt *time.Time `json:"next_attempt_at"`
	DeliveredAt   *time.Time `json:"delivered_at"`
	FailedAt      *time.Time `json:"failed_at"`
	LastError     string     `json:"last_error"` // "" when there was none
	// Attempts are every attempt, oldest first.
	Attempts []WebhookAttempt `json:"attempts"`
	// Payload is the body as sent.
	Payload json.RawMessage `json:"payload"`
}

// MarshalJSON writes the delivery in its wire form, with null for an unset LastError.
func (d WebhookDelivery) MarshalJSON() ([]byte, error) {
	type plain WebhookDelivery
	return json.Marshal(struct {
		plain
		LastError *string `json:"last_error"`
	}{plain: plain(d), LastError: nullIfEmpty(d.LastError)})
}

// WebhookAttempt is one delivery attempt.
type WebhookAttempt struct {
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	// StatusCode is the endpoint's HTTP status; 0 when it did not answer.
	StatusCode int   `json:"status_code"`
	LatencyMS  int64 `json:"latency_ms"`
	// Error says why the attempt did not deliver; "" when it did.
	Error string `json:"error"`
}

// MarshalJSON writes the attempt in its wire form, with null for an unset Error.
func (a WebhookAttempt) MarshalJSON() ([]byte, error) {
	type plain WebhookAttempt
	return json.Marshal(struct {
		plain
		Error *string `json:"error"`
	}{plain: plain(a), Error: nullIfEmpty(a.Error)})
}

// ListWebhookDeliveries returns one page of an endpoint's deliveries, newest first, each
// with its attempts. Errors: not_found for an unknown endpoint.
func (c *Client) ListWebhookDeliveries(ctx context.Context, endpointID string, params ListParams) (*Page[*WebhookDelivery], error) {
	id, err := pathID("webhook endpoint ID", endpointID)
	if err != nil {
		return nil, err
	}
	return listPage[*WebhookDelivery](ctx, c, "/v1/webhook-endpoints/"+id+"/deliveries", params.query())
}

// AllWebhookDeliveries yields every delivery of an endpoint from params.Cursor on, fetching
// pages as it goes. It stops at the first error, which it yields.
func (c *Client) AllWebhookDeliveries(ctx context.Context, endpointID string, params ListParams) iter.Seq2[*WebhookDelivery, error] {
	return all(ctx, params.Cursor, func(ctx context.Context, cursor string) (*Page[*WebhookDelivery], error) {
		p := params
		p.Cursor = cursor
		return c.ListWebhookDeliveries(ctx, endpointID, p)
	})
}

// GetWebhookDelivery returns one delivery by its message id (msg_...). Errors: not_found.
func (c *Client) GetWebhookDelivery(ctx context.Context, messageID string) (*WebhookDelivery, error) {
	id, err := pathID("message ID", messageID)
	if err != nil {
		return nil, err
	}
	var d WebhookDelivery
	if _, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/webhook-deliveries/" + id, auth: true}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// ResendWebhookDelivery makes a message due now, delivered or given up, with the same
// webhook-id, and returns it. Errors: not_found, conflict (a scheduled rotation's message to
// a key's own webhook, whose secret is erased once it is done), unauthenticated, forbidden.
func (c *Client) ResendWebhookDelivery(ctx context.Context, messageID string) (*WebhookDelivery, error) {
	id, err := pathID("message ID", messageID)
	if err != nil {
		return nil, err
	}
	var d WebhookDelivery
	if _, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/webhook-deliveries/" + id + "/resend", auth: true}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}
