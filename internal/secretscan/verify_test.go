package secretscan_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/secretscan"
	"github.com/keyward/keyward/internal/secretscan/secretscantest"
)

// clock is a settable clock for Options.Now, so that no test waits for MinRefetch.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const minRefetch = time.Minute

// newVerifier returns a verifier of srv's keys on clock c.
func newVerifier(t *testing.T, srv *secretscantest.Server, c *clock) *secretscan.Verifier {
	t.Helper()
	v, err := secretscan.NewVerifier(secretscan.Options{KeysURL: srv.URL, Now: c.Now, MinRefetch: minRefetch})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

var body = []byte(`[{"token":"kw_live_abc","type":"keyward_api_key","url":"https://github.com/o/r/blob/1/a.txt","source":"content"}]`)

// wantErr fails the test unless err wraps want (nil meaning no error).
func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) { // errors.Is(nil, nil) holds
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// listenLoopback listens on 127.0.0.1, not httptest's fallback to [::1].
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func wantFetches(t *testing.T, srv *secretscantest.Server, want int) {
	t.Helper()
	if got := srv.Fetches(); got != want {
		t.Fatalf("got %d fetches of the keys, want %d", got, want)
	}
}

func TestVerifyGoodSignature(t *testing.T) {
	srv := secretscantest.NewServer(t)
	v := newVerifier(t, srv, newClock())

	h := srv.Header(body)
	err := v.Verify(t.Context(), h.Get(secretscan.HeaderKeyID), h.Get(secretscan.HeaderSignature), body)
	wantErr(t, "first", err, nil)
	keyID, sig := srv.Sign(body) // ECDSA signatures are randomized: another one, same key
	wantErr(t, "second", v.Verify(t.Context(), keyID, sig, body), nil)
	wantFetches(t, srv, 1) // the keys are kept
}

func TestVerifyRefuses(t *testing.T) {
	srv := secretscantest.NewServer(t)
	v := newVerifier(t, srv, newClock())
	keyID, sig := srv.Sign(body)
	wantErr(t, "warm up", v.Verify(t.Context(), keyID, sig, body), nil)

	raw, _ := base64.StdEncoding.DecodeString(sig)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tampered := append([]byte(nil), body...)
	tampered[len(tampered)-3] = 'x'

	tests := []struct {
		name       string
		keyID, sig string
		body       []byte
		want       error
	}{
		{"tampered body", keyID, sig, tampered, secretscan.ErrSignatureMismatch},
		{"body with a trailing newline", keyID, sig, append(append([]byte(nil), body...), '\n'), secretscan.ErrSignatureMismatch},
		{"empty body", keyID, sig, nil, secretscan.ErrSignatureMismatch},
		{"signed by another key", keyID, secretscantest.SignWith(otherKey, body), body, secretscan.ErrSignatureMismatch},
		{"no key identifier", "", sig, body, secretscan.ErrMissingHeader},
		{"no signature", keyID, "", body, secretscan.ErrMissingHeader},
		{"not base64", keyID, "not base64!", body, secretscan.ErrSignatureEncoding},
		{"URL-safe base64", keyID, base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe}), body, secretscan.ErrSignatureEncoding},
		{"base64 of junk", keyID, base64.StdEncoding.EncodeToString([]byte("junk")), body, secretscan.ErrSignatureEncoding},
		{"bytes after the DER", keyID, base64.StdEncoding.EncodeToString(append(raw, 0)), body, secretscan.ErrSignatureEncoding},
		{"zero r and s", keyID, base64.StdEncoding.EncodeToString([]byte{0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00}), body, secretscan.ErrSignatureEncoding},
		{"a bare signature, not DER", keyID, base64.StdEncoding.EncodeToString(make([]byte, 64)), body, secretscan.ErrSignatureEncoding},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantErr(t, "Verify", v.Verify(t.Context(), tt.keyID, tt.sig, tt.body), tt.want)
		})
	}
	// None of it was reason to ask GitHub again.
	wantFetches(t, srv, 1)
}

// TestVerifyJunkFetchesNothing: a malformed request costs no request to GitHub, even on a
// verifier that has no keys yet.
func TestVerifyJunkFetchesNothing(t *testing.T) {
	srv := secretscantest.NewServer(t)
	v := newVerifier(t, srv, newClock())
	keyID, sig := srv.Sign(body)
	wantErr(t, "no signature", v.Verify(t.Context(), keyID, "", body), secretscan.ErrMissingHeader)
	wantErr(t, "bad base64", v.Verify(t.Context(), keyID, "%%%", body), secretscan.ErrSignatureEncoding)
	wantErr(t, "no key id", v.Verify(t.Context(), "", sig, body), secretscan.ErrMissingHeader)
	wantFetches(t, srv, 0)
}

func TestVerifyUnknownKeyRefetchesOncePerInterval(t *testing.T) {
	srv := secretscantest.NewServer(t)
	c := newClock()
	v := newVerifier(t, srv, c)
	keyID, sig := srv.Sign(body)
	wantErr(t, "warm up", v.Verify(t.Context(), keyID, sig, body), nil)
	wantFetches(t, srv, 1)

	// Within MinRefetch of the first fetch, an unknown identifier is refused without asking.
	wantErr(t, "too soon", v.Verify(t.Context(), "bogus", sig, body), secretscan.ErrUnknownKey)
	wantFetches(t, srv, 1)

	c.Advance(minRefetch)
	wantErr(t, "unknown", v.Verify(t.Context(), "bogus-0", sig, body), secretscan.ErrUnknownKey)
	wantFetches(t, srv, 2)

	// A flood of made-up identifiers, some at once and some spread over the interval.
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			if err := v.Verify(t.Context(), fmt.Sprintf("bogus-%d", i), sig, body); !errors.Is(err, secretscan.ErrUnknownKey) {
				t.Errorf("bogus-%d: got %v, want ErrUnknownKey", i, err)
			}
		})
	}
	wg.Wait()
	for range 10 {
		c.Advance(minRefetch/10 - time.Nanosecond)
		wantErr(t, "flood", v.Verify(t.Context(), "bogus-late", sig, body), secretscan.ErrUnknownKey)
	}
	wantFetches(t, srv, 2)
	// The known key still verifies throughout.
	wantErr(t, "known key", v.Verify(t.Context(), keyID, sig, body), nil)

	c.Advance(10 * time.Nanosecond) // now a full MinRefetch after the second fetch
	wantErr(t, "next interval", v.Verify(t.Context(), "bogus-next", sig, body), secretscan.ErrUnknownKey)
	wantFetches(t, srv, 3)
}

func TestVerifyPicksUpRotation(t *testing.T) {
	srv := secretscantest.NewServer(t)
	c := newClock()
	v := newVerifier(t, srv, c)
	oldID, oldSig := srv.Sign(body)
	wantErr(t, "old key", v.Verify(t.Context(), oldID, oldSig, body), nil)

	newID := srv.RotateKey(t)
	_, newSig := srv.Sign(body)
	// Right after the first fetch the new identifier is not fetched for: it waits out MinRefetch.
	wantErr(t, "new key, too soon", v.Verify(t.Context(), newID, newSig, body), secretscan.ErrUnknownKey)
	wantFetches(t, srv, 1)

	c.Advance(minRefetch)
	wantErr(t, "new key", v.Verify(t.Context(), newID, newSig, body), nil)
	wantFetches(t, srv, 2)
	// GitHub still publishes the old key, so alerts signed before the rotation verify.
	wantErr(t, "old key after", v.Verify(t.Context(), oldID, oldSig, body), nil)
	wantFetches(t, srv, 2)
}

func TestVerifyOnlyP256(t *testing.T) {
	srv := secretscantest.NewServer(t)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	srv.Publish(t, "p384", &p384.PublicKey)
	srv.Publish(t, "p224", &p224.PublicKey)
	srv.Publish(t, "rsa", &rsaKey.PublicKey)
	srv.Publish(t, "ed25519", edPub)
	v := newVerifier(t, srv, newClock())

	tests := []struct {
		keyID, sig string
	}{
		{"p384", secretscantest.SignWith(p384, body)},
		{"p224", secretscantest.SignWith(p224, body)},
		{"rsa", base64.StdEncoding.EncodeToString([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})},
		{"ed25519", base64.StdEncoding.EncodeToString([]byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01})},
	}
	for _, tt := range tests {
		t.Run(tt.keyID, func(t *testing.T) {
			wantErr(t, "Verify", v.Verify(t.Context(), tt.keyID, tt.sig, body), secretscan.ErrUnsupportedKey)
		})
	}
	// The P-256 key published beside them is used.
	keyID, sig := srv.Sign(body)
	wantErr(t, "P-256", v.Verify(t.Context(), keyID, sig, body), nil)
	wantFetches(t, srv, 1)
}

func TestVerifyFetchFailure(t *testing.T) {
	srv := secretscantest.NewServer(t)
	c := newClock()
	v := newVerifier(t, srv, c)
	keyID, sig := srv.Sign(body)

	srv.FailWith(http.StatusServiceUnavailable)
	wantErr(t, "down", v.Verify(t.Context(), keyID, sig, body), secretscan.ErrKeyFetch)
	// A failing URL is not hammered either: the failure is remembered for MinRefetch.
	wantErr(t, "still down", v.Verify(t.Context(), keyID, sig, body), secretscan.ErrKeyFetch)
	wantFetches(t, srv, 1)

	srv.FailWith(0)
	c.Advance(minRefetch)
	wantErr(t, "back", v.Verify(t.Context(), keyID, sig, body), nil)
	wantFetches(t, srv, 2)

	// Once the keys are held, a failed refetch keeps them.
	srv.FailWith(http.StatusInternalServerError)
	c.Advance(minRefetch)
	wantErr(t, "unknown while down", v.Verify(t.Context(), "new-id", sig, body), secretscan.ErrKeyFetch)
	wantErr(t, "known while down", v.Verify(t.Context(), keyID, sig, body), nil)
	wantFetches(t, srv, 3)
}

func TestVerifyBadKeysAnswers(t *testing.T) {
	srv := secretscantest.NewServer(t) // only to sign
	keyID, sig := srv.Sign(body)
	tests := []struct {
		name   string
		answer string
	}{
		{"not JSON", `<html>rate limited</html>`},
		{"no keys", `{"public_keys":[]}`},
		{"another document", `{"message":"Not Found"}`},
		{"too large", `{"public_keys":[],"padding":"` + strings.Repeat("x", 2000) + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte(tt.answer))
			}))
			keys.Listener.Close()
			keys.Listener = listenLoopback(t)
			keys.Start()
			defer keys.Close()
			v, err := secretscan.NewVerifier(secretscan.Options{KeysURL: keys.URL, MaxKeysBody: 1000, Now: newClock().Now})
			if err != nil {
				t.Fatal(err)
			}
			wantErr(t, "Verify", v.Verify(t.Context(), keyID, sig, body), secretscan.ErrKeyFetch)
		})
	}
}

func TestVerifyWrongPath(t *testing.T) {
	srv := secretscantest.NewServer(t)
	v, err := secretscan.NewVerifier(secretscan.Options{KeysURL: srv.URL + "/nope"})
	if err != nil {
		t.Fatal(err)
	}
	keyID, sig := srv.Sign(body)
	err = v.Verify(t.Context(), keyID, sig, body)
	wantErr(t, "Verify", err, secretscan.ErrKeyFetch)
	if !strings.Contains(err.Error(), "404") {
		t.Errorf("got %q, want it to name the status", err)
	}
}

func TestVerifyCanceledContext(t *testing.T) {
	srv := secretscantest.NewServer(t)
	v := newVerifier(t, srv, newClock())
	keyID, sig := srv.Sign(body)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := v.Verify(ctx, keyID, sig, body)
	if !errors.Is(err, secretscan.ErrKeyFetch) || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want ErrKeyFetch and context.Canceled", err)
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	for name, o := range map[string]secretscan.Options{
		"not a URL":           {KeysURL: "://x"},
		"no scheme":           {KeysURL: "api.github.com/meta"},
		"file URL":            {KeysURL: "file:///etc/keys.json"},
		"negative MinRefetch": {MinRefetch: -time.Second},
		"negative body size":  {MaxKeysBody: -1},
	} {
		if _, err := secretscan.NewVerifier(o); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
	if _, err := secretscan.NewVerifier(secretscan.Options{}); err != nil {
		t.Errorf("zero Options: got %v, want the defaults", err)
	}
}
