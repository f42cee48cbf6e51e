package keyward

import (
	"context"
	"slices"
	"time"
)

// Webhook endpoints are managed with the account's own permission: an endpoint hears of
// every key of the account, so whoever adds one must be trusted with all of them.
const (
	ActionCreateWebhook       = "create-webhook-endpoint"
	ActionUpdateWebhook       = "update-webhook-endpoint"
	ActionDeleteWebhook       = "delete-webhook-endpoint"
	ActionRotateWebhookSecret = "rotate-webhook-secret"
	ActionResendWebhook       = "resend-webhook-message"
	ActionTestWebhook         = "test-webhook-endpoint"
	TargetWebhook             = "webhook_endpoint"
)

// MaxWebhookEndpoints bounds an account's endpoints: each one multiplies every event.
const MaxWebhookEndpoints = 20

// MaxSecretOverlap bounds how long a rotated endpoint secret keeps signing.
const MaxSecretOverlap = 7 * 24 * time.Hour

// WebhookEndpointInput creates or changes an endpoint; on update a nil field is left as it is.
type WebhookEndpointInput struct {
	URL         *string
	Description *string
	Topics      *[]string
	Enabled     *bool
}

// CreatedWebhookEndpoint is an endpoint with its signing secret, shown once.
type CreatedWebhookEndpoint struct {
	*WebhookEndpoint
	Secret string
}

// CreateWebhookEndpoint adds an endpoint to p's account. Errors: EValidation, EForbidden,
// EConflict (too many endpoints), EUnavailable (no sealer).
func (s *Service) CreateWebhookEndpoint(ctx context.Context, p Principal, in WebhookEndpointInput) (*CreatedWebhookEndpoint, error) {
	var out *CreatedWebhookEndpoint
	err := s.mutate(ctx, p, ActionCreateWebhook, TargetWebhook, "", func(tx *Service, e *AuditEvent) error {
		if err := authorize(p, PermAccountWrite, ""); err != nil {
			return err
		}
		if in.URL == nil {
			return Errorf(EValidation, "url is required")
		}
		existing, err := tx.store.ListWebhookEndpoints(ctx, p.AccountID, "", MaxWebhookEndpoints)
		if err != nil {
			return err
		}
		if len(existing) >= MaxWebhookEndpoints {
			return Errorf(EConflict, "an account has at most %d webhook endpoints", MaxWebhookEndpoints)
		}
		now := tx.Now()
		ep := &WebhookEndpoint{ID: NewID(), AccountID: p.AccountID, Enabled: true, CreatedAt: now, UpdatedAt: now}
		if err := tx.applyEndpointInput(ep, in); err != nil {
			return err
		}
		secret := newWebhookSecret()
		if ep.Secret, err = tx.sealFor(ep.ID, secret); err != nil {
			return err
		}
		if err := tx.store.CreateWebhookEndpoint(ctx, ep); err != nil {
			return err
		}
		e.TargetID = ep.ID
		out = &CreatedWebhookEndpoint{WebhookEndpoint: ep, Secret: secret}
		return nil
	})
	return out, err
}

// applyEndpointInput checks and applies in to ep.
func (s *Service) applyEndpointInput(ep *WebhookEndpoint, in WebhookEndpointInput) error {
	if in.URL != nil {
		if err := s.validateWebhookURL("url", *in.URL); err != nil {
			return err
		}
		ep.URL = *in.URL
	}
	if in.Description != nil {
		if len(*in.Description) > MaxDescriptionLen {
			return Errorf(EValidation, "description must be at most %d bytes", MaxDescriptionLen)
		}
		ep.Description = *in.Description
	}
	if in.Topics != nil {
		topics := slices.Clone(*in.Topics)
		slices.Sort(topics)
		topics = slices.Compact(topics)
		for _, t := range topics {
			if !slices.Contains(Topics, t) {
				return Errorf(EValidation, "unknown event %q: the events are %v", t, Topics)
			}
		}
		ep.Topics = topics
	}
	if in.Enabled != nil {
		ep.Enabled = *in.Enabled
		if ep.Enabled {
			ep.DisabledReason = ""
		} else if ep.DisabledReason == "" {
			ep.DisabledReason = "disabled by its owner"
		}
	}
	return nil
}

// WebhookEndpoint returns one of p's account's endpoints. Errors: EInvalid, ENotFound,
// EForbidden.
func (s *Service) WebhookEndpoint(ctx context.Context, p Principal, id string) (*WebhookEndpoint, error) {
	if err := authorize(p, PermAccountRead, ""); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, Errorf(ENotFound, "webhook endpoint %q not found", id)
	}
	return s.store.WebhookEndpoint(ctx, p.AccountID, id)
}

// WebhookEndpoints lists p's account's endpoints. Errors: EInvalid, EForbidden.
func (s *Service) WebhookEndpoints(ctx context.Context, p Principal, pg Page) ([]*WebhookEndpoint, string, error) {
	if err := authorize(p, PermAccountRead, ""); err != nil {
		return nil, "", err
	}
	if pg.After != "" && !ValidID(pg.After) {
		return nil, "", Errorf(EInvalid, "%q is not a valid id", pg.After)
	}
	limit := pg.limit()
	eps, err := s.store.ListWebhookEndpoints(ctx, p.AccountID, pg.After, limit+1)
	if err != nil {
		return nil, "", err
	}
	eps, next := page(eps, limit, func(e *WebhookEndpoint) string { return e.ID })
	return eps, next, nil
}

// UpdateWebhookEndpoint changes one of p's account's endpoints. Enabling an endpoint that
// Keyward disabled (410 Gone) puts it back in service; its messages given up meanwhile can
// be resent. Errors: EValidation, ENotFound, EForbidden.
func (s *Service) UpdateWebhookEndpoint(ctx context.Context, p Principal, id string, in WebhookEndpointInput) (*WebhookEndpoint, error) {
	var ep *WebhookEndpoint
	err := s.mutate(ctx, p, ActionUpdateWebhook, TargetWebhook, id, func(tx *Service, _ *AuditEvent) error {
		var err error
		if ep, err = tx.writableEndpoint(ctx, p, id); err != nil {
			return err
		}
		if err := tx.applyEndpointInput(ep, in); err != nil {
			return err
		}
		ep.UpdatedAt = tx.Now()
		return tx.store.UpdateWebhookEndpoint(ctx, ep)
	})
	return ep, err
}

func (s *Service) writableEndpoint(ctx context.Context, p Principal, id string) (*WebhookEndpoint, error) {
	if err := authorize(p, PermAccountWrite, ""); err != nil {
		return nil, err
	}
	if !ValidID(id) {
		return nil, Errorf(ENotFound, "webhook endpoint %q not found", id)
	}
	return s.store.WebhookEndpoint(ctx, p.AccountID, id)
}

// DeleteWebhookEndpoint deletes one of p's account's endpoints; its undelivered messages
// are given up. Errors: ENotFound, EForbidden.
func (s *Service) DeleteWebhookEndpoint(ctx context.Context, p Principal, id string) error {
	return s.mutate(ctx, p, ActionDeleteWebhook, TargetWebhook, id, func(tx *Service, _ *AuditEvent) error {
		if _, err := tx.writableEndpoint(ctx, p, id); err != nil {
			return err
		}
		return tx.store.DeleteWebhookEndpoint(ctx, p.AccountID, id)
	})
}

// RotateWebhookSecret gives an endpoint a new signing secret, shown once. For overlap the old
// secret keeps signing beside it (two v1 signatures per message), so that the receiver can
// switch without a gap; zero ends it at once. Errors: EValidation, ENotFound, EForbidden.
func (s *Service) RotateWebhookSecret(ctx context.Context, p Principal, id string, overlap time.Duration) (*CreatedWebhookEndpoint, error) {
	var out *CreatedWebhookEndpoint
	err := s.mutate(ctx, p, ActionRotateWebhookSecret, TargetWebhook, id, func(tx *Service, _ *AuditEvent) error {
		if overlap < 0 || overlap > MaxSecretOverlap {
			return Errorf(EValidation, "overlap_seconds must be between 0 and %d", int(MaxSecretOverlap/time.Second))
		}
		ep, err := tx.writableEndpoint(ctx, p, id)
		if err != nil {
			return err
		}
		now := tx.Now()
		ep.PreviousSecret, ep.PreviousSecretUntil = nil, nil
		if overlap > 0 {
			until := now.Add(overlap)
			ep.PreviousSecret, ep.PreviousSecretUntil = ep.Secret, &until
		}
		secret := newWebhookSecret()
		if ep.Secret, err = tx.sealFor(ep.ID, secret); err != nil {
			return err
		}
		ep.UpdatedAt = now
		if err := tx.store.UpdateWebhookEndpoint(ctx, ep); err != nil {
			return err
		}
		out = &CreatedWebhookEndpoint{WebhookEndpoint: ep, Secret: secret}
		return nil
	})
	return out, err
}

// EndpointSecrets returns the secrets that sign messages to ep at now, the current first.
func (s *Service) EndpointSecrets(ep *WebhookEndpoint, now time.Time) ([]string, error) {
	cur, err := s.OpenSecret(ep.ID, ep.Secret)
	if err != nil {
		return nil, err
	}
	out := []string{cur}
	if ep.PreviousSecret != nil && ep.PreviousSecretUntil != nil && now.Before(*ep.PreviousSecretUntil) {
		prev, err := s.OpenSecret(ep.ID, ep.PreviousSecret)
		if err != nil {
			return nil, err
		}
		out = append(out, prev)
	}
	return out, nil
}

// TestWebhookEndpoint queues a webhook.test message to one endpoint, whatever it subscribes
// to, and returns the message. Errors: ENotFound, EForbidden, EConflict (disabled).
func (s *Service) TestWebhookEndpoint(ctx context.Context, p Principal, id string) (*OutboxMessage, error) {
	var msg *OutboxMessage
	err := s.mutate(ctx, p, ActionTestWebhook, TargetWebhook, id, func(tx *Service, _ *AuditEvent) error {
		ep, err := tx.writableEndpoint(ctx, p, id)
		if err != nil {
			return err
		}
		if !ep.Enabled {
			return Errorf(EConflict, "webhook endpoint %s is disabled: %s", ep.ID, ep.DisabledReason)
		}
		if tx.encode == nil {
			return Errorf(EUnavailable, "webhooks are not configured on this server")
		}
		ev := &Event{ID: NewMessageID(), Topic: TopicWebhookTest, AccountID: p.AccountID, At: tx.Now(), Endpoint: ep}
		body, err := tx.encode(ev)
		if err != nil {
			return Errorf(EInternal, "encoding the test event: %v", err)
		}
		msg = &OutboxMessage{ID: ev.ID, AccountID: p.AccountID, Topic: ev.Topic, Destination: EndpointDestination(ep.ID), Payload: body, CreatedAt: ev.At}
		return tx.store.EnqueueOutbox(ctx, msg)
	})
	return msg, err
}

// WebhookDeliveries lists the messages sent, or waiting to be sent, to one of p's account's
// endpoints, newest first. Errors: EInvalid, ENotFound, EForbidden.
func (s *Service) WebhookDeliveries(ctx context.Context, p Principal, id string, pg Page) ([]*OutboxMessage, string, error) {
	if _, err := s.WebhookEndpoint(ctx, p, id); err != nil {
		return nil, "", err
	}
	limit := pg.limit()
	msgs, err := s.store.ListOutbox(ctx, OutboxFilter{AccountID: p.AccountID, Destination: EndpointDestination(id), Before: pg.After, Limit: limit + 1})
	if err != nil {
		return nil, "", err
	}
	msgs, next := page(msgs, limit, func(m *OutboxMessage) string { return m.ID })
	return msgs, next, nil
}

// WebhookMessage returns one of p's account's messages with its attempts, oldest first.
// Errors: ENotFound, EForbidden.
func (s *Service) WebhookMessage(ctx context.Context, p Principal, id string) (*OutboxMessage, []*OutboxAttempt, error) {
	if err := authorize(p, PermAccountRead, ""); err != nil {
		return nil, nil, err
	}
	m, err := s.store.OutboxMessage(ctx, p.AccountID, id)
	if err != nil {
		return nil, nil, err
	}
	atts, err := s.store.OutboxAttempts(ctx, p.AccountID, id)
	if err != nil {
		return nil, nil, err
	}
	return m, atts, nil
}

// ResendWebhookMessage makes one of p's account's messages due again now, delivered or not.
// A message whose secret was erased (a rotation's new secret, once delivered or given up) is
// not resent: the secret is gone by design. Errors: ENotFound, EForbidden, EConflict.
func (s *Service) ResendWebhookMessage(ctx context.Context, p Principal, id string) (*OutboxMessage, error) {
	var m *OutboxMessage
	err := s.mutate(ctx, p, ActionResendWebhook, TargetWebhook, id, func(tx *Service, _ *AuditEvent) error {
		if err := authorize(p, PermAccountWrite, ""); err != nil {
			return err
		}
		var err error
		if m, err = tx.store.OutboxMessage(ctx, p.AccountID, id); err != nil {
			return err
		}
		if kind, _ := ParseDestination(m.Destination); kind != "endpoint" {
			return Errorf(EConflict, "message %s carried a key's new secret, which is erased once delivered or given up: it cannot be resent", m.ID)
		}
		if err := tx.store.RetryOutbox(ctx, p.AccountID, id, tx.Now()); err != nil {
			return err
		}
		m, err = tx.store.OutboxMessage(ctx, p.AccountID, id)
		return err
	})
	return m, err
}
