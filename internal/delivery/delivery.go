// Package delivery sends the outbox's messages to their webhooks: it claims due messages
// with a lease, signs and sends each through webhook.Sender, records every attempt, and moves
// each message on (delivered, retried on the schedule, or given up). Any node may run it at
// once with the others: the store hands each message to one holder at a time, and a holder
// that dies mid-delivery loses its lease, so the message is sent again, with the same
// webhook-id, by whoever claims it next. Delivery is at least once, in order per key.
package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/webhook"
)

// Store is what delivery reads and writes.
type Store interface {
	keyward.OutboxStore
	keyward.WebhookEndpointStore
	Key(ctx context.Context, accountID, id string) (*keyward.Key, error)
}

// Secrets opens the sealed secrets delivery signs with and sends; *keyward.Service is one.
type Secrets interface {
	EndpointSecrets(ep *keyward.WebhookEndpoint, now time.Time) ([]string, error)
	OpenSecret(id string, sealed []byte) (string, error)
}

// Config configures a Deliverer.
type Config struct {
	Store   Store
	Secrets Secrets
	Sender  *webhook.Sender
	// Owner names this node in the leases it takes; it must differ between nodes.
	Owner string
	// Batch is how many messages one claim takes (default 16); they are sent concurrently.
	Batch int
	// Lease is how long a claimed message is this node's (default 2 minutes): longer than
	// an attempt's timeout, so that a live sender never loses a message it is sending.
	Lease time.Duration
	// Now is the scheduling clock (default time.Now). Signatures always carry the wall
	// clock, which is what receivers check them against.
	Now    func() time.Time
	Logger *slog.Logger
	// Checkpoint, when set, is called with "webhook:sent" after a message was sent and before
	// the attempt is recorded: crash tests stop the process there.
	Checkpoint func(point string)
}

// Deliverer sends due outbox messages. It is safe for concurrent use.
type Deliverer struct{ cfg Config }

// New returns a Deliverer.
func New(cfg Config) *Deliverer {
	if cfg.Batch <= 0 {
		cfg.Batch = 16
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Deliverer{cfg: cfg}
}

// maxRounds bounds the claims one Run makes, so that a run ends even while messages keep
// arriving; the next run carries on.
const maxRounds = 20

// Run delivers what is due now, claim by claim, until nothing is or maxRounds is reached.
func (d *Deliverer) Run(ctx context.Context) error {
	for range maxRounds {
		msgs, err := d.cfg.Store.ClaimOutbox(ctx, d.cfg.Owner, d.cfg.Now(), d.cfg.Lease, d.cfg.Batch)
		if err != nil {
			return err
		}
		var wg sync.WaitGroup
		errs := make([]error, len(msgs))
		for i, m := range msgs {
			wg.Go(func() { errs[i] = d.deliver(ctx, m) })
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if len(msgs) < d.cfg.Batch {
			return nil
		}
	}
	return nil
}

// target is where a message goes and what signs it.
type target struct {
	url      string
	secrets  []webhook.Secret
	endpoint *keyward.WebhookEndpoint // nil for a key's rotation webhook
}

// deliver makes one attempt at m, which this node holds, and records it.
func (d *Deliverer) deliver(ctx context.Context, m *keyward.OutboxMessage) error {
	now := d.cfg.Now()
	t, body, give, err := d.prepare(ctx, m, now)
	if err != nil {
		return err
	}
	attempt := &keyward.OutboxAttempt{MessageID: m.ID, Attempt: m.Attempts, At: now}
	if give != "" {
		attempt.Error = give
		return d.finish(ctx, attempt, keyward.OutboxOutcome{Abandon: true})
	}
	res := d.cfg.Sender.Send(ctx, webhook.Delivery{URL: t.url, ID: m.ID, Timestamp: time.Now(), Body: body, Secrets: t.secrets})
	if d.cfg.Checkpoint != nil {
		d.cfg.Checkpoint("webhook:sent")
	}
	attempt.Duration, attempt.StatusCode = res.Duration, res.StatusCode
	if res.Err != nil {
		attempt.Error = res.Err.Error()
		if res.Excerpt != "" {
			attempt.Error += ": " + res.Excerpt
		}
	}
	var out keyward.OutboxOutcome
	switch res.Outcome {
	case webhook.Delivered:
		out.Delivered = true
	case webhook.Gone:
		out.Abandon = true
		if attempt.Error == "" {
			attempt.Error = "the endpoint answered 410 Gone"
		}
		if t.endpoint != nil {
			if err := d.disable(ctx, t.endpoint, now); err != nil {
				return err
			}
		}
	default:
		if attempt.Error == "" {
			attempt.Error = fmt.Sprintf("the endpoint answered %d", res.StatusCode)
		}
		out = retry(m.Attempts, now, res.RetryAfter)
	}
	return d.finish(ctx, attempt, out)
}

// retry is the outcome of a failed attempt number n: the schedule's next time, no earlier
// than the endpoint asked, or giving up after the last.
func retry(n int, now time.Time, after time.Duration) keyward.OutboxOutcome {
	at, ok := webhook.NextAttempt(n, now, nil)
	if !ok {
		return keyward.OutboxOutcome{Abandon: true}
	}
	if earliest := now.Add(after); at.Before(earliest) {
		at = earliest
	}
	return keyward.OutboxOutcome{RetryAt: at}
}

func (d *Deliverer) finish(ctx context.Context, a *keyward.OutboxAttempt, out keyward.OutboxOutcome) error {
	err := d.cfg.Store.FinishOutbox(ctx, d.cfg.Owner, a, out)
	if keyward.ErrorCode(err) == keyward.EConflict {
		// The lease ran out and another node took the message: its attempt counts.
		d.cfg.Logger.Warn("delivery: a message's lease ran out while it was sent", "message", a.MessageID)
		return nil
	}
	return err
}

// prepare finds m's target and body. give is set, and the rest empty, when the message can
// never be delivered (its endpoint or key is gone or disabled).
func (d *Deliverer) prepare(ctx context.Context, m *keyward.OutboxMessage, now time.Time) (t target, body []byte, give string, err error) {
	kind, id := keyward.ParseDestination(m.Destination)
	switch kind {
	case "endpoint":
		ep, err := d.cfg.Store.WebhookEndpoint(ctx, m.AccountID, id)
		if keyward.ErrorCode(err) == keyward.ENotFound {
			return t, nil, "the webhook endpoint was deleted", nil
		}
		if err != nil {
			return t, nil, "", err
		}
		if !ep.Enabled {
			return t, nil, "the webhook endpoint is disabled: " + ep.DisabledReason, nil
		}
		plain, err := d.cfg.Secrets.EndpointSecrets(ep, now)
		if err != nil {
			return t, nil, "", fmt.Errorf("delivery: endpoint %s's secret: %w", ep.ID, err)
		}
		t = target{url: ep.URL, endpoint: ep}
		if t.secrets, err = parseSecrets(plain); err != nil {
			return t, nil, "", err
		}
		return t, m.Payload, "", nil
	case "api_key":
		k, err := d.cfg.Store.Key(ctx, m.AccountID, id)
		if keyward.ErrorCode(err) == keyward.ENotFound {
			return t, nil, "the key was deleted", nil
		}
		if err != nil {
			return t, nil, "", err
		}
		if k.RotationWebhookURL == "" || k.RotationWebhookSecret == nil {
			return t, nil, "the key no longer has a rotation webhook", nil
		}
		if m.Sealed == nil {
			return t, nil, "the new secret was erased", nil
		}
		plain, err := d.cfg.Secrets.OpenSecret(k.ID, k.RotationWebhookSecret)
		if err != nil {
			return t, nil, "", fmt.Errorf("delivery: key %s's webhook secret: %w", k.ID, err)
		}
		t = target{url: k.RotationWebhookURL}
		if t.secrets, err = parseSecrets([]string{plain}); err != nil {
			return t, nil, "", err
		}
		secret, err := d.cfg.Secrets.OpenSecret(m.ID, m.Sealed)
		if err != nil {
			return t, nil, "", fmt.Errorf("delivery: message %s's sealed secret: %w", m.ID, err)
		}
		body, err := withSecret(m.Payload, secret)
		if err != nil {
			return t, nil, "", err
		}
		return t, body, "", nil
	}
	return t, nil, fmt.Sprintf("unknown destination %q", m.Destination), nil
}

func parseSecrets(plain []string) ([]webhook.Secret, error) {
	out := make([]webhook.Secret, 0, len(plain))
	for _, p := range plain {
		s, err := webhook.ParseSecret(p)
		if err != nil {
			return nil, fmt.Errorf("delivery: a stored webhook secret does not parse: %w", err)
		}
		out = append(out, s)
	}
	return out, nil
}

// withSecret puts a rotation's new secret into the payload's data as "secret": it exists in
// the clear only in the request that carries it.
func withSecret(payload []byte, secret string) ([]byte, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(payload, &env); err != nil {
		return nil, fmt.Errorf("delivery: the payload is not a JSON object: %w", err)
	}
	var data map[string]json.RawMessage
	if err := json.Unmarshal(env["data"], &data); err != nil {
		return nil, fmt.Errorf("delivery: the payload's data is not a JSON object: %w", err)
	}
	s, _ := json.Marshal(secret)
	data["secret"] = s
	var err error
	if env["data"], err = json.Marshal(data); err != nil {
		return nil, err
	}
	return json.Marshal(env)
}

// disable takes an endpoint that answered 410 out of service.
func (d *Deliverer) disable(ctx context.Context, ep *keyward.WebhookEndpoint, now time.Time) error {
	ep.Enabled = false
	ep.DisabledReason = "the endpoint answered 410 Gone at " + now.UTC().Format(time.RFC3339)
	ep.UpdatedAt = now
	err := d.cfg.Store.UpdateWebhookEndpoint(ctx, ep)
	if keyward.ErrorCode(err) == keyward.ENotFound {
		return nil
	}
	return err
}
