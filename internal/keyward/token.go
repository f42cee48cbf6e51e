package keyward

import (
	"context"
	"slices"
	"time"
)

// MaxAccessTokenLifetime bounds the lifetime of an OAuth access token, whatever the
// configuration says. A key's deny-list entry (see TokenDenial) is kept this long after it
// takes effect, because no token of the key can outlive it by more.
const MaxAccessTokenLifetime = 24 * time.Hour

// AccessToken is a verified OAuth access token: a key's identity, scopes and permissions as
// they were when the token was issued by the client-credentials grant.
type AccessToken struct {
	// ID is the token's jti.
	ID       string
	Issuer   string
	Subject  string
	Audience []string
	// ClientID is the key the token was issued to.
	ClientID      string
	AccountID     string
	ProjectID     string
	EnvironmentID string
	UserID        string
	RoleID        string
	RoleSlug      string
	// Scopes are the token's scopes: the key's, or the subset the client asked for.
	Scopes []string
	// Permissions are the key's effective permissions when the token was issued.
	Permissions Permissions
	IssuedAt    time.Time
	ExpiresAt   time.Time
}

// HasScopes reports whether every one of scopes is among the token's.
func (t *AccessToken) HasScopes(scopes []string) bool {
	for _, s := range scopes {
		if !slices.Contains(t.Scopes, s) {
			return false
		}
	}
	return true
}

// SigningKey is a key that signs OAuth access tokens. Every node of a deployment signs with
// the newest one it may sign with, and trusts every one still published.
type SigningKey struct {
	// ID is the key's kid.
	ID string
	// Generation orders the keys; it is unique, so that of two nodes rotating at once only
	// one creates the next key.
	Generation int64
	// Algorithm is the JWS algorithm: EdDSA, ES256 or RS256.
	Algorithm string
	// PublicJWK is the public key as a JSON Web Key.
	PublicJWK []byte
	// PrivateKey is the private key, encrypted under a key derived from the server secret
	// of version SecretVersion. It is never stored in the clear.
	PrivateKey    []byte
	SecretVersion int
	CreatedAt     time.Time
	// NotBefore and SignUntil bound when the key signs; it is published from its creation,
	// so that verifiers can fetch it before the first token it signs.
	NotBefore time.Time
	SignUntil time.Time
	// PublishUntil is when the last token the key may sign has expired: the key is
	// published and trusted until then.
	PublishUntil time.Time
}

// SigningKeyStore keeps the keys that sign access tokens.
type SigningKeyStore interface {
	// CreateSigningKey inserts k; EConflict if its id or generation is taken.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// SigningKeys returns the keys still published at now (PublishUntil after now), by
	// generation. At the zero time that is every key, as a copy of the store needs.
	SigningKeys(ctx context.Context, now time.Time) ([]*SigningKey, error)
}

// TokenDenial refuses access tokens before they expire: one token by its id, or, from a
// time on, every token of a key issued before that time.
type TokenDenial struct {
	// ID is assigned by the store: it increases with every denial, so that a reader can
	// ask for the denials after the last it saw.
	ID int64
	// TokenID is the jti of the token refused; "" for a denial of a key's tokens.
	TokenID string
	// KeyID is the key whose tokens issued before From are refused from From on; "" for a
	// denial of one token. A token issued after From (the key's revocation failed, and it
	// is still live) is not refused.
	KeyID string
	From  time.Time
	// ExpiresAt is when the denial is no longer needed: every token it refuses has expired.
	ExpiresAt time.Time
}

// TokenDenyStore keeps the deny-list of access tokens that every node enforces.
type TokenDenyStore interface {
	// DenyTokens inserts d and sets its ID.
	DenyTokens(ctx context.Context, d *TokenDenial) error
	// TokenDenials returns up to limit denials with id > afterID that have not expired at
	// now, by id. At the zero time that is every denial not yet pruned.
	TokenDenials(ctx context.Context, afterID int64, now time.Time, limit int) ([]*TokenDenial, error)
	// PruneTokenDenials deletes the denials that expired before before, and returns how many.
	PruneTokenDenials(ctx context.Context, before time.Time) (int, error)
}

// denyKeyTokens refuses, from from on, every access token of the key issued before from,
// because the key is revoked or its rotation grace ends then.
func (s *Service) denyKeyTokens(ctx context.Context, keyID string, from time.Time) error {
	return s.store.DenyTokens(ctx, &TokenDenial{KeyID: keyID, From: from, ExpiresAt: from.Add(MaxAccessTokenLifetime)})
}
