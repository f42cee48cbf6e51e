package authn

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/oidctest"
)

const testAudience = "https://api.keyward.test"

// newTestVerifier returns a verifier for iss whose clock stands still at now, so that time
// checks depend on the tokens' claims only.
func newTestVerifier(t *testing.T, iss *oidctest.Issuer, now time.Time, client *http.Client) *OIDCVerifier {
	t.Helper()
	v, err := NewOIDCVerifier(t.Context(), OIDCConfig{
		Issuer:     iss.URL,
		Audience:   testAudience,
		HTTPClient: client,
		Now:        func() time.Time { return now },
	})
	if err != nil {
		t.Fatalf("NewOIDCVerifier: %v", err)
	}
	return v
}

// checkCode fails the test unless err is a *keyward.Error with code want that does not
// repeat token.
func checkCode(t *testing.T, err error, want keyward.Code, token string) {
	t.Helper()
	var kerr *keyward.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("got error %v (%T), want a *keyward.Error with code %s", err, err, want)
	}
	if kerr.Code != want {
		t.Errorf("got code %s (%v), want %s", kerr.Code, err, want)
	}
	if len(token) > 20 && (strings.Contains(kerr.Message, token) || strings.Contains(err.Error(), token)) {
		t.Errorf("error %q repeats the token", err)
	}
}

func TestOIDCVerify(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	now := time.Now()
	v := newTestVerifier(t, iss, now, nil)
	valid := func(mod func(*oidctest.Claims)) func(*testing.T) string {
		return func(t *testing.T) string {
			c := oidctest.Claims{
				Subject:  "auth0|alice",
				Audience: []string{testAudience},
				Email:    "alice@example.com",
				Name:     "Alice",
				Expiry:   now.Add(time.Hour),
				IssuedAt: now.Add(-time.Minute),
			}
			if mod != nil {
				mod(&c)
			}
			return iss.Token(t, c)
		}
	}
	wantAlice := &OIDCClaims{
		Issuer:  iss.URL,
		Subject: "auth0|alice",
		Email:   "alice@example.com",
		Name:    "Alice",
		Expiry:  time.Unix(now.Add(time.Hour).Unix(), 0),
	}

	tests := []struct {
		name  string
		token func(t *testing.T) string
		want  *OIDCClaims // nil when the token must be refused
		code  keyward.Code
	}{
		{name: "valid, aud a string", token: valid(nil), want: wantAlice},
		{name: "valid, aud an array", token: valid(func(c *oidctest.Claims) {
			c.Audience = []string{testAudience, iss.URL + "/userinfo"}
		}), want: wantAlice},
		{name: "valid, aud a one-element array", token: valid(func(c *oidctest.Claims) {
			c.Extra = map[string]any{"aud": []string{testAudience}}
		}), want: wantAlice},
		{name: "valid, no email or name", token: valid(func(c *oidctest.Claims) {
			c.Subject, c.Email, c.Name = "client-1@clients", "", ""
		}), want: &OIDCClaims{Issuer: iss.URL, Subject: "client-1@clients", Expiry: wantAlice.Expiry}},
		{name: "expired within the skew", token: valid(func(c *oidctest.Claims) {
			c.Expiry = now.Add(-10 * time.Second)
		}), want: &OIDCClaims{Issuer: iss.URL, Subject: "auth0|alice", Email: "alice@example.com", Name: "Alice",
			Expiry: time.Unix(now.Add(-10*time.Second).Unix(), 0)}},
		{name: "expired beyond the skew", token: valid(func(c *oidctest.Claims) {
			c.Expiry = now.Add(-31 * time.Second)
		}), code: keyward.EUnauthenticated},
		{name: "expired long ago", token: valid(func(c *oidctest.Claims) {
			c.Expiry, c.IssuedAt = now.Add(-24*time.Hour), now.Add(-25*time.Hour)
		}), code: keyward.EUnauthenticated},
		{name: "not valid yet, within the skew", token: valid(func(c *oidctest.Claims) {
			c.NotBefore = now.Add(10 * time.Second)
		}), want: wantAlice},
		{name: "not valid yet", token: valid(func(c *oidctest.Claims) {
			c.NotBefore = now.Add(2 * time.Minute)
		}), code: keyward.EUnauthenticated},
		{name: "issued in the future", token: valid(func(c *oidctest.Claims) {
			c.IssuedAt = now.Add(2 * time.Minute)
		}), code: keyward.EUnauthenticated},
		{name: "no exp", token: valid(func(c *oidctest.Claims) {
			c.Extra = map[string]any{"exp": nil}
		}), code: keyward.EUnauthenticated},
		{name: "exp a string", token: valid(func(c *oidctest.Claims) {
			c.Extra = map[string]any{"exp": "99999999999"}
		}), code: keyward.EUnauthenticated},
		{name: "no sub", token: valid(func(c *oidctest.Claims) {
			c.Subject = ""
		}), code: keyward.EUnauthenticated},
		{name: "wrong audience", token: valid(func(c *oidctest.Claims) {
			c.Audience = []string{"https://other-api.keyward.test"}
		}), code: keyward.EUnauthenticated},
		{name: "no audience", token: valid(func(c *oidctest.Claims) {
			c.Audience = nil
		}), code: keyward.EUnauthenticated},
		{name: "wrong issuer", token: valid(func(c *oidctest.Claims) {
			c.Issuer = "https://evil.example.com/"
		}), code: keyward.EUnauthenticated},
		{name: "issuer with a trailing slash", token: valid(func(c *oidctest.Claims) {
			c.Issuer = iss.URL + "/"
		}), code: keyward.EUnauthenticated},
		{name: "forged signature", token: func(t *testing.T) string {
			return iss.ForgedToken(t, oidctest.Claims{Subject: "auth0|alice", Audience: []string{testAudience}, Expiry: now.Add(time.Hour)})
		}, code: keyward.EUnauthenticated},
		{name: "alg none", token: func(t *testing.T) string {
			return iss.NoneToken(oidctest.Claims{Subject: "auth0|alice", Audience: []string{testAudience}, Expiry: now.Add(time.Hour)})
		}, code: keyward.EUnauthenticated},
		{name: "HS256 with a secret", token: func(t *testing.T) string {
			return hs256Token(t, []byte("a secret of thirty-two bytes or more!"), "",
				map[string]any{"iss": iss.URL, "sub": "auth0|alice", "aud": testAudience, "exp": now.Add(time.Hour).Unix()})
		}, code: keyward.EUnauthenticated},
		{name: "HS256 with the issuer's public key as the secret", token: func(t *testing.T) string {
			secret, kid := publishedKeyPEM(t, iss)
			return hs256Token(t, secret, kid,
				map[string]any{"iss": iss.URL, "sub": "auth0|alice", "aud": testAudience, "exp": now.Add(time.Hour).Unix()})
		}, code: keyward.EUnauthenticated},
		{name: "payload swapped after signing", token: func(t *testing.T) string {
			good := valid(nil)(t)
			other := valid(func(c *oidctest.Claims) { c.Subject = "auth0|mallory" })(t)
			g, o := strings.Split(good, "."), strings.Split(other, ".")
			return g[0] + "." + o[1] + "." + g[2]
		}, code: keyward.EUnauthenticated},
		{name: "JWS JSON serialization", token: func(t *testing.T) string {
			parts := strings.Split(valid(nil)(t), ".")
			return `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`
		}, code: keyward.EUnauthenticated},
		{name: "garbage", token: func(*testing.T) string { return "not a token" }, code: keyward.EUnauthenticated},
		{name: "three segments, not a JWT", token: func(*testing.T) string { return "abc.def.ghi" }, code: keyward.EUnauthenticated},
		{name: "an API key", token: func(*testing.T) string { return "kw_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q" }, code: keyward.EUnauthenticated},
		{name: "empty", token: func(*testing.T) string { return "" }, code: keyward.EUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := tt.token(t)
			got, err := v.Verify(t.Context(), token)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("Verify accepted the token: %+v", got)
				}
				checkCode(t, err, tt.code, token)
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(OIDCClaims{}, "Raw")); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
			if got.Raw["sub"] != tt.want.Subject {
				t.Errorf("got Raw[sub] %v, want %q", got.Raw["sub"], tt.want.Subject)
			}
		})
	}
}

// hs256Token signs claims with HMAC-SHA256 under secret, as an attacker would who hopes the
// verifier takes the algorithm from the token.
func hs256Token(t *testing.T, secret []byte, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: secret, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatalf("new HS256 signer: %v", err)
	}
	token, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("sign HS256 token: %v", err)
	}
	return token
}

// publishedKeyPEM fetches the issuer's JWKS, as anyone can, and returns its key in PEM and
// its kid: the "secret" of the classic RS256-to-HS256 confusion attack.
func publishedKeyPEM(t *testing.T, iss *oidctest.Issuer) ([]byte, string) {
	t.Helper()
	resp, err := http.Get(iss.URL + "/jwks")
	if err != nil {
		t.Fatalf("fetch JWKS: %v", err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("decode JWKS: %v", err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("got %d keys in the JWKS, want 1", len(set.Keys))
	}
	pub, ok := set.Keys[0].Key.(*rsa.PublicKey)
	if !ok {
		t.Fatalf("got a %T in the JWKS, want *rsa.PublicKey", set.Keys[0].Key)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatalf("marshal public key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), set.Keys[0].KeyID
}

func TestOIDCKeyRotation(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	now := time.Now()
	v := newTestVerifier(t, iss, now, nil)
	v.keys.minRefetch = 0 // TestOIDCUnknownKidsDoNotFlood covers the pause between fetches
	claims := oidctest.Claims{Subject: "auth0|alice", Audience: []string{testAudience}, Expiry: now.Add(time.Hour), IssuedAt: now}
	verify := func(t *testing.T, token string) error {
		t.Helper()
		_, err := v.Verify(t.Context(), token)
		return err
	}
	checkFetches := func(t *testing.T, want int, why string) {
		t.Helper()
		if got := iss.JWKSFetches(); got != want {
			t.Fatalf("got %d JWKS fetches, want %d: %s", got, want, why)
		}
	}

	oldToken := iss.Token(t, claims)
	for range 3 {
		if err := verify(t, oldToken); err != nil {
			t.Fatalf("Verify before rotation: %v", err)
		}
	}
	checkFetches(t, 1, "the keys are fetched on first use, then cached")

	forged := iss.ForgedToken(t, claims)
	checkCode(t, verify(t, forged), keyward.EUnauthenticated, forged)
	checkFetches(t, 1, "a bad signature under a known kid is refused without asking the issuer")

	iss.RotateKey(t)
	newToken := iss.Token(t, claims)
	if err := verify(t, newToken); err != nil {
		t.Fatalf("Verify with the rotated key: %v", err)
	}
	checkFetches(t, 2, "an unknown kid refetches the keys")
	if err := verify(t, newToken); err != nil {
		t.Fatalf("Verify with the rotated key, again: %v", err)
	}
	checkFetches(t, 2, "the rotated key is cached")

	// The issuer no longer publishes the old key: its kid is now unknown, the refetch does
	// not bring it back, and the token is refused.
	checkCode(t, verify(t, oldToken), keyward.EUnauthenticated, oldToken)
	checkFetches(t, 3, "an unknown kid refetches the keys")

	unknownKid := signRS256(t, "never-published", map[string]any{
		"iss": iss.URL, "sub": "auth0|alice", "aud": testAudience, "exp": now.Add(time.Hour).Unix(),
	})
	checkCode(t, verify(t, unknownKid), keyward.EUnauthenticated, unknownKid)
}

// TestOIDCUnknownKidsDoNotFlood sends tokens with made-up kids: after the first fetch, they
// cost the issuer nothing until minRefetch has passed.
func TestOIDCUnknownKidsDoNotFlood(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	now := time.Now()
	v := newTestVerifier(t, iss, now, nil)
	claims := map[string]any{"iss": iss.URL, "sub": "auth0|mallory", "aud": testAudience, "exp": now.Add(time.Hour).Unix()}
	for i := range 20 {
		token := signRS256(t, fmt.Sprintf("made-up-%d", i), claims)
		checkCode(t, func() error { _, err := v.Verify(t.Context(), token); return err }(), keyward.EUnauthenticated, token)
	}
	if got := iss.JWKSFetches(); got != 1 {
		t.Errorf("20 tokens with unknown kids made %d JWKS fetches, want 1", got)
	}
	// Once the pause is over, an unknown kid fetches again (a real rotation gets through).
	v.keys.mu.Lock()
	v.keys.fetchedAt = v.keys.fetchedAt.Add(-minJWKSRefetch)
	v.keys.mu.Unlock()
	token := signRS256(t, "made-up-later", claims)
	checkCode(t, func() error { _, err := v.Verify(t.Context(), token); return err }(), keyward.EUnauthenticated, token)
	if got := iss.JWKSFetches(); got != 2 {
		t.Errorf("after the pause: %d JWKS fetches, want 2", got)
	}
}

// signRS256 signs claims with a new RSA key under kid: a key the issuer never published.
func signRS256(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate RSA key: %v", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, nil)
	if err != nil {
		t.Fatalf("new RS256 signer: %v", err)
	}
	token, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatalf("sign RS256 token: %v", err)
	}
	return token
}

// flakyJWKS is a transport that fails JWKS requests while fail is set, as a network or an
// issuer outage would, and passes every other request to the real issuer.
type flakyJWKS struct {
	fail   atomic.Bool
	status int // 0: fail with a transport error; otherwise answer with this status
}

func (f *flakyJWKS) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.fail.Load() && r.URL.Path == "/jwks" {
		if f.status == 0 {
			return nil, errors.New("flakyJWKS: connection refused")
		}
		rec := httptest.NewRecorder()
		rec.WriteHeader(f.status)
		return rec.Result(), nil
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestOIDCVerifyJWKSUnavailable(t *testing.T) {
	tests := []struct {
		name   string
		status int
	}{
		{"transport error", 0},
		{"server error", http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := oidctest.NewIssuer(t)
			now := time.Now()
			transport := &flakyJWKS{status: tt.status}
			transport.fail.Store(true)
			v := newTestVerifier(t, iss, now, &http.Client{Transport: transport})
			token := iss.Token(t, oidctest.Claims{Subject: "auth0|alice", Audience: []string{testAudience}, Expiry: now.Add(time.Hour)})

			_, err := v.Verify(t.Context(), token)
			checkCode(t, err, keyward.EUnavailable, token)

			// A forged token cannot be checked either while the keys are out of reach; it
			// must not pass for want of keys.
			forged := iss.ForgedToken(t, oidctest.Claims{Subject: "auth0|alice", Audience: []string{testAudience}, Expiry: now.Add(time.Hour)})
			_, err = v.Verify(t.Context(), forged)
			checkCode(t, err, keyward.EUnavailable, forged)

			// A failed fetch is not remembered: once the JWKS is back, the next
			// verification fetches again.
			transport.fail.Store(false)
			if _, err := v.Verify(t.Context(), token); err != nil {
				t.Fatalf("Verify once the JWKS is back: %v", err)
			}
		})
	}
}

func TestNewOIDCVerifier(t *testing.T) {
	iss := oidctest.NewIssuer(t)
	notFound := httptest.NewUnstartedServer(http.NotFoundHandler())
	notFound.Listener.Close()
	notFound.Listener = listenLoopback(t)
	notFound.Start()
	t.Cleanup(notFound.Close)
	// An https issuer whose discovery document sends key fetches to plain http.
	var tlsIssuer *httptest.Server
	tlsIssuer = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"issuer": tlsIssuer.URL, "jwks_uri": iss.URL + "/jwks"})
	}))
	tlsIssuer.Listener.Close()
	tlsIssuer.Listener = listenLoopback(t)
	tlsIssuer.StartTLS()
	t.Cleanup(tlsIssuer.Close)
	closed := listenLoopback(t)
	closedURL := "http://" + closed.Addr().String()
	closed.Close()

	tests := []struct {
		name string
		cfg  OIDCConfig
		code keyward.Code // "" when NewOIDCVerifier must succeed
	}{
		{"valid", OIDCConfig{Issuer: iss.URL, Audience: testAudience}, ""},
		{"valid, skew set", OIDCConfig{Issuer: iss.URL, Audience: testAudience, ClockSkew: 5 * time.Minute}, ""},
		{"issuer differs from discovery (trailing slash)", OIDCConfig{Issuer: iss.URL + "/", Audience: testAudience}, keyward.EValidation},
		{"issuer differs from discovery (host)", OIDCConfig{Issuer: strings.Replace(iss.URL, "127.0.0.1", "localhost", 1), Audience: testAudience}, keyward.EValidation},
		{"https issuer, http jwks_uri", OIDCConfig{Issuer: tlsIssuer.URL, Audience: testAudience, HTTPClient: tlsIssuer.Client()}, keyward.EValidation},
		{"no discovery document", OIDCConfig{Issuer: notFound.URL, Audience: testAudience}, keyward.EUnavailable},
		{"issuer unreachable", OIDCConfig{Issuer: closedURL, Audience: testAudience}, keyward.EUnavailable},
		{"no issuer", OIDCConfig{Audience: testAudience}, keyward.EValidation},
		{"no audience", OIDCConfig{Issuer: iss.URL}, keyward.EValidation},
		{"skew too large", OIDCConfig{Issuer: iss.URL, Audience: testAudience, ClockSkew: 6 * time.Minute}, keyward.EValidation},
		{"skew negative", OIDCConfig{Issuer: iss.URL, Audience: testAudience, ClockSkew: -time.Second}, keyward.EValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewOIDCVerifier(t.Context(), tt.cfg)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("NewOIDCVerifier: %v", err)
				}
				if v == nil {
					t.Fatal("NewOIDCVerifier returned a nil verifier")
				}
				return
			}
			if err == nil {
				t.Fatalf("NewOIDCVerifier succeeded, want code %s", tt.code)
			}
			checkCode(t, err, tt.code, "")
		})
	}
}

func TestParseJWKS(t *testing.T) {
	const rsaKey = `{"kty":"RSA","kid":"r1","alg":"RS256","use":"sig","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}`
	const ecKey = `{"kty":"EC","kid":"e1","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}`
	const encKey = `{"kty":"EC","kid":"enc1","use":"enc","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}`
	const ed448Key = `{"kty":"OKP","kid":"x1","crv":"Ed448","x":"X9dEm1m0Yf0s54fsYWrUah2hNCSFpw4fig6nXYDpZ3jt8SR2m0bHBhvWeD3x5Q9s0foavq_oJWGA"}`
	tests := []struct {
		name    string
		body    string
		wantIDs []string // nil when parsing must fail
	}{
		{"RSA and EC", `{"keys":[` + rsaKey + `,` + ecKey + `]}`, []string{"r1", "e1"}},
		{"unknown key type skipped", `{"keys":[` + ed448Key + `,` + rsaKey + `]}`, []string{"r1"}},
		{"encryption key skipped", `{"keys":[` + encKey + `,` + ecKey + `]}`, []string{"e1"}},
		{"only unusable keys", `{"keys":[` + encKey + `,` + ed448Key + `]}`, nil},
		{"no keys", `{"keys":[]}`, nil},
		{"not JSON", `<html>`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := parseJWKS([]byte(tt.body))
			if tt.wantIDs == nil {
				if err == nil {
					t.Fatalf("parseJWKS succeeded with %d keys, want an error", len(keys))
				}
				return
			}
			if err != nil {
				t.Fatalf("parseJWKS: %v", err)
			}
			var ids []string
			for _, k := range keys {
				ids = append(ids, k.KeyID)
				if !k.IsPublic() {
					t.Errorf("key %s is not public", k.KeyID)
				}
			}
			if diff := cmp.Diff(tt.wantIDs, ids); diff != "" {
				t.Errorf("key IDs (-want +got):\n%s", diff)
			}
		})
	}
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	return ln
}

func TestSigningAlgs(t *testing.T) {
	tests := []struct {
		name       string
		advertised []string
		want       []string
	}{
		{"nothing advertised", nil, []string{"RS256"}},
		{"RS256", []string{"RS256"}, []string{"RS256"}},
		{"ES256 and EdDSA", []string{"ES256", "EdDSA"}, []string{"ES256", "EdDSA"}},
		{"symmetric and none dropped", []string{"HS256", "none", "RS256", "PS256"}, []string{"RS256", "PS256"}},
		{"only unusable ones", []string{"HS256", "none"}, []string{"RS256"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, signingAlgs(tt.advertised)); diff != "" {
				t.Errorf("signingAlgs(%q) (-want +got):\n%s", tt.advertised, diff)
			}
		})
	}
}

func TestLooksLikeJWT(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	header := b64([]byte(`{"alg":"RS256","kid":"k1","typ":"JWT"}`))
	payload := b64([]byte(`{"sub":"alice"}`))
	longHeader := b64([]byte(`{"alg":"RS256","x5c":["` + strings.Repeat("A", 2000) + `"]}`))
	tests := []struct {
		token string
		want  bool
	}{
		{header + "." + payload + ".c2lnbmF0dXJl", true},
		{header + "." + payload + ".", true}, // alg none: refused later, by OIDC
		{longHeader + "." + payload + ".c2ln", true},
		{b64([]byte(` {"alg":"RS256"}`)) + "." + payload + ".c2ln", true},
		{b64([]byte(`["alg"]`)) + "." + payload + ".c2ln", false},
		{b64([]byte(`{"alg":`)) + "." + payload + ".c2ln", false},
		{b64([]byte(`"RS256"`)) + "." + payload + ".c2ln", false},
		{header + "." + payload, false},
		{header + "." + payload + ".c2ln.c2ln", false},
		{header + ".." + "c2ln", false},
		{"." + payload + ".c2ln", false},
		{header + "=." + payload + ".c2ln", false},
		{header + "." + payload + ".c2ln+/", false},
		{header + "." + payload + ".c", false}, // one base64 character cannot encode a byte
		{"abc.def.ghi", false},
		{"kw_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q", false},
		{"", false},
		{"..", false},
	}
	for _, tt := range tests {
		if got := LooksLikeJWT(tt.token); got != tt.want {
			t.Errorf("LooksLikeJWT(%.60q) = %v, want %v", tt.token, got, tt.want)
		}
	}
}

func FuzzLooksLikeJWT(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln")
	f.Add("kw_1a2B3c4D5e6F7g8H9i0J1k2L3m4N5o6P7q")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, token string) {
		if !LooksLikeJWT(token) {
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("LooksLikeJWT(%q) = true with %d segments", token, len(parts))
		}
		header, err := base64.RawURLEncoding.DecodeString(parts[0])
		if err != nil {
			t.Fatalf("LooksLikeJWT(%q) = true, header does not decode: %v", token, err)
		}
		var obj map[string]any
		if err := json.Unmarshal(header, &obj); err != nil {
			t.Fatalf("LooksLikeJWT(%q) = true, header is not a JSON object: %v", token, err)
		}
	})
}

func BenchmarkLooksLikeJWT(b *testing.B) {
	token := "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	b.ReportAllocs()
	for b.Loop() {
		LooksLikeJWT(token)
	}
}
