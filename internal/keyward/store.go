package keyward

import (
	"context"
	"time"
)

// Store is everything Keyward keeps. Implementations (internal/sqlite, later
// internal/postgres) must pass internal/storetest. Times go in and come out in UTC with
// microsecond precision; a lookup of an object in another account is ENotFound.
type Store interface {
	AccountStore
	ProjectStore
	KeyStore
	AdminKeyStore
	// Close releases the store's resources.
	Close() error
}

// AccountStore keeps accounts.
type AccountStore interface {
	// CreateAccount inserts a; EConflict if the name is taken.
	CreateAccount(ctx context.Context, a *Account) error
	// Account returns the account with the id; ENotFound if there is none.
	Account(ctx context.Context, id string) (*Account, error)
	// AccountByName returns the account with the name; ENotFound if there is none.
	AccountByName(ctx context.Context, name string) (*Account, error)
}

// ProjectStore keeps projects and their environments.
type ProjectStore interface {
	// CreateProject inserts p; EConflict if the account has a project of that name.
	CreateProject(ctx context.Context, p *Project) error
	// Project returns the account's project; ENotFound if absent or another account's.
	Project(ctx context.Context, accountID, id string) (*Project, error)
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
	Status        Status // evaluated at Now, as Key.Status does
	Now           time.Time
	After         string // return keys with id > After
	Limit         int
}

// KeyUse records that a key verified successfully at a time.
type KeyUse struct {
	KeyID string
	At    time.Time
}

// KeyStore keeps API keys.
type KeyStore interface {
	// CreateKey inserts k; EConflict if its hash is taken.
	CreateKey(ctx context.Context, k *Key) error
	// Key returns the account's key; ENotFound if absent or another account's.
	Key(ctx context.Context, accountID, id string) (*Key, error)
	// KeyByHash returns the key with the hash, in any account; ENotFound if there is none.
	KeyByHash(ctx context.Context, hash []byte) (*Key, error)
	// ListKeys returns up to f.Limit keys matching f with id > f.After, ordered by id.
	ListKeys(ctx context.Context, f KeyFilter) ([]*Key, error)
	// UpdateKey writes k's mutable fields (name, scopes, metadata, expires_at and the
	// rotation settings) and nothing else; ENotFound if absent or another account's.
	UpdateKey(ctx context.Context, k *Key) error
	// RevokeKey sets revoked_at to at unless it is already set, and returns the key as it
	// now is; ENotFound if absent or another account's.
	RevokeKey(ctx context.Context, accountID, id string, at time.Time) (*Key, error)
	// RotateKey atomically marks the old key replaced by next and inserts next. The old key
	// gets replaced_by_key_id = next.ID and grace_expires_at = graceUntil; with a nil
	// graceUntil it is revoked at next.CreatedAt instead. It returns the old key as it now
	// is. ENotFound if the old key is absent or another account's; EConflict if it is
	// revoked or already replaced, so of two concurrent rotations exactly one wins.
	RotateKey(ctx context.Context, accountID, oldID string, next *Key, graceUntil *time.Time) (*Key, error)
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
	// CountAdminKeys counts admin keys, revoked or not, in all accounts: zero means the
	// store has never been bootstrapped.
	CountAdminKeys(ctx context.Context) (int, error)
}

// KeyEvents hears of every change to a key that affects verification (revoke, rotate,
// update), so that caches can drop what they hold for it.
type KeyEvents interface {
	KeyChanged(ctx context.Context, k *Key)
}
