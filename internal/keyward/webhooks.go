package keyward

import (
	"context"
	"time"
)

// WebhookEndpoint is a URL of an account's that hears of what happens to its keys: every
// event of the topics it subscribes to is written to the outbox, in the unit of work of the
// change, and delivered to it signed with its secret (Standard Webhooks).
type WebhookEndpoint struct {
	ID        string
	AccountID string
	URL       string
	// Description is the caller's own note.
	Description string
	// Topics are the events it receives ("api_key.created"); empty receives all.
	Topics []string
	// Enabled endpoints receive events; an endpoint is disabled by its owner, or by Keyward
	// when it answers 410 Gone (DisabledReason says which).
	Enabled        bool
	DisabledReason string
	// Secret is the endpoint's whsec_ signing secret, sealed under the server secret.
	Secret []byte
	// PreviousSecret, sealed, signs beside Secret until PreviousSecretUntil, so that a
	// receiver can switch to a rotated secret without losing a message; nil when none.
	PreviousSecret      []byte
	PreviousSecretUntil *time.Time
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// Subscribes reports whether the endpoint receives events of topic.
func (e *WebhookEndpoint) Subscribes(topic string) bool {
	if !e.Enabled {
		return false
	}
	if len(e.Topics) == 0 {
		return true
	}
	for _, t := range e.Topics {
		if t == topic {
			return true
		}
	}
	return false
}

// WebhookEndpointStore keeps webhook endpoints.
type WebhookEndpointStore interface {
	// CreateWebhookEndpoint inserts e.
	CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// WebhookEndpoint returns the account's endpoint; ENotFound if absent or another
	// account's.
	WebhookEndpoint(ctx context.Context, accountID, id string) (*WebhookEndpoint, error)
	// ListWebhookEndpoints returns up to limit of the account's endpoints with id > after,
	// by id.
	ListWebhookEndpoints(ctx context.Context, accountID, after string, limit int) ([]*WebhookEndpoint, error)
	// UpdateWebhookEndpoint writes e's URL, description, topics, enabled, disabled reason,
	// secrets and updated_at; ENotFound if absent or another account's.
	UpdateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error
	// DeleteWebhookEndpoint deletes the account's endpoint; ENotFound if absent or another
	// account's. Its messages stay in the outbox, and are abandoned when their turn comes.
	DeleteWebhookEndpoint(ctx context.Context, accountID, id string) error
}

// The event topics webhooks carry.
const (
	TopicKeyCreated     = "api_key.created"
	TopicKeyUpdated     = "api_key.updated"
	TopicKeyRevoked     = "api_key.revoked"
	TopicKeyRotated     = "api_key.rotated"
	TopicKeyExpiring    = "api_key.expiring"
	TopicKeyRotationDue = "api_key.rotation_due"
	TopicKeyLeaked      = "api_key.leaked"
	TopicKeyExhausted   = "api_key.usage_exceeded"
	TopicTierRequested  = "tier_request.created"
	TopicTierDecided    = "tier_request.decided"
	TopicWebhookTest    = "webhook.test"
)

// Topics lists every topic an endpoint may subscribe to, in a fixed order.
var Topics = []string{
	TopicKeyCreated, TopicKeyUpdated, TopicKeyRevoked, TopicKeyRotated, TopicKeyExpiring,
	TopicKeyRotationDue, TopicKeyLeaked, TopicKeyExhausted, TopicTierRequested, TopicTierDecided,
	TopicWebhookTest,
}

// Leak policies: what a report that a key leaked does to it.
const (
	// LeakRevoke revokes the key at once (the default).
	LeakRevoke = "revoke"
	// LeakNotify records the leak and tells the webhooks, and leaves the key working.
	LeakNotify = "notify"
)

// DefaultRotationGrace is how long the old key keeps verifying after a scheduled rotation
// when the key sets no grace of its own: a week, for the receiver of the new secret to roll
// it out.
const DefaultRotationGrace = 7 * 24 * time.Hour

// ImportHashScheme marks a key imported from another system with the unkeyed SHA-256 of its
// secret: such a key is found by that hash (see ImportedKeyStore) until its first successful
// verification rehashes it under the server secret.
const ImportHashScheme = "sha256-import"

// KeyNotice names a once-only notice about a key (see KeyStore.MarkKeyNotice).
type KeyNotice string

// The once-only notices.
const (
	// NoticeExpiring is api_key.expiring, kept in ExpiryNotifiedAt.
	NoticeExpiring KeyNotice = "expiring"
	// NoticeExhausted is api_key.usage_exceeded, kept in ExhaustedAt.
	NoticeExhausted KeyNotice = "exhausted"
)

// ScheduleStore finds the keys the scheduled jobs act on, in every account.
type ScheduleStore interface {
	// DueRotations returns up to limit keys whose next_rotation_at is at or before now and
	// that are neither revoked nor replaced, soonest due first.
	DueRotations(ctx context.Context, now time.Time, limit int) ([]*Key, error)
	// ExpiringKeys returns up to limit unrevoked keys not yet notified (ExpiryNotifiedAt
	// nil) whose expires_at or grace_expires_at is after now and at or before until.
	ExpiringKeys(ctx context.Context, now, until time.Time, limit int) ([]*Key, error)
	// MarkKeyNotice sets the notice's time on the account's key to at, unless it is set
	// already, and reports whether it set it: of two nodes sending the same notice, one wins.
	// ENotFound if the key is absent or another account's.
	MarkKeyNotice(ctx context.Context, accountID, id string, notice KeyNotice, at time.Time) (bool, error)
	// MarkKeyLeaked records that the account's key was reported leaked at at, found at
	// source/url, and returns the key as it now is; ENotFound if absent or another account's.
	MarkKeyLeaked(ctx context.Context, accountID, id string, at time.Time, source, url string) (*Key, error)
}

// ImportedKeyStore keeps what the import path needs.
type ImportedKeyStore interface {
	// ImportedKeyHashes returns the hashes of the keys imported from other systems: those
	// whose scheme is ImportHashScheme, or ends in ImportedSchemeSuffix once rehashed.
	ImportedKeyHashes(ctx context.Context) ([][]byte, error)
	// RehashKey replaces the account's key's hash oldHash with newHash under scheme; ENotFound
	// if the key is absent, another account's, or no longer has oldHash (another node
	// rehashed it first).
	RehashKey(ctx context.Context, accountID, id string, oldHash, newHash []byte, scheme string) error
}
