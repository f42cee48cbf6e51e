package httpapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// WebhookEventJSON is the body of every webhook: Standard Webhooks' recommended envelope.
type WebhookEventJSON struct {
	Type      string           `json:"type" doc:"The event, as api_key.rotated."`
	Timestamp time.Time        `json:"timestamp" doc:"When it happened."`
	Data      WebhookEventData `json:"data"`
}

// WebhookEventData is what an event is about; which members are present depends on its type.
type WebhookEventData struct {
	APIKey      *KeyJSON         `json:"api_key,omitempty" doc:"api_key.* events: the key after the change (never its secret)."`
	ReplacedKey *KeyJSON         `json:"replaced_key,omitempty" doc:"api_key.rotated: the key the rotation replaced, with its grace_expires_at."`
	ExpiresAt   *time.Time       `json:"expires_at,omitempty" doc:"api_key.expiring: when the key stops verifying (its expiry or grace end)."`
	TierRequest *TierRequestJSON `json:"tier_request,omitempty" doc:"tier_request.* events."`
	EndpointID  string           `json:"webhook_endpoint_id,omitempty" doc:"webhook.test: the endpoint tested."`
	// Secret is added by the deliverer, only to a scheduled rotation's message to the key's
	// own rotation webhook; it is documented here and never stored in the clear.
	Secret string `json:"secret,omitempty" doc:"api_key.rotated sent to the key's rotation_webhook_url by a scheduled rotation: the new key's secret, present only in that request."`
}

// EncodeEvent is the service's EventEncoder: events in the API's own shapes.
func EncodeEvent(e *keyward.Event) ([]byte, error) {
	out := WebhookEventJSON{Type: e.Topic, Timestamp: e.At}
	if e.Key != nil {
		k := keyJSON(e.Key, e.At)
		k.RotationWebhookSecret = "" // a secret never leaves in an event
		out.Data.APIKey = &k
	}
	if e.Replaced != nil {
		k := keyJSON(e.Replaced, e.At)
		k.RotationWebhookSecret = ""
		out.Data.ReplacedKey = &k
	}
	out.Data.ExpiresAt = e.Expiry
	out.Data.TierRequest = tierRequestJSON(e.TierRequest)
	if e.Endpoint != nil {
		out.Data.EndpointID = e.Endpoint.ID
	}
	return json.Marshal(out)
}

// WebhookEndpointJSON is a webhook endpoint on the wire.
type WebhookEndpointJSON struct {
	ID                      string     `json:"id"`
	AccountID               string     `json:"account_id"`
	URL                     string     `json:"url"`
	Description             string     `json:"description"`
	Events                  []string   `json:"events" doc:"The events it receives; empty: all of them."`
	Enabled                 bool       `json:"enabled"`
	DisabledReason          *string    `json:"disabled_reason" doc:"Why it is disabled: by its owner, or because it answered 410 Gone."`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at" doc:"After a secret rotation with an overlap: until when the old secret still signs beside the new."`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
}

// CreatedWebhookEndpointJSON is an endpoint with its secret: only on creation and secret
// rotation.
type CreatedWebhookEndpointJSON struct {
	WebhookEndpointJSON
	Secret string `json:"secret" doc:"The whsec_ signing secret. Shown only in this response: store it now."`
}

func webhookEndpointJSON(e *keyward.WebhookEndpoint) WebhookEndpointJSON {
	events := e.Topics
	if events == nil {
		events = []string{}
	}
	out := WebhookEndpointJSON{
		ID: e.ID, AccountID: e.AccountID, URL: e.URL, Description: e.Description, Events: events,
		Enabled: e.Enabled, DisabledReason: optional(e.DisabledReason), CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
	if e.PreviousSecret != nil {
		out.PreviousSecretExpiresAt = e.PreviousSecretUntil
	}
	return out
}

// WebhookDeliveryJSON is one message sent, or to be sent, to an endpoint, with its attempts.
type WebhookDeliveryJSON struct {
	ID            string          `json:"id" doc:"The message id: the webhook-id header of every attempt."`
	Event         string          `json:"event"`
	Status        string          `json:"status" enum:"pending,delivered,failed" doc:"failed: given up, after the last retry or because the endpoint answered 410, was disabled or deleted."`
	CreatedAt     time.Time       `json:"created_at"`
	NextAttemptAt *time.Time      `json:"next_attempt_at" doc:"While pending: when the next attempt is due."`
	DeliveredAt   *time.Time      `json:"delivered_at"`
	FailedAt      *time.Time      `json:"failed_at"`
	LastError     *string         `json:"last_error"`
	Attempts      []AttemptJSON   `json:"attempts" doc:"Every attempt, oldest first."`
	Payload       json.RawMessage `json:"payload" doc:"The body as sent."`
}

// AttemptJSON is one delivery attempt.
type AttemptJSON struct {
	Attempt    int       `json:"attempt"`
	At         time.Time `json:"at"`
	StatusCode int       `json:"status_code" doc:"The endpoint's HTTP status; 0 when it did not answer."`
	LatencyMS  int64     `json:"latency_ms"`
	Error      *string   `json:"error" doc:"Why the attempt did not deliver."`
}

func deliveryJSON(m *keyward.OutboxMessage, atts []*keyward.OutboxAttempt) WebhookDeliveryJSON {
	out := WebhookDeliveryJSON{
		ID: m.ID, Event: m.Topic, CreatedAt: m.CreatedAt, DeliveredAt: m.DeliveredAt, FailedAt: m.AbandonedAt,
		LastError: optional(m.LastError), Attempts: make([]AttemptJSON, len(atts)), Payload: m.Payload,
	}
	switch {
	case m.DeliveredAt != nil:
		out.Status = "delivered"
	case m.AbandonedAt != nil:
		out.Status = "failed"
	default:
		out.Status = "pending"
		next := m.NextAttemptAt
		out.NextAttemptAt = &next
	}
	for i, a := range atts {
		out.Attempts[i] = AttemptJSON{Attempt: a.Attempt, At: a.At, StatusCode: a.StatusCode, LatencyMS: a.Duration.Milliseconds(), Error: optional(a.Error)}
	}
	return out
}

// WebhookEndpointIDParam is an endpoint id in a path.
type WebhookEndpointIDParam struct {
	EndpointID string `path:"endpointID" doc:"Webhook endpoint id."`
}

type webhookEndpointBody struct {
	URL         *string   `json:"url,omitempty" maxLength:"2048" doc:"https (http only to a loopback host). It must reach the public internet unless the server runs with --webhook-allow-private."`
	Description *string   `json:"description,omitempty" maxLength:"1000"`
	Events      *[]string `json:"events,omitempty" maxItems:"20" doc:"The events to receive; empty or absent on creation: all of them."`
	Enabled     *bool     `json:"enabled,omitempty" doc:"false stops deliveries; true also re-enables an endpoint disabled by a 410."`
}

func (b webhookEndpointBody) domain() keyward.WebhookEndpointInput {
	return keyward.WebhookEndpointInput{URL: b.URL, Description: b.Description, Topics: b.Events, Enabled: b.Enabled}
}

type createWebhookEndpointInput struct {
	Body webhookEndpointBody
}

type updateWebhookEndpointInput struct {
	WebhookEndpointIDParam
	Body webhookEndpointBody
}

type rotateWebhookSecretInput struct {
	WebhookEndpointIDParam
	Body *struct {
		OverlapSeconds *int `json:"overlap_seconds,omitempty" minimum:"0" maximum:"604800" doc:"How long the old secret keeps signing beside the new one (both signatures in webhook-signature). Default 86400 (a day); 0 ends it at once."`
	}
}

type createdWebhookEndpointOutput struct {
	Location string `header:"Location"`
	Body     CreatedWebhookEndpointJSON
}

type webhookEndpointOutput struct {
	Body WebhookEndpointJSON
}

type listWebhookEndpointsOutput struct {
	PageHeaders
	Body []WebhookEndpointJSON
}

type listDeliveriesInput struct {
	WebhookEndpointIDParam
	PageParams
}

type listDeliveriesOutput struct {
	PageHeaders
	Body []WebhookDeliveryJSON
}

type messageIDParam struct {
	MessageID string `path:"messageID" doc:"Message id (msg_…), as in webhook-id."`
}

type deliveryOutput struct {
	Body WebhookDeliveryJSON
}

// defaultSecretOverlap is how long a rotated endpoint secret keeps signing when the caller
// does not say.
const defaultSecretOverlap = 24 * time.Hour

func (s *Server) webhookRoutes() []route {
	tags := []string{"Webhooks"}
	path := "/v1/webhook-endpoints"
	return []route{
		operation(huma.Operation{
			OperationID: "create-webhook-endpoint", Method: http.MethodPost, Path: path, DefaultStatus: http.StatusCreated,
			Summary: "Add a webhook endpoint", Description: "Events of the account's keys are sent to it, signed per Standard Webhooks with its secret (returned once, in `secret`). Needs account.write.",
			Tags: tags, Errors: []int{http.StatusConflict, http.StatusServiceUnavailable},
		}, s.createWebhookEndpoint),
		operation(huma.Operation{
			OperationID: "list-webhook-endpoints", Description: "The account's webhook endpoints, without their signing secrets. Needs account.read.", Method: http.MethodGet, Path: path,
			Summary: "List webhook endpoints", Tags: tags,
		}, s.listWebhookEndpoints),
		operation(huma.Operation{
			OperationID: "get-webhook-endpoint", Description: "Without its signing secret. Needs account.read.", Method: http.MethodGet, Path: path + "/{endpointID}",
			Summary: "Get a webhook endpoint", Tags: tags,
		}, s.getWebhookEndpoint),
		operation(huma.Operation{
			OperationID: "update-webhook-endpoint", Method: http.MethodPatch, Path: path + "/{endpointID}",
			Summary: "Update a webhook endpoint", Description: "Absent fields are left as they are.", Tags: tags,
		}, s.updateWebhookEndpoint),
		operation(huma.Operation{
			OperationID: "delete-webhook-endpoint", Method: http.MethodDelete, Path: path + "/{endpointID}", DefaultStatus: http.StatusNoContent,
			Summary: "Delete a webhook endpoint", Description: "Messages still waiting for it are given up.", Tags: tags,
		}, s.deleteWebhookEndpoint),
		operation(huma.Operation{
			OperationID: "rotate-webhook-secret", Method: http.MethodPost, Path: path + "/{endpointID}/rotate-secret",
			Summary: "Rotate a webhook endpoint's secret", Description: "Returns the new secret once. During the overlap every message carries two v1 signatures, the new secret's and the old's.", Tags: tags,
		}, s.rotateWebhookSecret),
		operation(huma.Operation{
			OperationID: "test-webhook-endpoint", Method: http.MethodPost, Path: path + "/{endpointID}/test", DefaultStatus: http.StatusAccepted,
			Summary: "Send a webhook.test event to an endpoint", Description: "Queued like any event; follow it in the deliveries.", Tags: tags, Errors: []int{http.StatusConflict},
		}, s.testWebhookEndpoint),
		operation(huma.Operation{
			OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: path + "/{endpointID}/deliveries",
			Summary: "List an endpoint's deliveries", Description: "Newest first, each with every attempt: status code, latency, error, and the next try while pending.", Tags: tags,
		}, s.listWebhookDeliveries),
		operation(huma.Operation{
			OperationID: "get-webhook-delivery", Description: "One message to an endpoint, with every attempt to deliver it. Needs account.read.", Method: http.MethodGet, Path: "/v1/webhook-deliveries/{messageID}",
			Summary: "Get a delivery", Tags: tags,
		}, s.getWebhookDelivery),
		operation(huma.Operation{
			OperationID: "resend-webhook-delivery", Method: http.MethodPost, Path: "/v1/webhook-deliveries/{messageID}/resend", DefaultStatus: http.StatusAccepted,
			Summary: "Send a delivery again", Description: "Makes the message due now, delivered or given up, with the same webhook-id. A scheduled rotation's message to a key's own webhook cannot be resent: its secret is erased once it is done.", Tags: tags,
			Errors: []int{http.StatusConflict},
		}, s.resendWebhookDelivery),
	}
}

func (s *Server) createWebhookEndpoint(ctx context.Context, in *createWebhookEndpointInput) (*createdWebhookEndpointOutput, error) {
	ep, err := s.svc.CreateWebhookEndpoint(ctx, principal(ctx), in.Body.domain())
	if err != nil {
		return nil, err
	}
	return &createdWebhookEndpointOutput{
		Location: "/v1/webhook-endpoints/" + ep.ID,
		Body:     CreatedWebhookEndpointJSON{WebhookEndpointJSON: webhookEndpointJSON(ep.WebhookEndpoint), Secret: ep.Secret},
	}, nil
}

func (s *Server) listWebhookEndpoints(ctx context.Context, in *listInput) (*listWebhookEndpointsOutput, error) {
	pg, err := in.page()
	if err != nil {
		return nil, err
	}
	items, next, err := s.svc.WebhookEndpoints(ctx, principal(ctx), pg)
	if err != nil {
		return nil, err
	}
	out := &listWebhookEndpointsOutput{Body: mapSlice(items, webhookEndpointJSON)}
	out.PageHeaders = nextPage("/v1/webhook-endpoints", nil, in.Limit, next)
	return out, nil
}

func (s *Server) getWebhookEndpoint(ctx context.Context, in *WebhookEndpointIDParam) (*webhookEndpointOutput, error) {
	ep, err := s.svc.WebhookEndpoint(ctx, principal(ctx), in.EndpointID)
	if err != nil {
		return nil, err
	}
	return &webhookEndpointOutput{Body: webhookEndpointJSON(ep)}, nil
}

func (s *Server) updateWebhookEndpoint(ctx context.Context, in *updateWebhookEndpointInput) (*webhookEndpointOutput, error) {
	ep, err := s.svc.UpdateWebhookEndpoint(ctx, principal(ctx), in.EndpointID, in.Body.domain())
	if err != nil {
		return nil, err
	}
	return &webhookEndpointOutput{Body: webhookEndpointJSON(ep)}, nil
}

func (s *Server) deleteWebhookEndpoint(ctx context.Context, in *WebhookEndpointIDParam) (*struct{}, error) {
	return nil, s.svc.DeleteWebhookEndpoint(ctx, principal(ctx), in.EndpointID)
}

func (s *Server) rotateWebhookSecret(ctx context.Context, in *rotateWebhookSecretInput) (*createdWebhookEndpointOutput, error) {
	overlap := defaultSecretOverlap
	if in.Body != nil && in.Body.OverlapSeconds != nil {
		overlap = time.Duration(*in.Body.OverlapSeconds) * time.Second
	}
	ep, err := s.svc.RotateWebhookSecret(ctx, principal(ctx), in.EndpointID, overlap)
	if err != nil {
		return nil, err
	}
	return &createdWebhookEndpointOutput{
		Location: "/v1/webhook-endpoints/" + ep.ID,
		Body:     CreatedWebhookEndpointJSON{WebhookEndpointJSON: webhookEndpointJSON(ep.WebhookEndpoint), Secret: ep.Secret},
	}, nil
}

func (s *Server) testWebhookEndpoint(ctx context.Context, in *WebhookEndpointIDParam) (*deliveryOutput, error) {
	m, err := s.svc.TestWebhookEndpoint(ctx, principal(ctx), in.EndpointID)
	if err != nil {
		return nil, err
	}
	return &deliveryOutput{Body: deliveryJSON(m, nil)}, nil
}

func (s *Server) listWebhookDeliveries(ctx context.Context, in *listDeliveriesInput) (*listDeliveriesOutput, error) {
	pg := keyward.Page{Limit: in.Limit}
	if in.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(in.Cursor)
		if err != nil || !validMessageID(string(raw)) {
			return nil, keyward.Errorf(keyward.EInvalid, "cursor is not one this server issued")
		}
		pg.After = string(raw)
	}
	p := principal(ctx)
	items, next, err := s.svc.WebhookDeliveries(ctx, p, in.EndpointID, pg)
	if err != nil {
		return nil, err
	}
	out := &listDeliveriesOutput{Body: make([]WebhookDeliveryJSON, len(items))}
	for i, m := range items {
		_, atts, err := s.svc.WebhookMessage(ctx, p, m.ID)
		if err != nil {
			return nil, err
		}
		out.Body[i] = deliveryJSON(m, atts)
	}
	out.PageHeaders = nextPage("/v1/webhook-endpoints/"+in.EndpointID+"/deliveries", nil, in.Limit, next)
	return out, nil
}

func (s *Server) getWebhookDelivery(ctx context.Context, in *messageIDParam) (*deliveryOutput, error) {
	if !validMessageID(in.MessageID) {
		return nil, keyward.Errorf(keyward.ENotFound, "delivery %q not found", in.MessageID)
	}
	m, atts, err := s.svc.WebhookMessage(ctx, principal(ctx), in.MessageID)
	if err != nil {
		return nil, err
	}
	return &deliveryOutput{Body: deliveryJSON(m, atts)}, nil
}

func (s *Server) resendWebhookDelivery(ctx context.Context, in *messageIDParam) (*deliveryOutput, error) {
	if !validMessageID(in.MessageID) {
		return nil, keyward.Errorf(keyward.ENotFound, "delivery %q not found", in.MessageID)
	}
	m, err := s.svc.ResendWebhookMessage(ctx, principal(ctx), in.MessageID)
	if err != nil {
		return nil, err
	}
	_, atts, err := s.svc.WebhookMessage(ctx, principal(ctx), m.ID)
	if err != nil {
		return nil, err
	}
	return &deliveryOutput{Body: deliveryJSON(m, atts)}, nil
}

// validMessageID accepts the ids keyward.NewMessageID makes.
func validMessageID(id string) bool {
	rest, ok := strings.CutPrefix(id, "msg_")
	return ok && keyward.ValidID(rest)
}
