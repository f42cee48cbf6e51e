package secretscan

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// The headers GitHub signs an alert with.
const (
	HeaderKeyID     = "Github-Public-Key-Identifier"
	HeaderSignature = "Github-Public-Key-Signature"
)

// DefaultKeysURL is where GitHub publishes the keys that sign secret scanning alerts.
const DefaultKeysURL = "https://api.github.com/meta/public_keys/secret_scanning"

// Defaults for the zero values of Options.
const (
	DefaultMinRefetch  = time.Minute
	DefaultMaxKeysBody = 64 << 10 // GitHub's answer is about a kilobyte per key
)

// fetchTimeout bounds one fetch of the keys. The fetch is shared by every caller waiting on
// it, so it cannot run under any one caller's context (see refetch); each caller still
// stops waiting when its own context ends.
const fetchTimeout = 10 * time.Second

// The errors Verify returns, wrapped with what was wrong. Only ErrKeyFetch is GitHub's
// fault or ours rather than the sender's; a caller answers it with a 5xx so that GitHub
// tries again, and the others with a 4xx.
var (
	ErrMissingHeader     = errors.New("secretscan: missing signature header")
	ErrUnknownKey        = errors.New("secretscan: unknown key identifier")
	ErrUnsupportedKey    = errors.New("secretscan: key is not ECDSA P-256")
	ErrSignatureEncoding = errors.New("secretscan: malformed signature")
	ErrSignatureMismatch = errors.New("secretscan: signature does not match")
	ErrKeyFetch          = errors.New("secretscan: cannot fetch GitHub's public keys")
)

// Options configure a Verifier. Zero values take the defaults.
type Options struct {
	// KeysURL is where the public keys are fetched; DefaultKeysURL if empty.
	KeysURL string
	// Client fetches the keys; http.DefaultClient if nil. To raise GitHub's rate limit, give
	// one whose Transport adds an Authorization header.
	Client *http.Client
	// Now is the clock that spaces the fetches; time.Now if nil.
	Now func() time.Time
	// MinRefetch is the least time between two fetches; DefaultMinRefetch if zero.
	MinRefetch time.Duration
	// MaxKeysBody is the largest answer from KeysURL read; DefaultMaxKeysBody if zero.
	MaxKeysBody int64
}

// Verifier checks the signatures of GitHub's alerts. It is safe for concurrent use.
type Verifier struct {
	keysURL     string
	client      *http.Client
	now         func() time.Time
	minRefetch  time.Duration
	maxKeysBody int64

	mu          sync.Mutex
	keys        map[string][]*ecdsa.PublicKey // by key identifier; GitHub may repeat one
	unsupported map[string]string             // identifier → why its key is not used
	fetched     bool                          // a fetch was started at lastFetch
	lastFetch   time.Time
	lastErr     error      // of the last fetch that ended, nil if it succeeded
	inflight    *fetchCall // the fetch under way, if any
}

// fetchCall is one fetch of the keys, which every caller that needs it waits for.
type fetchCall struct {
	done chan struct{}
	err  error // set before done is closed
}

// NewVerifier returns a Verifier with options o. It fetches nothing until the first Verify.
// It fails if KeysURL is not an http or https URL or a duration or size is negative.
func NewVerifier(o Options) (*Verifier, error) {
	v := &Verifier{
		keysURL:     o.KeysURL,
		client:      o.Client,
		now:         o.Now,
		minRefetch:  o.MinRefetch,
		maxKeysBody: o.MaxKeysBody,
	}
	if v.keysURL == "" {
		v.keysURL = DefaultKeysURL
	}
	if u, err := url.Parse(v.keysURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("secretscan: keys URL %q is not an http or https URL", v.keysURL)
	}
	if v.client == nil {
		v.client = http.DefaultClient
	}
	if v.now == nil {
		v.now = time.Now
	}
	switch {
	case v.minRefetch < 0:
		return nil, fmt.Errorf("secretscan: negative MinRefetch %v", v.minRefetch)
	case v.minRefetch == 0:
		v.minRefetch = DefaultMinRefetch
	}
	switch {
	case v.maxKeysBody < 0:
		return nil, fmt.Errorf("secretscan: negative MaxKeysBody %d", v.maxKeysBody)
	case v.maxKeysBody == 0:
		v.maxKeysBody = DefaultMaxKeysBody
	}
	return v, nil
}

// Verify checks that signatureB64, the value of the Github-Public-Key-Signature header,
// is a signature of body by the key GitHub publishes as keyID, the value of
// Github-Public-Key-Identifier. It returns nil if so, and otherwise an error wrapping one of
// ErrMissingHeader, ErrSignatureEncoding, ErrUnknownKey, ErrUnsupportedKey,
// ErrSignatureMismatch or ErrKeyFetch (or ctx's error, wrapped in ErrKeyFetch, if ctx ends
// while it waits for the keys).
//
// body must be the request body exactly as received. An identifier Verify does not know
// makes it fetch the keys again, at most once per MinRefetch.
func (v *Verifier) Verify(ctx context.Context, keyID, signatureB64 string, body []byte) error {
	if keyID == "" {
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderKeyID)
	}
	if signatureB64 == "" {
		return fmt.Errorf("%w: %s", ErrMissingHeader, HeaderSignature)
	}
	sig, err := decodeSignature(signatureB64)
	if err != nil {
		return err
	}
	keys, err := v.lookup(ctx, keyID)
	if err != nil {
		return err
	}
	digest := sha256.Sum256(body)
	for _, k := range keys {
		if ecdsa.VerifyASN1(k, digest[:], sig) {
			return nil
		}
	}
	return fmt.Errorf("%w (key %s)", ErrSignatureMismatch, quote(keyID))
}

// decodeSignature decodes the header's base64 and checks that it holds one DER
// ECDSA signature, so that garbage is told apart from a signature that does not match.
func decodeSignature(s string) ([]byte, error) {
	sig, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: not standard base64: %w", ErrSignatureEncoding, err)
	}
	var rs struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(sig, &rs)
	if err != nil {
		return nil, fmt.Errorf("%w: not an ASN.1 DER ECDSA signature: %w", ErrSignatureEncoding, err)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: %d bytes after the ASN.1 signature", ErrSignatureEncoding, len(rest))
	}
	if rs.R.Sign() <= 0 || rs.S.Sign() <= 0 {
		return nil, fmt.Errorf("%w: r and s must be positive", ErrSignatureEncoding)
	}
	return sig, nil
}

// lookup returns the usable keys published as id, fetching the keys again if id is unknown
// and the last fetch is old enough.
func (v *Verifier) lookup(ctx context.Context, id string) ([]*ecdsa.PublicKey, error) {
	if keys, known, err := v.cached(id); known {
		return keys, err
	}
	if err := v.refetch(ctx); err != nil {
		return nil, err
	}
	if keys, known, err := v.cached(id); known {
		return keys, err
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownKey, quote(id))
}

// cached looks id up among the keys held: known is false if it was not published, and err
// is set if it was but cannot be used.
func (v *Verifier) cached(id string) (keys []*ecdsa.PublicKey, known bool, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if keys := v.keys[id]; len(keys) > 0 {
		return keys, true, nil
	}
	if why, ok := v.unsupported[id]; ok {
		return nil, true, fmt.Errorf("%w: key %s: %s", ErrUnsupportedKey, quote(id), why)
	}
	return nil, false, nil
}

// refetch fetches the keys, or joins the fetch under way, unless the last one started less
// than MinRefetch ago: then it returns nil if that fetch succeeded (the identifier is simply
// unknown) and ErrKeyFetch with its error if it failed, so that a failing key URL is not
// hammered either.
//
// The fetch runs in its own goroutine, under a context that keeps the first caller's values
// but not its cancellation: it is shared, and one caller giving up must not fail the others.
func (v *Verifier) refetch(ctx context.Context) error {
	// A caller that has already given up starts nothing and waits for nothing. Without this,
	// the select below would pick at random between its ended context and a fetch that
	// finished at once.
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrKeyFetch, context.Cause(ctx))
	}
	v.mu.Lock()
	call := v.inflight
	if call == nil {
		now := v.now()
		// A clock set back (since < 0) does not hold the fetches off until it catches up.
		if since := now.Sub(v.lastFetch); v.fetched && since >= 0 && since < v.minRefetch {
			err := v.lastErr
			v.mu.Unlock()
			if err != nil {
				return fmt.Errorf("%w (not tried again for %v): %w", ErrKeyFetch, v.minRefetch-since, err)
			}
			return nil
		}
		v.fetched, v.lastFetch = true, now
		call = &fetchCall{done: make(chan struct{})}
		v.inflight = call
		go v.runFetch(context.WithoutCancel(ctx), call)
	}
	v.mu.Unlock()

	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", ErrKeyFetch, context.Cause(ctx))
	}
}

// runFetch does call's fetch and installs the keys it got. A failed fetch keeps the keys
// held: GitHub's being unreachable for a moment is no reason to refuse alerts signed by a
// key we already know.
func (v *Verifier) runFetch(ctx context.Context, call *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	keys, unsupported, err := v.fetch(ctx)

	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		call.err = fmt.Errorf("%w: %w", ErrKeyFetch, err)
	} else {
		v.keys, v.unsupported = keys, unsupported
	}
	v.lastErr = call.err
	v.inflight = nil
	close(call.done)
}

// keysDocument is the answer of the keys URL. Unknown fields are ignored: it is GitHub's
// document to grow. is_current is ignored too: every published key is trusted, since an
// alert signed just before a rotation may arrive just after it.
type keysDocument struct {
	PublicKeys []struct {
		KeyIdentifier string `json:"key_identifier"`
		Key           string `json:"key"`
	} `json:"public_keys"`
}

// fetch gets and parses the published keys. A key that cannot be used is set aside with the
// reason rather than failing the fetch, so that GitHub publishing a new kind of key does not
// stop us from using the P-256 ones.
func (v *Verifier) fetch(ctx context.Context) (map[string][]*ecdsa.PublicKey, map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.keysURL, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: status %d", v.keysURL, resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, v.maxKeysBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: reading the body: %w", v.keysURL, err)
	}
	if int64(len(raw)) > v.maxKeysBody {
		return nil, nil, fmt.Errorf("GET %s: body larger than %d bytes", v.keysURL, v.maxKeysBody)
	}
	var doc keysDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", v.keysURL, err)
	}
	// An answer without keys is a wrong URL or a broken answer, not GitHub revoking every
	// key; keep the keys we have.
	if len(doc.PublicKeys) == 0 {
		return nil, nil, fmt.Errorf("GET %s: no public_keys", v.keysURL)
	}
	keys := make(map[string][]*ecdsa.PublicKey, len(doc.PublicKeys))
	unsupported := make(map[string]string)
	for _, k := range doc.PublicKeys {
		if k.KeyIdentifier == "" {
			continue
		}
		pub, err := parseKey(k.Key)
		if err != nil {
			unsupported[k.KeyIdentifier] = err.Error()
			continue
		}
		keys[k.KeyIdentifier] = append(keys[k.KeyIdentifier], pub)
	}
	for id := range keys { // a usable key under an identifier wins over an unusable one
		delete(unsupported, id)
	}
	return keys, unsupported, nil
}

// parseKey parses a PEM "PUBLIC KEY" holding an ECDSA P-256 key.
func parseKey(text string) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("PEM block %q, want PUBLIC KEY", block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T", pub)
	}
	if ec.Curve != elliptic.P256() {
		return nil, fmt.Errorf("ECDSA on %s", ec.Curve.Params().Name)
	}
	return ec, nil
}

// quote quotes an identifier from a request for an error message, cut short: it is the
// sender's text, and errors are logged.
func quote(id string) string {
	const max = 80
	if len(id) > max {
		return fmt.Sprintf("%q…", id[:max])
	}
	return fmt.Sprintf("%q", id)
}
