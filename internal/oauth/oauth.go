// Package oauth issues and verifies Keyward's OAuth 2.0 access tokens.
//
// A key is an OAuth client: its id is the client_id and the key itself the client_secret, so
// the client-credentials grant (RFC 6749 §4.4) exchanges a key for a token that carries
// exactly the key's identity, scopes and permissions. Tokens are RFC 9068 JWTs (typ at+jwt),
// signed with a key the deployment shares through its store: created by whichever node finds
// it missing or due, encrypted under the server secret, rotated on a schedule and published
// (GET /.well-known/jwks.json) until every token it signed has expired.
//
// Verification is local: signature, typ, iss, aud, exp and the deny-list, without a store
// read. The deny-list (a revoked token's jti; every token of a revoked or rotated-out key) is
// written to the store and copied by every node at least every SyncEvery. The periodic work
// (copying the deny-list, reloading and rotating signing keys, pruning expired denials) is
// run by the server's jobs (internal/jobs) through SyncDenials, MaintainKeys and
// PruneDenials.
package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
)

// Store is what tokens need of the store.
type Store interface {
	keyward.SigningKeyStore
	keyward.TokenDenyStore
}

// Defaults.
const (
	DefaultLifetime = time.Hour
	DefaultRotation = 30 * 24 * time.Hour
	// SyncEvery is how often every node copies the deny-list from the store.
	SyncEvery = 250 * time.Millisecond
	// KeyRefreshEvery is how often every node reloads the signing keys, and rotates them
	// when due; and how often one node prunes the expired denials.
	KeyRefreshEvery  = time.Minute
	DefaultClockSkew = 30 * time.Second
	// maxPrepublish is how long before a key starts signing it is published: more than a
	// JWKS cache's max-age (JWKSMaxAge) plus a node's key refresh.
	maxPrepublish = 15 * time.Minute
	// JWKSMaxAge is how long a client may cache the JWKS.
	JWKSMaxAge = 5 * time.Minute
	// maxTokenLen refuses absurd bearer values before any parsing.
	maxTokenLen = 16 << 10
	// verifiedCacheSize bounds the cache of tokens whose signature was checked.
	verifiedCacheSize = 100_000
)

// Config configures Tokens.
type Config struct {
	Store Store
	// Secrets are the server secret's versions; signing keys are encrypted under a key
	// derived (HKDF-SHA256) from the newest.
	Secrets []keyformat.Secret
	// Issuer is the iss of every token and the base of the endpoints' URLs.
	Issuer string
	// Audience is the aud of every token; "" for Issuer.
	Audience string
	// Algorithm signs new keys: EdDSA (default), ES256 or RS256.
	Algorithm string
	// Lifetime is a token's lifetime (default 1h, at most keyward.MaxAccessTokenLifetime);
	// never past its key's expiry or the end of its rotation grace.
	Lifetime time.Duration
	// Rotation is how long a signing key signs before the next takes over (default 30 days).
	Rotation time.Duration
	// ClockSkew is the leeway on exp and iat (default 30s).
	ClockSkew time.Duration
	// Now replaces time.Now (tests).
	Now    func() time.Time
	Logger *slog.Logger
}

// Tokens issues, verifies and revokes access tokens. It is safe for concurrent use.
type Tokens struct {
	cfg   Config
	keys  *keyring
	deny  *denyList
	log   *slog.Logger
	cache *verifiedCache
}

// New loads (or creates) the signing keys and reads the deny-list. Keeping both up to date is
// the caller's: SyncDenials every SyncEvery, MaintainKeys and PruneDenials every
// KeyRefreshEvery. Errors: EValidation for a bad configuration; the store's errors.
func New(ctx context.Context, cfg Config) (*Tokens, error) {
	if cfg.Algorithm == "" {
		cfg.Algorithm = EdDSA
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = DefaultLifetime
	}
	if cfg.Rotation == 0 {
		cfg.Rotation = DefaultRotation
	}
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = DefaultClockSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
	}
	var problems []string
	if cfg.Store == nil {
		problems = append(problems, "a store is required")
	}
	if cfg.Issuer == "" {
		problems = append(problems, "an issuer is required")
	}
	if !slices.Contains(Algorithms, cfg.Algorithm) {
		problems = append(problems, fmt.Sprintf("the signing algorithm must be one of %s, not %q", strings.Join(Algorithms, ", "), cfg.Algorithm))
	}
	if cfg.Lifetime < time.Minute || cfg.Lifetime > keyward.MaxAccessTokenLifetime {
		problems = append(problems, fmt.Sprintf("the token lifetime must be between 1m and %s, not %s", keyward.MaxAccessTokenLifetime, cfg.Lifetime))
	}
	if cfg.Rotation < time.Hour {
		problems = append(problems, fmt.Sprintf("the signing-key rotation period must be at least 1h, not %s", cfg.Rotation))
	}
	if len(problems) > 0 {
		return nil, keyward.Errorf(keyward.EValidation, "oauth: %s", strings.Join(problems, "; "))
	}
	sealer, err := newSealer(cfg.Secrets)
	if err != nil {
		return nil, keyward.Errorf(keyward.EValidation, "%v", err)
	}
	t := &Tokens{cfg: cfg, log: cfg.Logger, cache: newVerifiedCache(verifiedCacheSize)}
	t.keys = &keyring{
		store: cfg.Store, sealer: sealer, alg: cfg.Algorithm, rotation: cfg.Rotation,
		prepublish: min(maxPrepublish, cfg.Rotation/4), now: cfg.Now,
		onError: func(msg string, err error) { t.log.Warn("oauth: "+msg, "err", err) },
	}
	t.deny = newDenyList(cfg.Store, cfg.Now)
	if err := t.keys.maintain(ctx); err != nil {
		return nil, fmt.Errorf("oauth: signing keys: %w", err)
	}
	if err := t.deny.sync(ctx); err != nil {
		return nil, fmt.Errorf("oauth: deny-list: %w", err)
	}
	return t, nil
}

// SyncDenials copies what is new in the deny-list from the store. Every node does it every
// SyncEvery, so that a revoked token is refused everywhere within that.
func (t *Tokens) SyncDenials(ctx context.Context) error { return t.deny.sync(ctx) }

// MaintainKeys reloads the signing keys, creating the next one when it is due (of several
// nodes at once, one creates it), and forgets the denials of tokens that have all expired.
// Every node does it every KeyRefreshEvery.
func (t *Tokens) MaintainKeys(ctx context.Context) error {
	err := t.keys.maintain(ctx)
	t.deny.forget(t.cfg.Now())
	return err
}

// PruneDenials deletes the denials whose tokens have all expired from the store. One node
// does it every KeyRefreshEvery; the deletes are idempotent.
func (t *Tokens) PruneDenials(ctx context.Context) error {
	_, err := t.cfg.Store.PruneTokenDenials(ctx, t.cfg.Now().Add(-time.Minute))
	return err
}

// Issuer is the iss of the tokens.
func (t *Tokens) Issuer() string { return t.cfg.Issuer }

// Audience is the aud of the tokens.
func (t *Tokens) Audience() string { return t.cfg.Audience }

// Algorithm is the algorithm new signing keys use.
func (t *Tokens) Algorithm() string { return t.cfg.Algorithm }

// JWKS returns the published public keys as a JSON Web Key Set, and its ETag.
func (t *Tokens) JWKS() ([]byte, string) {
	b := t.keys.jwksJSON()
	return b, etag(b)
}

// claims are an access token's JWT claims (RFC 9068 §2.2, and Keyward's own).
type claims struct {
	Issuer        string   `json:"iss"`
	Subject       string   `json:"sub"`
	Audience      audience `json:"aud"`
	ClientID      string   `json:"client_id"`
	IssuedAt      int64    `json:"iat"`
	Expiry        int64    `json:"exp"`
	ID            string   `json:"jti"`
	Scope         string   `json:"scope"`
	AccountID     string   `json:"account_id"`
	ProjectID     string   `json:"project_id,omitempty"`
	EnvironmentID string   `json:"environment_id,omitempty"`
	UserID        string   `json:"user_id,omitempty"`
	Role          string   `json:"role,omitempty"`
	RoleID        string   `json:"role_id,omitempty"`
	Permissions   []string `json:"permissions,omitempty"`
}

// audience is aud: one string when there is one audience, as Keyward writes it, or an array.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// Issued is a token as the token endpoint answers it.
type Issued struct {
	AccessToken string
	ExpiresIn   int
	Scopes      []string
	Token       *keyward.AccessToken
}

// Issue signs a token for key k, which the caller verified (k valid, id its identity),
// with scopes, a subset of the key's that the caller checked. Errors: EUnauthenticated when
// the key is revoked (as this node's deny-list knows) or within a second of its end;
// EUnavailable when no signing key is usable.
func (t *Tokens) Issue(ctx context.Context, k *keyward.Key, id *keyward.Identity, scopes []string) (*Issued, error) {
	now := t.cfg.Now()
	if t.deny.keyDenied(k.ID, now) {
		return nil, keyward.Errorf(keyward.EUnauthenticated, "the key is revoked")
	}
	exp := now.Add(t.cfg.Lifetime)
	for _, end := range []*time.Time{k.ExpiresAt, k.GraceExpiresAt} {
		if end != nil && end.Before(exp) {
			exp = *end
		}
	}
	// Whole seconds, rounded down: a token never outlives its key.
	iat, expSec := now.Unix(), exp.Unix()
	if expSec-iat < 1 {
		return nil, keyward.Errorf(keyward.EUnauthenticated, "the key expires within a second")
	}
	signer := t.keys.signer(now)
	if signer == nil {
		// The key due now is missing (no node has made it yet): make it.
		if err := t.keys.maintain(ctx); err != nil {
			return nil, &keyward.Error{Code: keyward.EUnavailable, Message: "no signing key is available; retry", Cause: err}
		}
		if signer = t.keys.signer(now); signer == nil {
			return nil, keyward.Errorf(keyward.EUnavailable, "no signing key is available; retry")
		}
	}
	c := claims{
		Issuer: t.cfg.Issuer, Subject: k.ID, Audience: audience{t.cfg.Audience}, ClientID: k.ID,
		IssuedAt: iat, Expiry: expSec, ID: keyward.NewID(), Scope: strings.Join(scopes, " "),
		AccountID: k.AccountID, ProjectID: k.ProjectID, EnvironmentID: k.EnvironmentID, UserID: k.UserID,
	}
	if k.UserID != "" {
		c.Subject = k.UserID
	}
	if id != nil {
		if id.Role != nil {
			c.Role, c.RoleID = id.Role.Slug, id.Role.ID
		}
		c.Permissions = id.Permissions
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("oauth: encoding claims: %w", err)
	}
	jws, err := signer.signer.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("oauth: signing: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return nil, fmt.Errorf("oauth: signing: %w", err)
	}
	return &Issued{AccessToken: token, ExpiresIn: int(expSec - iat), Scopes: scopes, Token: c.token()}, nil
}

func (c *claims) token() *keyward.AccessToken {
	var scopes []string
	if c.Scope != "" {
		scopes = strings.Fields(c.Scope)
	}
	return &keyward.AccessToken{
		ID: c.ID, Issuer: c.Issuer, Subject: c.Subject, Audience: c.Audience, ClientID: c.ClientID,
		AccountID: c.AccountID, ProjectID: c.ProjectID, EnvironmentID: c.EnvironmentID, UserID: c.UserID,
		RoleID: c.RoleID, RoleSlug: c.Role, Scopes: scopes, Permissions: c.Permissions,
		IssuedAt: time.Unix(c.IssuedAt, 0).UTC(), ExpiresAt: time.Unix(c.Expiry, 0).UTC(),
	}
}

// Owns reports whether token is, by its shape, one of this issuer's access tokens: a JWT
// whose iss is the issuer. It does not verify it. Authentication uses it to tell Keyward's
// tokens from an OIDC provider's.
func (t *Tokens) Owns(token string) bool {
	_, payload, ok := split(token)
	if !ok {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return false
	}
	var c struct {
		Issuer string `json:"iss"`
	}
	return json.Unmarshal(b, &c) == nil && c.Issuer == t.cfg.Issuer
}

func split(token string) (header, payload string, ok bool) {
	if len(token) > maxTokenLen {
		return "", "", false
	}
	header, rest, ok1 := strings.Cut(token, ".")
	payload, _, ok2 := strings.Cut(rest, ".")
	return header, payload, ok1 && ok2
}

// Verify checks token: its signature by a published key, typ at+jwt, iss, aud, exp and iat
// (with the clock skew), and the deny-list. It reads no store, but for a token signed by a
// key this node has not loaded yet (another node just created it), at most once a second.
// The code is VALID, or MALFORMED (not a token of ours, or tampered), EXPIRED or REVOKED.
func (t *Tokens) Verify(ctx context.Context, token string) (*keyward.AccessToken, keyward.VerifyCode) {
	now := t.cfg.Now()
	sum := sha256.Sum256([]byte(token))
	tok, ok := t.cache.get(sum)
	if !ok {
		var code keyward.VerifyCode
		if tok, code = t.verifySignature(ctx, token, now); code != keyward.VerifyValid {
			return tok, code
		}
		t.cache.put(sum, tok)
	}
	if !now.Before(tok.ExpiresAt.Add(t.cfg.ClockSkew)) {
		return tok, keyward.VerifyExpired
	}
	if t.deny.denied(tok, now) {
		return tok, keyward.VerifyRevoked
	}
	return tok, keyward.VerifyValid
}

// verifySignature does the checks of Verify that do not change with time or the deny-list.
//
// It takes the compact JWS apart itself and checks the signature with the standard library
// instead of through go-jose's general parser: for a token never seen before this is the
// whole cost of a local verification, and the general path (every JWS feature, maps of
// headers) spent as long again as the signature check. What a token may be is narrow: one
// signature, the alg of the key its kid names, typ at+jwt, no crit.
func (t *Tokens) verifySignature(ctx context.Context, token string, now time.Time) (*keyward.AccessToken, keyward.VerifyCode) {
	headerB64, payloadB64, ok := split(token)
	if !ok {
		return nil, keyward.VerifyMalformed
	}
	signed := token[:len(headerB64)+1+len(payloadB64)]
	sig, err := jwsBase64.DecodeString(token[len(signed)+1:])
	if err != nil || len(sig) == 0 {
		return nil, keyward.VerifyMalformed
	}
	key := t.keys.byHeader(headerB64)
	if key == nil {
		if key = t.parseHeader(ctx, headerB64); key == nil {
			return nil, keyward.VerifyMalformed
		}
	}
	if !verifyJWS(key.public, key.meta.Algorithm, signed, sig) {
		return nil, keyward.VerifyMalformed
	}
	payload, err := jwsBase64.DecodeString(payloadB64)
	if err != nil {
		return nil, keyward.VerifyMalformed
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, keyward.VerifyMalformed
	}
	if c.Issuer != t.cfg.Issuer || !slices.Contains(c.Audience, t.cfg.Audience) || c.ID == "" || c.ClientID == "" || c.AccountID == "" || c.Expiry == 0 {
		return nil, keyward.VerifyMalformed
	}
	if time.Unix(c.IssuedAt, 0).After(now.Add(t.cfg.ClockSkew)) {
		return nil, keyward.VerifyMalformed
	}
	return c.token(), keyward.VerifyValid
}

// parseHeader reads a token's protected header that is not byte for byte one this
// deployment writes (a token from another JWT library, or a forgery), and returns the key it
// names if it is acceptable.
func (t *Tokens) parseHeader(ctx context.Context, headerB64 string) *signingKey {
	headerJSON, err := jwsBase64.DecodeString(headerB64)
	if err != nil {
		return nil
	}
	var h struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Typ  string          `json:"typ"`
		Crit json.RawMessage `json:"crit"`
	}
	// RFC 7515 §4.1.11: a critical extension we do not know makes the token invalid, and we
	// know none.
	if json.Unmarshal(headerJSON, &h) != nil || h.Crit != nil || h.Kid == "" {
		return nil
	}
	if !strings.EqualFold(h.Typ, "at+jwt") && !strings.EqualFold(h.Typ, "application/at+jwt") {
		return nil
	}
	key := t.keys.key(h.Kid)
	if key == nil {
		key = t.keys.refreshFor(ctx, h.Kid)
	}
	// The alg must be the key's own: "none", HS256 with the public key as secret, or a
	// switch between the asymmetric algorithms all end here.
	if key == nil || h.Alg != key.meta.Algorithm {
		return nil
	}
	return key
}

// jwsBase64 decodes the parts of a token. Strict: the unused low bits of a part's last
// character must be zero, so that one token has one spelling (a 64-byte signature leaves 4
// bits over, which a lax decoder would let anyone set to make 16 strings of one token).
var jwsBase64 = base64.RawURLEncoding.Strict()

// verifyJWS checks a JWS signature over signed (RFC 7518 §3.3, §3.4; RFC 8037 §3.1).
func verifyJWS(public any, alg, signed string, sig []byte) bool {
	switch pub := public.(type) {
	case ed25519.PublicKey:
		return alg == EdDSA && ed25519.Verify(pub, []byte(signed), sig)
	case *ecdsa.PublicKey:
		// R and S, 32 bytes each, big-endian: not ASN.1.
		if alg != ES256 || len(sig) != 64 {
			return false
		}
		sum := sha256.Sum256([]byte(signed))
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, sum[:], r, s)
	case *rsa.PublicKey:
		sum := sha256.Sum256([]byte(signed))
		return alg == RS256 && rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig) == nil
	}
	return false
}

// Revoke puts a verified token on the deny-list until it expires, on this node at once and
// on every node within SyncInterval. A token that is already expired needs nothing.
func (t *Tokens) Revoke(ctx context.Context, tok *keyward.AccessToken) error {
	if !t.cfg.Now().Before(tok.ExpiresAt.Add(t.cfg.ClockSkew)) {
		return nil
	}
	d := &keyward.TokenDenial{TokenID: tok.ID, From: t.cfg.Now().UTC(), ExpiresAt: tok.ExpiresAt.Add(t.cfg.ClockSkew)}
	if err := t.cfg.Store.DenyTokens(ctx, d); err != nil {
		return err
	}
	t.deny.apply([]*keyward.TokenDenial{d})
	return nil
}

// verifiedCache remembers tokens whose signature and claims were checked, by the SHA-256 of
// the whole token: a client uses one token for many requests, and a signature check is the
// most expensive step. Expiry and the deny-list are checked on every use.
type verifiedCache struct {
	mu  sync.RWMutex
	max int
	m   map[[32]byte]*keyward.AccessToken
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{max: max, m: map[[32]byte]*keyward.AccessToken{}}
}

func (c *verifiedCache) get(sum [32]byte) (*keyward.AccessToken, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.m[sum]
	return t, ok
}

func (c *verifiedCache) put(sum [32]byte, t *keyward.AccessToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		// Simple and bounded: start over. Tokens are re-verified on their next use.
		clear(c.m)
	}
	c.m[sum] = t
}
