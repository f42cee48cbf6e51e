package keyward

import "context"

// Inventory counts what a store holds, kind by kind, so that a copy of the store (keyward
// migrate-store) can check that it holds as much.
type Inventory struct {
	Accounts     int
	Projects     int
	Environments int
	Roles        int // custom roles: built-in roles are not stored
	Users        int
	Keys         int // API keys, revoked and replaced ones too
	Memberships  int // project memberships of users and of keys (keys' project accesses)
	AdminKeys    int
	AuditEvents  int // of every account, including accounts the store no longer holds
	SigningKeys  int // token-signing keys, published or not
	TokenDenials int // expired or not, until they are pruned
	Tiers        int // rate-limit tiers accounts have stored: their own and changed built-ins
	TierRequests int
	Credits      int // key lineages with usage credits (a lineage's keys share them)
	UsageCounts  int // stored usage counts: one per key, minute and outcome
	// WebhookEndpoints are every account's endpoints; PendingOutbox the outbox messages
	// still waiting to be delivered (delivered and abandoned ones are history, not copied).
	WebhookEndpoints int
	PendingOutbox    int
}

// InventoryStore tells what a store holds as a whole.
type InventoryStore interface {
	// Inventory counts everything the store holds, every kind from one snapshot.
	Inventory(ctx context.Context) (Inventory, error)
}
