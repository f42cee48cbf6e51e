package oauth

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
)

// Signing algorithms.
const (
	EdDSA = "EdDSA"
	ES256 = "ES256"
	RS256 = "RS256"
)

// Algorithms are the signing algorithms Keyward offers, its default first.
var Algorithms = []string{EdDSA, ES256, RS256}

// encryptionInfo binds the derived key to its one use, so that the server secret's other
// uses (hashing keys) can never yield the same key.
const encryptionInfo = "keyward oauth signing-key encryption v1"

// sealer encrypts signing keys at rest under keys derived from the server secret's versions.
type sealer struct {
	current int
	aeads   map[int]cipher.AEAD
}

func newSealer(secrets []keyformat.Secret) (*sealer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("oauth: no server secret to encrypt signing keys with")
	}
	s := &sealer{aeads: map[int]cipher.AEAD{}}
	for _, sec := range secrets {
		key, err := hkdf.Key(sha256.New, sec.Value, nil, encryptionInfo, 32)
		if err != nil {
			return nil, fmt.Errorf("oauth: deriving the signing-key encryption key: %w", err)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("oauth: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("oauth: %w", err)
		}
		s.aeads[sec.Version] = aead
		if sec.Version > s.current {
			s.current = sec.Version
		}
	}
	return s, nil
}

// aad binds a ciphertext to its key's id and algorithm, so that rows cannot be swapped.
func aad(kid, alg string) []byte { return []byte(kid + "\x00" + alg) }

func (s *sealer) seal(kid, alg string, plain []byte) ([]byte, int) {
	aead := s.aeads[s.current]
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	return aead.Seal(nonce, nonce, plain, aad(kid, alg)), s.current
}

func (s *sealer) open(kid, alg string, version int, sealed []byte) ([]byte, error) {
	aead, ok := s.aeads[version]
	if !ok {
		return nil, fmt.Errorf("server secret version %d is not configured", version)
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("the sealed key is too short")
	}
	return aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad(kid, alg))
}

// generateKey makes a private key for alg.
func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("oauth: unknown signing algorithm %q", alg)
}

// signingKey is a stored key made usable: its public key always, its signer when this node
// can decrypt its private half.
type signingKey struct {
	meta   *keyward.SigningKey
	public any
	jwk    jose.JSONWebKey
	signer jose.Signer // nil when the private key cannot be decrypted here
	// header is the protected header every token this key signs carries, base64url-encoded
	// as it appears in the token: a token that starts with it needs no header parsing.
	header string
}

// keyring holds the signing keys of the deployment, as read from the store.
type keyring struct {
	store  keyward.SigningKeyStore
	sealer *sealer
	alg    string
	// rotation is how long a key signs; lifetime bounds its tokens' life after that.
	rotation, prepublish time.Duration
	now                  func() time.Time
	onError              func(msg string, err error)

	// loadMu makes loads and rotations take turns; mu guards what they publish.
	loadMu   sync.Mutex
	mu       sync.RWMutex
	keys     map[string]*signingKey
	ordered  []*signingKey // by generation
	jwks     []byte
	loadedAt time.Time
}

// load reads the published keys from the store and makes them current.
func (r *keyring) load(ctx context.Context) error {
	now := r.now()
	stored, err := r.store.SigningKeys(ctx, now)
	if err != nil {
		return err
	}
	r.mu.RLock()
	old := r.keys
	r.mu.RUnlock()
	keys := make(map[string]*signingKey, len(stored))
	ordered := make([]*signingKey, 0, len(stored))
	for _, m := range stored {
		k, ok := old[m.ID]
		if !ok {
			if k, err = r.usable(m); err != nil {
				r.onError("a stored signing key cannot be used", fmt.Errorf("key %s: %w", m.ID, err))
				continue
			}
		}
		keys[m.ID] = k
		ordered = append(ordered, k)
	}
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, len(ordered))}
	for i, k := range ordered {
		set.Keys[i] = k.jwk
	}
	jwks, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("oauth: encoding the JWKS: %w", err)
	}
	r.mu.Lock()
	r.keys, r.ordered, r.jwks, r.loadedAt = keys, ordered, jwks, now
	r.mu.Unlock()
	return nil
}

// usable decodes a stored key: its public JWK, and its private key when this node holds the
// server secret it was sealed under.
func (r *keyring) usable(m *keyward.SigningKey) (*signingKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(m.PublicJWK); err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	if !jwk.IsPublic() || jwk.KeyID != m.ID || jwk.Algorithm != m.Algorithm {
		return nil, errors.New("the public key does not match its row")
	}
	// go-jose writes the header's members sorted, as encoding/json writes a map.
	header, err := json.Marshal(map[string]string{"alg": m.Algorithm, "kid": m.ID, "typ": "at+jwt"})
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	k := &signingKey{meta: m, public: jwk.Key, jwk: jwk, header: base64.RawURLEncoding.EncodeToString(header)}
	plain, err := r.sealer.open(m.ID, m.Algorithm, m.SecretVersion, m.PrivateKey)
	if err != nil {
		// Still trusted for verification: another node (with that secret) may sign with it.
		r.onError("a signing key cannot be decrypted; it is trusted but not used to sign", fmt.Errorf("key %s: %w", m.ID, err))
		return k, nil
	}
	priv, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(m.Algorithm), Key: jose.JSONWebKey{Key: priv, KeyID: m.ID, Algorithm: m.Algorithm}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	k.signer = signer
	return k, nil
}

// create makes a key of generation gen that signs from notBefore for one rotation period,
// and stores it. Of two nodes creating one generation, one gets EConflict.
func (r *keyring) create(ctx context.Context, gen int64, notBefore time.Time) error {
	priv, err := generateKey(r.alg)
	if err != nil {
		return err
	}
	now := r.now().UTC().Truncate(time.Microsecond)
	kid := keyward.NewID()
	pub := jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: r.alg, Use: "sig"}
	pubJSON, err := pub.MarshalJSON()
	if err != nil {
		return fmt.Errorf("oauth: encoding a public key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return fmt.Errorf("oauth: encoding a private key: %w", err)
	}
	sealed, version := r.sealer.seal(kid, r.alg, der)
	clear(der)
	notBefore = notBefore.UTC().Truncate(time.Microsecond)
	signUntil := notBefore.Add(r.rotation)
	return r.store.CreateSigningKey(ctx, &keyward.SigningKey{
		ID: kid, Generation: gen, Algorithm: r.alg, PublicJWK: pubJSON, PrivateKey: sealed, SecretVersion: version,
		CreatedAt: now, NotBefore: notBefore, SignUntil: signUntil,
		// Every token the key signs expires by its sign-until plus the longest lifetime a
		// token may have, whatever any node is configured with.
		PublishUntil: signUntil.Add(keyward.MaxAccessTokenLifetime),
	})
}

// maintain reloads the keys and, when the newest stops signing within the prepublication
// period, creates its successor, so that verifiers see a key before its first token. It is
// safe to run on every node at once: one creates the key, the others load it.
func (r *keyring) maintain(ctx context.Context) error {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	if err := r.load(ctx); err != nil {
		return err
	}
	now := r.now()
	r.mu.RLock()
	var newest *keyward.SigningKey
	if n := len(r.ordered); n > 0 {
		newest = r.ordered[n-1].meta
	}
	r.mu.RUnlock()
	var (
		gen       int64 = 1
		notBefore       = now
	)
	if newest != nil {
		if newest.SignUntil.Sub(now) > r.prepublish {
			return nil
		}
		gen = newest.Generation + 1
		if newest.SignUntil.After(now) {
			notBefore = newest.SignUntil
		}
	}
	err := r.create(ctx, gen, notBefore)
	if err != nil && keyward.ErrorCode(err) != keyward.EConflict {
		return err
	}
	// Created here or by another node: either way it is in the store now.
	return r.load(ctx)
}

// refreshFor reloads the keys because a token named kid, unknown here, unless a load ran in
// the last second (so that tokens with made-up kids cannot make every request read the
// store). It reports whether kid is known afterwards.
func (r *keyring) refreshFor(ctx context.Context, kid string) *signingKey {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	r.mu.RLock()
	k, recent := r.keys[kid], r.now().Sub(r.loadedAt) < time.Second
	r.mu.RUnlock()
	if k != nil || recent {
		return k
	}
	if err := r.load(ctx); err != nil {
		r.onError("reloading the signing keys failed", err)
		return nil
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.keys[kid]
}

// byHeader returns the key whose tokens carry header, or nil.
func (r *keyring) byHeader(header string) *signingKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, k := range r.ordered {
		if k.header == header {
			return k
		}
	}
	return nil
}

// key returns the published key kid, or nil.
func (r *keyring) key(kid string) *signingKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.keys[kid]
}

// signer returns the key to sign with at now: the newest that may sign then and that this
// node can use.
func (r *keyring) signer(now time.Time) *signingKey {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, k := range slices.Backward(r.ordered) {
		if k.signer != nil && !k.meta.NotBefore.After(now) && k.meta.SignUntil.After(now) {
			return k
		}
	}
	return nil
}

// jwksJSON returns the published keys as a JSON Web Key Set.
func (r *keyring) jwksJSON() []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.jwks
}

// etag names a JWKS document, for conditional requests.
func etag(b []byte) string {
	sum := sha256.Sum256(b)
	return strconv.Quote(fmt.Sprintf("%x", sum[:8]))
}
