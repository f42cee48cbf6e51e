package authn

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/internal/keyward"
)

const (
	defaultClockSkew = 30 * time.Second
	// maxClockSkew bounds the leeway: past a few minutes a skew setting stops excusing clock
	// drift and starts extending the life of stolen tokens.
	maxClockSkew = 5 * time.Minute
	// defaultOIDCTimeout bounds discovery and each JWKS fetch. It matters for the JWKS:
	// one fetch serves every verification waiting for keys, so a fetch that never ended
	// would stall every later key refresh.
	defaultOIDCTimeout = 10 * time.Second
	// maxJWTLen refuses absurd bearer values before any parsing; real access tokens, even
	// with many roles (Keycloak), stay well under it.
	maxJWTLen = 32 << 10
)

// OIDCConfig configures OIDC access-token verification.
type OIDCConfig struct {
	// Issuer is the issuer identifier, e.g. https://tenant.eu.auth0.com/. It is compared
	// byte for byte with the discovery document's issuer and with each token's iss, so a
	// trailing slash matters.
	Issuer string
	// Audience is the aud value a token must carry (for Auth0, the API identifier).
	// Required: a token issued for another API of the same tenant must not be accepted.
	Audience string
	// ClockSkew is the leeway allowed on exp, nbf and iat for clocks that disagree.
	// Zero means 30s; more than 5 minutes is refused.
	ClockSkew time.Duration
	// HTTPClient makes the discovery and JWKS requests. Nil means a client with a 10s
	// timeout; each JWKS fetch is bounded to 10s whatever the client.
	HTTPClient *http.Client
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// OIDCClaims is what Keyward takes from a verified token.
type OIDCClaims struct {
	Issuer  string
	Subject string
	// Email and Name are the email and name claims when present. Providers often put them
	// only in ID tokens (Auth0 does unless an Action adds them), so they may be empty.
	Email  string
	Name   string
	Expiry time.Time
	// Raw holds every claim as decoded by encoding/json (numbers are float64), for claim
	// mappings such as an account claim.
	Raw map[string]any
}

// OIDCVerifier verifies OIDC access tokens (JWTs) from one issuer. It is safe for
// concurrent use; keep one for the life of the process so that its cached keys are reused.
type OIDCVerifier struct {
	verifier *oidc.IDTokenVerifier
	keys     *keySet
	skew     time.Duration
	now      func() time.Time
}

// NewOIDCVerifier reads the issuer's discovery document (/.well-known/openid-configuration)
// once and returns a verifier for its tokens. The signing keys are fetched on first use and
// again whenever a token names a key the verifier has not seen. Errors: EValidation when cfg
// is incomplete, or the discovery document names another issuer or (for an https issuer) a
// jwks_uri that is not https; EUnavailable when the document cannot be fetched or read.
func NewOIDCVerifier(ctx context.Context, cfg OIDCConfig) (*OIDCVerifier, error) {
	var problems []string
	if cfg.Issuer == "" {
		problems = append(problems, "an issuer is required")
	}
	if cfg.Audience == "" {
		problems = append(problems, "an audience is required")
	}
	if cfg.ClockSkew < 0 || cfg.ClockSkew > maxClockSkew {
		problems = append(problems, "the clock skew must be between 0 and 5m")
	}
	if len(problems) > 0 {
		return nil, keyward.Errorf(keyward.EValidation, "OIDC: %s", strings.Join(problems, "; "))
	}
	skew := cfg.ClockSkew
	if skew == 0 {
		skew = defaultClockSkew
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: defaultOIDCTimeout}
	}

	ctx = oidc.ClientContext(ctx, client)
	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		if mismatch, ok := errors.AsType[*oidc.IssuerMismatchError](err); ok {
			return nil, withCause(keyward.Errorf(keyward.EValidation,
				"OIDC: the discovery document names issuer %q, not the configured %q", mismatch.Discovered, cfg.Issuer), err)
		}
		return nil, withCause(keyward.Errorf(keyward.EUnavailable,
			"OIDC: cannot read the discovery document of %s", cfg.Issuer), err)
	}
	var meta struct {
		JWKSURL string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&meta); err != nil || meta.JWKSURL == "" {
		return nil, withCause(keyward.Errorf(keyward.EUnavailable,
			"OIDC: the discovery document of %s has no jwks_uri", cfg.Issuer), err)
	}
	// The keys decide what is trusted: an https issuer that sent us to plain http for them
	// would let anyone on the path sign tokens.
	if strings.HasPrefix(cfg.Issuer, "https://") && !strings.HasPrefix(meta.JWKSURL, "https://") {
		return nil, keyward.Errorf(keyward.EValidation,
			"OIDC: the discovery document of %s gives a jwks_uri that is not https", cfg.Issuer)
	}

	algs := signingAlgs(meta.Algs)
	keys := &keySet{url: meta.JWKSURL, client: client, minRefetch: minJWKSRefetch}
	for _, a := range algs {
		keys.algs = append(keys.algs, jose.SignatureAlgorithm(a))
	}
	verifier := oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{
		ClientID:             cfg.Audience,
		SupportedSigningAlgs: algs,
		// go-oidc checks exp with no leeway and nbf with a fixed 5 minutes; Verify checks
		// both itself with the configured skew.
		SkipExpiryCheck: true,
		Now:             now,
	})
	return &OIDCVerifier{verifier: verifier, keys: keys, skew: skew, now: now}, nil
}

// asymmetricAlgs are the algorithms a token may be signed with, whatever the issuer
// advertises. Only public-key algorithms: with HS256 the verifier's key would be a shared
// secret, and "none" is no signature at all.
var asymmetricAlgs = map[string]bool{
	oidc.RS256: true, oidc.RS384: true, oidc.RS512: true,
	oidc.PS256: true, oidc.PS384: true, oidc.PS512: true,
	oidc.ES256: true, oidc.ES384: true, oidc.ES512: true,
	oidc.EdDSA: true,
}

// signingAlgs pins the accepted algorithms to those the issuer advertises and Keyward allows;
// RS256, the one algorithm OIDC requires, when the issuer advertises none of them.
func signingAlgs(advertised []string) []string {
	var algs []string
	for _, a := range advertised {
		if asymmetricAlgs[a] {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256}
	}
	return algs
}

// Verify checks rawToken's signature against the issuer's keys, its issuer, audience,
// algorithm and times, and returns its claims. Errors: EUnauthenticated when the token is
// not valid; EUnavailable when the issuer's keys could not be fetched to check it.
func (v *OIDCVerifier) Verify(ctx context.Context, rawToken string) (*OIDCClaims, error) {
	// go-oidc would also parse the JWS JSON serialization; a bearer JWT is always compact.
	if len(rawToken) > maxJWTLen || !LooksLikeJWT(rawToken) {
		return nil, keyward.Errorf(keyward.EUnauthenticated, "the bearer token is not a JWT")
	}
	var fetch fetchFailure
	token, err := v.verifier.Verify(context.WithValue(ctx, fetchFailureKey{}, &fetch), rawToken)
	if err != nil {
		if fetch.err != nil {
			return nil, withCause(keyward.Errorf(keyward.EUnavailable,
				"the OIDC issuer's signing keys cannot be fetched; try again later"), fetch.err)
		}
		return nil, unauthenticated("the access token is not valid", err)
	}
	var raw map[string]any
	if err := token.Claims(&raw); err != nil {
		return nil, unauthenticated("the access token is not valid", err)
	}

	now := v.now()
	exp, ok, err := numericDate(raw, "exp")
	switch {
	case err != nil:
		return nil, unauthenticated("the access token is not valid", err)
	case !ok:
		// A token without exp would be a credential that never expires.
		return nil, unauthenticated("the access token has no expiry", nil)
	case !now.Before(exp.Add(v.skew)):
		return nil, unauthenticated("the access token has expired", nil)
	}
	for _, name := range []string{"nbf", "iat"} {
		t, ok, err := numericDate(raw, name)
		if err != nil {
			return nil, unauthenticated("the access token is not valid", err)
		}
		if ok && now.Add(v.skew).Before(t) {
			return nil, unauthenticated("the access token is not valid yet", nil)
		}
	}
	if token.Subject == "" {
		// Keyward must be able to say who acted; a token for nobody names no principal.
		return nil, unauthenticated("the access token has no subject", nil)
	}

	claims := &OIDCClaims{Issuer: token.Issuer, Subject: token.Subject, Expiry: exp, Raw: raw}
	claims.Email, _ = raw["email"].(string)
	claims.Name, _ = raw["name"].(string)
	return claims, nil
}

// numericDate returns the JSON NumericDate claim name of raw (RFC 7519 §2), and whether it
// is present. A present claim that is not a plain number is an error: go-oidc also accepts
// numeric strings, which the RFC does not.
func numericDate(raw map[string]any, name string) (time.Time, bool, error) {
	v, ok := raw[name]
	if !ok {
		return time.Time{}, false, nil
	}
	f, ok := v.(float64)
	// ±1e12 seconds is ±31,000 years: beyond it the conversion to int64 is not meaningful.
	if !ok || math.Abs(f) > 1e12 {
		return time.Time{}, false, errors.New("oidc: claim " + name + " is not a NumericDate")
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

func unauthenticated(message string, cause error) *keyward.Error {
	return withCause(keyward.Errorf(keyward.EUnauthenticated, "%s", message), cause)
}

func withCause(e *keyward.Error, cause error) *keyward.Error {
	e.Cause = cause
	return e
}

// keySet holds the issuer's signing keys (its JWKS) and fetches them again when a token
// names a kid it does not hold: that is how an issuer's key rotation reaches us (OIDC Core
// §10.1). It replaces go-oidc's RemoteKeySet, which releases the callers waiting on a fetch
// before it updates its cache: for a moment after a refetch the old keys still verify, and a
// failed fetch that has just ended is handed to the next caller. It also refetches whenever a
// signature does not verify, so every forged token would cost a request to the issuer; this
// one refetches only for an unknown kid, and not again within minRefetch of the last
// successful fetch: a stream of tokens with made-up kids costs the issuer one request per
// minRefetch.
type keySet struct {
	url        string
	client     *http.Client
	algs       []jose.SignatureAlgorithm // as pinned for go-oidc's verifier
	minRefetch time.Duration

	mu        sync.Mutex
	keys      []jose.JSONWebKey
	inflight  *keyFetch // the fetch under way, which every caller that misses joins
	fetchedAt time.Time // when the last successful fetch ended; zero before the first
}

// minJWKSRefetch is how soon after a fetch an unknown kid may fetch the keys again. An
// issuer publishes a new key before it signs with it, so a genuine new kid is rarely
// refused for this long; made-up kids cannot make Keyward hammer the issuer.
const minJWKSRefetch = 10 * time.Second

var _ oidc.KeySet = (*keySet)(nil)

// keyFetch is one JWKS fetch; done is closed once keys and err are set.
type keyFetch struct {
	done chan struct{}
	keys []jose.JSONWebKey
	err  error
}

// fetchFailure receives, through the context of one Verify call, the error of a failed key
// fetch during that call: go-oidc's verifier formats a key set's error with %v, so its type
// does not survive to the caller, and Verify must tell "no key verifies this token"
// (EUnauthenticated) from "the keys could not be fetched" (EUnavailable).
type fetchFailure struct{ err error }

type fetchFailureKey struct{}

// errNoKey is the failure for a token that no published key verifies.
var errNoKey = errors.New("oidc: no published key verifies the token's signature")

// VerifySignature implements oidc.KeySet: it returns the payload of jwt if one of the
// issuer's keys verifies its signature.
func (s *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	// go-oidc's verifier has already parsed the token with the same algorithms, but it keeps
	// the result to itself.
	jws, err := jose.ParseSignedCompact(jwt, s.algs)
	if err != nil {
		return nil, err
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("oidc: the token must have exactly one signature")
	}
	header := jws.Signatures[0].Header

	s.mu.Lock()
	keys := s.keys
	s.mu.Unlock()
	candidates := keysFor(keys, header)
	if len(candidates) == 0 {
		keys, err := s.refresh(ctx)
		if err != nil {
			if f, ok := ctx.Value(fetchFailureKey{}).(*fetchFailure); ok {
				f.err = err
			}
			return nil, err
		}
		candidates = keysFor(keys, header)
	}
	for _, key := range candidates {
		if payload, err := jws.Verify(key); err == nil {
			return payload, nil
		}
	}
	return nil, errNoKey
}

// keysFor returns the keys that may have signed a token with header: those with its kid
// (every key when it has none) that are meant for signatures with its algorithm.
func keysFor(keys []jose.JSONWebKey, header jose.Header) []*jose.JSONWebKey {
	var match []*jose.JSONWebKey
	for i := range keys {
		k := &keys[i]
		if header.KeyID != "" && k.KeyID != header.KeyID {
			continue
		}
		if k.Use == "enc" || (k.Algorithm != "" && k.Algorithm != header.Algorithm) {
			continue
		}
		match = append(match, k)
	}
	return match
}

// refresh fetches the JWKS, or joins the fetch under way, and returns the keys. The fetch
// runs on its own goroutine and context, so that a caller that gives up does not fail the
// others waiting on it.
func (s *keySet) refresh(ctx context.Context) ([]jose.JSONWebKey, error) {
	s.mu.Lock()
	if s.inflight == nil && !s.fetchedAt.IsZero() && time.Since(s.fetchedAt) < s.minRefetch {
		keys := s.keys
		s.mu.Unlock()
		return keys, nil
	}
	f := s.inflight
	if f == nil {
		f = &keyFetch{done: make(chan struct{})}
		s.inflight = f
		go s.fetch(f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.keys, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *keySet) fetch(f *keyFetch) {
	keys, err := s.download()
	// Publish the keys and end the fetch before waking the waiters: once any of them
	// returns, the next verification sees the new keys, and the next miss fetches anew.
	s.mu.Lock()
	if err == nil {
		// Only a success starts the pause: after a failure the next miss tries again (one
		// fetch at a time still), so that keys come back as soon as the issuer does.
		s.keys, s.fetchedAt = keys, time.Now()
	}
	s.inflight = nil
	s.mu.Unlock()
	f.keys, f.err = keys, err
	close(f.done)
}

// maxJWKSSize bounds what Keyward reads from the issuer; real key sets are a few KiB.
const maxJWKSSize = 1 << 20

func (s *keySet) download() ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultOIDCTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("oidc: JWKS request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("oidc: fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("oidc: fetch JWKS from %s: %s", s.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("oidc: read JWKS: %w", err)
	}
	if len(body) > maxJWKSSize {
		return nil, fmt.Errorf("oidc: the JWKS at %s is larger than %d bytes", s.url, maxJWKSSize)
	}
	return parseJWKS(body)
}

// parseJWKS returns the public signing keys of a JWKS document. Keys of a type go-jose does
// not know (Ed448, say) are skipped, as RFC 7517 §5 asks, rather than failing the whole set.
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("oidc: decode JWKS: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := json.Unmarshal(raw, &k); err != nil {
			continue
		}
		// Public drops private material an issuer should never have published.
		if pub := k.Public(); pub.Valid() && k.Use != "enc" {
			keys = append(keys, pub)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("oidc: the JWKS holds no usable signing key")
	}
	return keys, nil
}

// LooksLikeJWT reports whether token has the shape of a compact JWS: three base64url
// segments separated by dots, the first decoding to a JSON object. It decides whether a
// bearer credential goes to OIDC or to API-key verification, so it is cheap: one pass over
// the bytes, and the header decoded into a stack buffer. Keyward's own keys never contain a
// dot, so they never look like a JWT. The signature segment may be empty (alg none) so that
// such tokens are refused by OIDC verification rather than treated as API keys.
func LooksLikeJWT(token string) bool {
	var dots [2]int
	n := 0
	for i := 0; i < len(token); i++ {
		c := token[i]
		switch {
		case c == '.':
			if n == len(dots) {
				return false
			}
			dots[n] = i
			n++
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	if n != 2 {
		return false
	}
	header, payload, signature := token[:dots[0]], token[dots[0]+1:dots[1]], token[dots[1]+1:]
	if header == "" || payload == "" || len(payload)%4 == 1 || len(signature)%4 == 1 {
		return false
	}

	// Real headers are a few dozen bytes; a header with an x5c chain may be longer, and then
	// pays for an allocation.
	var srcBuf [1024]byte
	var dstBuf [768]byte
	src, dst := []byte(nil), dstBuf[:]
	if len(header) <= len(srcBuf) {
		src = srcBuf[:copy(srcBuf[:], header)]
	} else {
		src = []byte(header)
		dst = make([]byte, base64.RawURLEncoding.DecodedLen(len(header)))
	}
	m, err := base64.RawURLEncoding.Decode(dst, src)
	if err != nil {
		return false
	}
	decoded := dst[:m]
	for len(decoded) > 0 && (decoded[0] == ' ' || decoded[0] == '\t' || decoded[0] == '\n' || decoded[0] == '\r') {
		decoded = decoded[1:]
	}
	return len(decoded) > 0 && decoded[0] == '{' && json.Valid(decoded)
}
