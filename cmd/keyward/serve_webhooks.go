package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/jobs"
	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/seal"
	"github.com/keyward/keyward/internal/secretscan"
	"github.com/keyward/keyward/internal/verify"
	"github.com/keyward/keyward/internal/webhook"
)

// sealPurpose binds the key that seals webhook secrets and rotated keys' secrets in the
// outbox to that one use of the server secret.
const sealPurpose = "keyward webhook secrets v1"

// webhookHooks builds what the service needs for webhooks, keeps the client rules for the
// deliverer, and sets up the verification of GitHub's secret scanning alerts.
func (m *Main) webhookHooks() ([]keyward.ServiceOption, error) {
	opts, hooks, err := webhookServiceOptions(&m.Config, m.secrets)
	if err != nil {
		return nil, err
	}
	m.webhookOpts = opts
	if u := m.Config.SecretScanningKeysURL; u != "off" {
		if m.scanning, err = secretscan.NewVerifier(secretscan.Options{KeysURL: u, Now: m.Now}); err != nil {
			return nil, fmt.Errorf("secret-scanning-keys-url: %w", err)
		}
	}
	return hooks, nil
}

// webhookServiceOptions are the service's webhook hooks, for the server and for the operator
// commands alike: the sealer, the event encoding, and the address check of webhook URLs
// under the client rules it returns (the ones the deliverer dials with).
func webhookServiceOptions(cfg *config.Config, secrets []keyformat.Secret) (webhook.Options, []keyward.ServiceOption, error) {
	opts := webhook.Options{AllowPrivate: cfg.WebhookAllowPrivate, AllowHTTP: cfg.WebhookAllowPrivate}
	sealer, err := seal.New(secrets, sealPurpose)
	if err != nil {
		return opts, nil, err
	}
	if f := cfg.WebhookCAFile; f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return opts, nil, fmt.Errorf("webhook-ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return opts, nil, fmt.Errorf("webhook-ca-file %s holds no PEM certificate", f)
		}
		opts.RootCAs = pool
	}
	return opts, []keyward.ServiceOption{
		keyward.WithSealer(sealer),
		keyward.WithEventEncoder(httpapi.EncodeEvent),
		keyward.WithURLCheck(func(raw string) error { return webhook.CheckURL(raw, opts) }),
	}, nil
}

// Webhook job intervals: how often each node looks for due messages (the delay of a
// webhook after its change), and how long delivered and given-up messages are kept for the
// delivery log.
const (
	deliverEvery     = time.Second
	outboxRetention  = 30 * 24 * time.Hour
	pruneOutboxEvery = time.Hour
)

// addWebhookJobs adds the webhook work: every node delivers (the store hands each message
// to one node at a time) and reloads the imported keys' filter; the leader rotates due keys,
// sends expiry notices and prunes the outbox.
func (m *Main) addWebhookJobs() {
	m.jobs.Add(jobs.Task{Name: "deliver-webhooks", Every: deliverEvery, Timeout: 5 * time.Minute, Run: m.deliverer.Run})
	m.jobs.Add(jobs.Task{Name: "reload-imported-keys", Every: verify.ImportReloadEvery, Timeout: 30 * time.Second, Run: m.verifier.LoadImported})
	m.jobs.Add(jobs.Task{Name: "rotate-due-keys", Every: m.Config.ScheduleEvery, LeaderOnly: true, AtStart: true, Run: m.rotateDueKeys})
	m.jobs.Add(jobs.Task{Name: "notify-expiring-keys", Every: m.Config.ScheduleEvery, LeaderOnly: true, AtStart: true, Run: m.notifyExpiring})
	m.jobs.Add(jobs.Task{Name: "prune-outbox", Every: pruneOutboxEvery, LeaderOnly: true, AtStart: true, Run: m.pruneOutbox})
}

func (m *Main) rotateDueKeys(ctx context.Context) error {
	rotated, notified, err := m.service.RotateDueKeys(ctx)
	if rotated+notified > 0 {
		m.log.Info("scheduled rotation", "rotated", rotated, "rotation_due_sent", notified)
	}
	return err
}

func (m *Main) notifyExpiring(ctx context.Context) error {
	n, err := m.service.NotifyExpiringKeys(ctx, m.Config.ExpiryNotice)
	if n > 0 {
		m.log.Info("expiry notices", "sent", n)
	}
	return err
}

func (m *Main) pruneOutbox(ctx context.Context) error {
	n, err := m.store.PruneOutbox(ctx, m.Now().Add(-outboxRetention))
	if n > 0 {
		m.log.Info("pruned the outbox", "messages", n, "older_than", outboxRetention)
	}
	return err
}

// nodeName names this process in the outbox's leases: the host, the pid and a random part,
// so that a restarted process never finishes what its previous life claimed.
func nodeName() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
