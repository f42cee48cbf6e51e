package keyward

import (
	"context"
	"time"
)

// Store is everything Keyward keeps. Implementations (internal/sqlite, internal/postgres)
// must pass internal/storetest. Times go in and come out in UTC with microsecond precision; a
// lookup of an object in another account is ENotFound.
type Store interface {
	AccountStore
	ProjectStore
	KeyStore
	AdminKeyStore
	UserStore
	RoleStore
	MembershipStore
	AuditStore
	SigningKeyStore
	TokenDenyStore
	RateLimitTierStore
	UsageStore
	OutboxStore
	WebhookEndpointStore
	ScheduleStore
	ImportedKeyStore
	SessionStore
	InventoryStore
	// InTx runs fn as one unit of work: every write fn makes through tx commits together
	// when fn returns nil, and none does when fn returns an error (returned as it is) or the
	// process dies before the commit. Reads through tx see the unit's own writes. tx is
	// valid only until fn returns; tx.InTx runs its fn in the same unit.
	//
	// Units are serializable: on PostgreSQL a unit that lost a race with a concurrent one
	// (serialization failure, deadlock) is rolled back and fn runs again, up to
	// MaxUnitAttempts times in all, so fn must keep every effect inside tx until InTx
	// returns. On SQLite units take turns. A write that fails inside a unit ends it: fn
	// must return that error, not carry on (PostgreSQL refuses every later statement).
	InTx(ctx context.Context, fn func(tx Store) error) error
	// Close releases the store's resources.
	Close() error
}

// MaxUnitAttempts bounds how often a unit of work runs before a store gives up on a race it
// keeps losing and returns EUnavailable.
const MaxUnitAttempts = 10

// AccountStore keeps accounts.
type AccountStore interface {
	// CreateAccount inserts a; EConflict if the name is taken.
	CreateAccount(ctx context.Context, a *Account) error
	// Account returns the account with the id; ENotFound if there is none.
	Account(ctx context.Context, id string) (*Account, error)
	// AccountByName returns the account with the name; ENotFound if there is none.
	AccountByName(ctx context.Context, name string) (*Account, error)
	// ListAccounts returns up to limit accounts with id > after, by id.
	ListAccounts(ctx context.Context, after string, limit int) ([]*Account, error)
	// UpdateAccount writes a's name, key prefix, allowed IPs and leak policy; ENotFound if
	// absent, EConflict if the name is taken.
	UpdateAccount(ctx context.Context, a *Account) error
}

// ProjectStore keeps projects and their environments.
type ProjectStore interface {
	// CreateProject inserts p; EConflict if the account has a project of that name.
	CreateProject(ctx context.Context, p *Project) error
	// Project returns the account's project; ENotFound if absent or another account's.
	Project(ctx context.Context, accountID, id string) (*Project, error)
	// UpdateProject writes p's name and leak policy; ENotFound if absent or another
	// account's, EConflict if the name is taken.
	UpdateProject(ctx context.Context, p *Project) error
	// ListProjects returns up to limit of the account's projects with id > after, by id.
	ListProjects(ctx context.Context, accountID, after string, limit int) ([]*Project, error)

	// CreateEnvironment inserts e; EConflict if its project has an environment of that name.
	CreateEnvironment(ctx context.Context, e *Environment) error
	// Environment returns the account's environment; ENotFound if absent or another account's.
	Environment(ctx context.Context, accountID, id string) (*Environment, error)
	// ListEnvironments returns up to limit of the project's environments with id > after, by id.
	ListEnvironments(ctx context.Context, accountID, projectID, after string, limit int) ([]*Environment, error)
}

// KeyFilter selects keys for ListKeys. Empty fields do not filter.
type KeyFilter struct {
	AccountID     string // required
	ProjectID     string
	EnvironmentID string
	UserID        string
	// AccountOnly selects keys that belong to no project (seed 003's account keys).
	AccountOnly bool
	Status      Status // evaluated at Now, as Key.Status does
	Now         time.Time
	After       string // return keys with id > After
	Limit       int
}

// KeyUse records that a key verified successfully at a time.
type KeyUse struct {
	KeyID string
	At    time.Time
}

// KeyStore keeps API keys. A key's ProjectAccesses are kept as its project memberships
// (see MembershipStore): CreateKey and RotateKey insert them with the key, in one
// transaction, and every read returns them ordered by project id.
type KeyStore interface {
	// CreateKey inserts k and its project accesses, and k.Credits for its lineage unless
	// the lineage has credits already; EConflict if its hash is taken or an
	// access names a project twice; ENotFound if a project or the user is absent or another
	// account's.
	CreateKey(ctx context.Context, k *Key) error
	// CreateKeys inserts keys as CreateKey would, in one transaction: all of them, or none
	// and the first key's error. It is for bulk loads (keyward admin seed-keys), where a
	// transaction per key would spend its time waiting on the disk.
	CreateKeys(ctx context.Context, keys []*Key) error
	// Key returns the account's key; ENotFound if absent or another account's.
	Key(ctx context.Context, accountID, id string) (*Key, error)
	// KeyByHash returns the key with the hash, in any account; ENotFound if there is none.
	KeyByHash(ctx context.Context, hash []byte) (*Key, error)
	// ListKeys returns up to f.Limit keys matching f with id > f.After, ordered by id.
	ListKeys(ctx context.Context, f KeyFilter) ([]*Key, error)
	// UpdateKey writes k's mutable fields (name, scopes, metadata, expires_at, the rotation
	// settings with the sealed rotation webhook secret and the rotation grace, role_id,
	// rate_limit_tier, allowed IPs, and the notice times ExpiryNotifiedAt and ExhaustedAt) and
	// nothing else (not the leak record: see MarkKeyLeaked); ENotFound if absent or another
	// account's.
	UpdateKey(ctx context.Context, k *Key) error
	// RevokeKey sets revoked_at to at unless it is already set, and returns the key as it
	// now is; ENotFound if absent or another account's.
	RevokeKey(ctx context.Context, accountID, id string, at time.Time) (*Key, error)
	// RotateKey atomically marks the old key replaced by next and inserts next with its
	// project accesses. The old key
	// gets replaced_by_key_id = next.ID and grace_expires_at = graceUntil; with a nil
	// graceUntil it is revoked at next.CreatedAt instead. It returns the old key as it now
	// is. ENotFound if the old key is absent or another account's; EConflict if it is
	// revoked or already replaced, so of two concurrent rotations exactly one wins. next
	// fails as CreateKey would fail for it.
	RotateKey(ctx context.Context, accountID, oldID string, next *Key, graceUntil *time.Time) (*Key, error)
	// SetCredits sets the usage credits of the account's key lineage; nil makes its use
	// uncounted. Every key of the lineage reads them. ENotFound if no key of the account
	// has the lineage.
	SetCredits(ctx context.Context, accountID, lineageID string, c *Credits) error
	// SpendCredits applies a due refill (Credits.Refilled at now) and then takes cost from
	// the lineage's credits if they cover it, atomically: of any number of concurrent
	// spends, no two see the same credits. ENotFound if the lineage has no credits.
	SpendCredits(ctx context.Context, lineageID string, cost int64, now time.Time) (CreditSpend, error)
	// MirrorCredits writes back what copies of credits kept elsewhere showed. A mirror is
	// written only if its version is the stored one and it is newer: a later refill, or
	// within one refill period fewer remaining (spends only lower them), so that mirrors
	// from many nodes may arrive in any order. Lineages without credits are skipped.
	MirrorCredits(ctx context.Context, mirrors []CreditMirror) error
	// TouchKeys raises each key's last_used_at to its use time (never lowers it). Keys that
	// no longer exist are skipped.
	TouchKeys(ctx context.Context, uses []KeyUse) error
}

// AdminKeyStore keeps management credentials.
type AdminKeyStore interface {
	// CreateAdminKey inserts k; EConflict if its hash is taken.
	CreateAdminKey(ctx context.Context, k *AdminKey) error
	// AdminKeyByHash returns the admin key with the hash; ENotFound if there is none.
	AdminKeyByHash(ctx context.Context, hash []byte) (*AdminKey, error)
	// AdminKeys returns every admin key of every account, revoked or not, by id. There are
	// few.
	AdminKeys(ctx context.Context) ([]*AdminKey, error)
	// RevokeAdminKey sets the admin key's revocation time to at and returns it; ENotFound
	// if there is no such key, EConflict if it is revoked already.
	RevokeAdminKey(ctx context.Context, id string, at time.Time) (*AdminKey, error)
	// CountAdminKeys counts admin keys, revoked or not, in all accounts: zero means the
	// store has never been bootstrapped.
	CountAdminKeys(ctx context.Context) (int, error)
	// BootstrapAdminKey inserts k, and a before it unless an account of a's name exists (k
	// then belongs to that one), in one step, if and only if no admin key exists at all. It
	// reports whether it did: of several nodes bootstrapping one store at once, exactly one
	// does. k.AccountID is set to the account's id.
	BootstrapAdminKey(ctx context.Context, a *Account, k *AdminKey) (bool, error)
}

// KeyEvents hears of every change to a key that affects verification (revoke, rotate,
// update), so that caches can drop what they hold for it.
type KeyEvents interface {
	KeyChanged(ctx context.Context, k *Key)
}

// UserStore keeps users.
type UserStore interface {
	// CreateUser inserts u; EConflict if another user has its issuer and subject; ENotFound
	// if its account is absent.
	CreateUser(ctx context.Context, u *User) error
	// User returns the account's user; ENotFound if absent or another account's.
	User(ctx context.Context, accountID, id string) (*User, error)
	// UserBySubject returns the user with the OIDC issuer and subject, in any account;
	// ENotFound if there is none.
	UserBySubject(ctx context.Context, issuer, subject string) (*User, error)
	// ListUsers returns up to limit of the account's users with id > after, by id.
	ListUsers(ctx context.Context, accountID, after string, limit int) ([]*User, error)
	// UpdateUser writes u's email, name, role_id and disabled_at; ENotFound if absent or
	// another account's.
	UpdateUser(ctx context.Context, u *User) error
}

// RoleStore keeps an account's custom roles; built-in roles are not stored.
type RoleStore interface {
	// CreateRole inserts r; EConflict if the account has a role with its slug; ENotFound if
	// its account is absent.
	CreateRole(ctx context.Context, r *Role) error
	// Role returns the account's custom role; ENotFound if absent or another account's.
	Role(ctx context.Context, accountID, id string) (*Role, error)
	// ListRoles returns up to limit of the account's custom roles with id > after, by id.
	ListRoles(ctx context.Context, accountID, after string, limit int) ([]*Role, error)
	// UpdateRole writes r's name, description and permissions; ENotFound if absent or
	// another account's.
	UpdateRole(ctx context.Context, r *Role) error
	// DeleteRole deletes the account's custom role; ENotFound if absent or another
	// account's; EConflict while a user, key or membership holds it.
	DeleteRole(ctx context.Context, accountID, id string) error
}

// MembershipFilter selects memberships. Empty fields do not filter.
type MembershipFilter struct {
	AccountID string // required
	ProjectID string
	UserID    string
	KeyID     string
	After     string // return memberships with id > After
	Limit     int    // 0 for no limit
}

// MembershipStore keeps project memberships of users and keys.
type MembershipStore interface {
	// CreateMembership inserts m; EConflict if its user or key is already a member of the
	// project; ENotFound if the project, user or key is absent or another account's.
	CreateMembership(ctx context.Context, m *Membership) error
	// Membership returns the account's membership; ENotFound if absent or another account's.
	Membership(ctx context.Context, accountID, id string) (*Membership, error)
	// ListMemberships returns memberships matching f with id > f.After, by id.
	ListMemberships(ctx context.Context, f MembershipFilter) ([]*Membership, error)
	// UpdateMembership writes m's role_id; ENotFound if absent or another account's.
	UpdateMembership(ctx context.Context, m *Membership) error
	// DeleteMembership deletes the account's membership; ENotFound if absent or another
	// account's.
	DeleteMembership(ctx context.Context, accountID, id string) error
}

// AuditFilter selects audit events. Empty fields do not filter.
type AuditFilter struct {
	AccountID string // required
	ActorID   string
	Action    string
	TargetID  string
	Outcome   string
	From, To  time.Time // At >= From and At < To, when not zero
	// Before returns events with id < Before: the log is read newest first.
	Before string
	Limit  int
}

// AuditStore keeps the audit log. Events are never changed or deleted through it.
type AuditStore interface {
	// RecordAudit inserts e; EConflict if its id is taken.
	RecordAudit(ctx context.Context, e *AuditEvent) error
	// ListAuditEvents returns up to f.Limit events matching f, newest (highest id) first.
	ListAuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, error)
	// AuditAccountIDs returns up to limit of the account ids that events name with id >
	// after, by id, each once. The log keeps the events of accounts the store does not hold
	// (any more, or ever), which ListAccounts cannot reach.
	AuditAccountIDs(ctx context.Context, after string, limit int) ([]string, error)
}

// IdentityEvents hears of changes that may change what keys stand for (a user disabled, a
// role's permissions changed, a membership added or removed), so that caches of resolved
// identities can be dropped.
type IdentityEvents interface {
	IdentityChanged(ctx context.Context, accountID string)
}

// RateLimitTierStore keeps the tiers an account has defined or changed (the built-in ones it
// has not changed are not stored) and requests for tiers that need approval.
type RateLimitTierStore interface {
	// CreateRateLimitTier inserts t; EConflict if the account has a stored tier of its name.
	CreateRateLimitTier(ctx context.Context, t *RateLimitTier) error
	// RateLimitTier returns the account's stored tier; ENotFound if absent.
	RateLimitTier(ctx context.Context, accountID, name string) (*RateLimitTier, error)
	// ListRateLimitTiers returns the account's stored tiers, by name.
	ListRateLimitTiers(ctx context.Context, accountID string) ([]*RateLimitTier, error)
	// UpdateRateLimitTier writes t's description, limit, requires_approval, fail mode and
	// updated_at; ENotFound if absent.
	UpdateRateLimitTier(ctx context.Context, t *RateLimitTier) error

	// CreateTierRequest inserts r; ENotFound if its key is absent or another account's.
	CreateTierRequest(ctx context.Context, r *TierRequest) error
	// TierRequest returns the account's tier request; ENotFound if absent.
	TierRequest(ctx context.Context, accountID, id string) (*TierRequest, error)
	// ListTierRequests returns up to f.Limit requests matching f with id > f.After, by id.
	ListTierRequests(ctx context.Context, f TierRequestFilter) ([]*TierRequest, error)
	// DecideTierRequest moves a pending request to r.Status (approved or rejected) with
	// r.DecidedBy, r.DecidedAt and r.Reason, and when approved sets its key's tier to
	// r.Tier, in one transaction. ENotFound if absent; EConflict if it is no longer pending.
	DecideTierRequest(ctx context.Context, r *TierRequest) error
}

// UsageStore keeps verification counts per key, outcome and minute.
type UsageStore interface {
	// AddUsage adds each count to the stored count of its key, minute and outcome, in one
	// transaction. Counts of keys that no longer exist are dropped.
	AddUsage(ctx context.Context, counts []UsageCount) error
	// Usage sums the counts matching f into buckets of f.Granularity, ordered by start
	// and then outcome; buckets with no count are left out.
	Usage(ctx context.Context, f UsageFilter) ([]UsageBucket, error)
	// PruneUsage deletes counts of minutes before before and reports how many rows went.
	PruneUsage(ctx context.Context, before time.Time) (int64, error)
	// ListUsageCounts returns up to f.Limit of the account's stored counts, one per key,
	// minute and outcome, as they are stored (each with its key's project), ordered by key
	// id, then minute, then outcome, beginning after f.After. Where Usage sums counts into a
	// report, this lists them, so that a store can be copied a page at a time.
	ListUsageCounts(ctx context.Context, f UsageCountFilter) ([]UsageCount, error)
}

// UsageCountFilter pages through an account's stored usage counts for ListUsageCounts.
type UsageCountFilter struct {
	AccountID string // required
	// After is the last count of the previous page: the listing goes on from its key,
	// minute and outcome. nil starts at the first.
	After *UsageCount
	Limit int
}
