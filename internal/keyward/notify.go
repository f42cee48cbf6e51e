package keyward

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"time"
)

// Event is something that happened to an account's keys, as its webhooks hear of it. The
// service builds events inside the unit of work of the change; an EventEncoder turns each
// into the body every subscribed endpoint receives.
type Event struct {
	// ID is the message id the receiver sees as webhook-id: the same on every retry.
	ID        string
	Topic     string
	AccountID string
	At        time.Time
	// Key is the key the event is about (api_key.* topics), as it is after the change.
	Key *Key
	// Replaced is the key a rotation replaced (api_key.rotated).
	Replaced *Key
	// Expiry is the end api_key.expiring warns of: the key's expiry or its grace end.
	Expiry *time.Time
	// TierRequest is the request of tier_request.* topics.
	TierRequest *TierRequest
	// Endpoint is the endpoint a webhook.test message goes to.
	Endpoint *WebhookEndpoint
}

// EventEncoder encodes an event as the body its webhooks receive. The transport owns the
// shape (the API's own JSON objects), so that a key in a webhook reads as it does in the API;
// it must never include a secret.
type EventEncoder func(e *Event) ([]byte, error)

// WithEventEncoder makes the service write an outbox message for every event an enabled
// webhook endpoint subscribes to, with the body enc makes. Without it no event leaves.
func WithEventEncoder(enc EventEncoder) ServiceOption { return func(s *Service) { s.encode = enc } }

// Sealer encrypts secrets the store must keep readable (webhook signing secrets, a rotated
// key's new secret until it is delivered), bound to the id of what holds them.
type Sealer interface {
	Seal(plain, context []byte) []byte
	Open(sealed, context []byte) ([]byte, error)
}

// WithSealer sets how secrets kept for webhooks are encrypted at rest. Without one, webhook
// endpoints and rotation webhooks cannot be created (EUnavailable).
func WithSealer(sl Sealer) ServiceOption { return func(s *Service) { s.sealer = sl } }

// WithURLCheck adds a check of webhook URLs (the transport's guard against internal
// addresses) to the domain's own rules of shape.
func WithURLCheck(check func(raw string) error) ServiceOption {
	return func(s *Service) { s.checkURL = check }
}

// WebhookSecretPrefix starts every webhook signing secret, as Standard Webhooks writes them.
const WebhookSecretPrefix = "whsec_"

// newWebhookSecret makes a signing secret: whsec_ and 32 random bytes in standard base64.
func newWebhookSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("keyward: crypto/rand failed: " + err.Error())
	}
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// sealFor seals a secret for the row id; EUnavailable when no sealer is configured.
func (s *Service) sealFor(id, secret string) ([]byte, error) {
	if s.sealer == nil {
		return nil, Errorf(EUnavailable, "webhooks are not configured on this server")
	}
	return s.sealer.Seal([]byte(secret), []byte(id)), nil
}

// OpenSecret opens a secret sealFor sealed for the row id.
func (s *Service) OpenSecret(id string, sealed []byte) (string, error) {
	if s.sealer == nil {
		return "", Errorf(EUnavailable, "webhooks are not configured on this server")
	}
	plain, err := s.sealer.Open(sealed, []byte(id))
	if err != nil {
		return "", err
	}
	return string(plain), nil
}

// SealOutbox seals a message's secret for the message id (see OutboxMessage.Sealed).
func (s *Service) SealOutbox(msgID, secret string) ([]byte, error) { return s.sealFor(msgID, secret) }

// validateWebhookURL applies the domain's rules and the transport's address check.
func (s *Service) validateWebhookURL(field, raw string) error {
	if err := validateURL(field, raw); err != nil {
		return err
	}
	if s.checkURL != nil {
		if err := s.checkURL(raw); err != nil {
			return Errorf(EValidation, "%s: %v", field, err)
		}
	}
	return nil
}

// emit writes an outbox message of e for every enabled endpoint of e's account that
// subscribes to its topic, in the caller's unit of work. orderKey orders the messages of one
// key (its lineage) to each endpoint.
func (s *Service) emit(ctx context.Context, e *Event, orderKey string) error {
	if s.encode == nil {
		return nil
	}
	if e.At.IsZero() {
		e.At = s.Now()
	}
	var msgs []*OutboxMessage
	after := ""
	for {
		eps, err := s.store.ListWebhookEndpoints(ctx, e.AccountID, after, 100)
		if err != nil {
			return err
		}
		for _, ep := range eps {
			if !ep.Subscribes(e.Topic) {
				continue
			}
			ev := *e
			ev.ID = NewMessageID()
			body, err := s.encode(&ev)
			if err != nil {
				return Errorf(EInternal, "encoding the %s event: %v", e.Topic, err)
			}
			msgs = append(msgs, &OutboxMessage{
				ID: ev.ID, AccountID: e.AccountID, Topic: e.Topic,
				Destination: EndpointDestination(ep.ID), OrderKey: orderKey,
				Payload: body, CreatedAt: e.At,
			})
		}
		if len(eps) < 100 {
			break
		}
		after = eps[len(eps)-1].ID
	}
	if len(msgs) == 0 {
		return nil
	}
	return s.store.EnqueueOutbox(ctx, msgs...)
}

// emitKey emits topic about k, ordered by its lineage.
func (s *Service) emitKey(ctx context.Context, topic string, k *Key) error {
	return s.emit(ctx, &Event{Topic: topic, AccountID: k.AccountID, Key: k}, k.LineageID)
}

// NewMessageID is an outbox message's id, and the webhook-id its receiver sees.
func NewMessageID() string { return "msg_" + NewID() }

// Outbox destinations: a webhook endpoint, or a key's own rotation webhook.
const (
	destEndpoint = "endpoint:"
	destKey      = "api_key:"
)

// EndpointDestination is the outbox destination of a webhook endpoint.
func EndpointDestination(id string) string { return destEndpoint + id }

// KeyDestination is the outbox destination of a key's rotation webhook.
func KeyDestination(id string) string { return destKey + id }

// ParseDestination splits a destination into its kind ("endpoint", "api_key") and id.
func ParseDestination(d string) (kind, id string) {
	for _, p := range []string{destEndpoint, destKey} {
		if len(d) > len(p) && d[:len(p)] == p {
			return p[:len(p)-1], d[len(p):]
		}
	}
	return "", d
}

// emitTierRequest emits topic about r, ordered with its key's events.
func (s *Service) emitTierRequest(ctx context.Context, topic string, r *TierRequest) error {
	return s.emit(ctx, &Event{Topic: topic, AccountID: r.AccountID, TierRequest: r}, r.KeyID)
}

// Seal encrypts a value the server hands out and must read back unchanged (the dashboard's
// sign-in state), bound to purpose, under the server secret: any node can open it.
func (s *Service) Seal(purpose, plain string) ([]byte, error) {
	return s.sealFor("seal:"+purpose, plain)
}

// Unseal opens what Seal made for purpose.
func (s *Service) Unseal(purpose string, sealed []byte) (string, error) {
	return s.OpenSecret("seal:"+purpose, sealed)
}
