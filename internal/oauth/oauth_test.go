package oauth_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/oauth"
	"github.com/keyward/keyward/internal/sqlite"
)

const issuer = "https://keyward.test"

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

var secret = keyformat.Secret{Version: 1, Value: bytes.Repeat([]byte("s"), 32)}

func openStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "keyward.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newTokens(t testing.TB, store oauth.Store, clk *clock, tune func(*oauth.Config)) *oauth.Tokens {
	t.Helper()
	cfg := oauth.Config{Store: store, Secrets: []keyformat.Secret{secret}, Issuer: issuer, Now: clk.Now}
	if tune != nil {
		tune(&cfg)
	}
	tok, err := oauth.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func testKey() (*keyward.Key, *keyward.Identity) {
	return &keyward.Key{ID: keyward.NewID(), AccountID: keyward.NewID(), Scopes: []string{"read", "write"}},
		&keyward.Identity{Role: keyward.BuiltInRole("viewer"), Permissions: keyward.Permissions{"api_keys.read"}}
}

func issue(t testing.TB, tok *oauth.Tokens, k *keyward.Key, id *keyward.Identity) string {
	t.Helper()
	is, err := tok.Issue(context.Background(), k, id, k.Scopes)
	if err != nil {
		t.Fatal(err)
	}
	return is.AccessToken
}

func TestIssueAndVerify(t *testing.T) {
	clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	tok := newTokens(t, openStore(t), clk, nil)
	k, id := testKey()
	k.UserID = keyward.NewID()
	s := issue(t, tok, k, id)
	got, code := tok.Verify(t.Context(), s)
	if code != keyward.VerifyValid {
		t.Fatalf("Verify = %s", code)
	}
	if got.ClientID != k.ID || got.Subject != k.UserID || got.AccountID != k.AccountID || got.RoleSlug != "viewer" ||
		strings.Join(got.Scopes, " ") != "read write" || !got.ExpiresAt.Equal(clk.Now().Add(time.Hour)) {
		t.Errorf("Verify = %+v", got)
	}
	if !tok.Owns(s) || tok.Owns("a.b.c") {
		t.Error("Owns cannot tell its tokens")
	}
	clk.Advance(time.Hour + oauth.DefaultClockSkew)
	if _, code := tok.Verify(t.Context(), s); code != keyward.VerifyExpired {
		t.Errorf("after exp and skew: %s, want EXPIRED", code)
	}
}

// forge signs claims with a fresh key or none, with the header fields given.
func forge(t *testing.T, header map[string]any, claims map[string]any, key ed25519.PrivateKey) string {
	t.Helper()
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	if key == nil {
		return signing + "."
	}
	return signing + "." + enc.EncodeToString(ed25519.Sign(key, []byte(signing)))
}

func TestVerifyRefuses(t *testing.T) {
	clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	tok := newTokens(t, openStore(t), clk, nil)
	k, id := testKey()
	good := issue(t, tok, k, id)
	parts := strings.Split(good, ".")
	var header, claims map[string]any
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	json.Unmarshal(hb, &header)
	json.Unmarshal(cb, &claims)
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for a, b := range m {
			out[a] = b
		}
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
		return out
	}
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	resign := func(h, c map[string]any) string { return forge(t, h, c, stranger) }
	reencode := func(h, c map[string]any) string {
		hj, _ := json.Marshal(h)
		cj, _ := json.Marshal(c)
		return base64.RawURLEncoding.EncodeToString(hj) + "." + base64.RawURLEncoding.EncodeToString(cj) + "." + parts[2]
	}
	tests := map[string]string{
		"tampered claims":       reencode(header, with(claims, "scope", "read write admin")),
		"wrong typ":             reencode(with(header, "typ", "JWT"), claims),
		"no typ":                reencode(with(header, "typ", nil), claims),
		"alg none":              forge(t, with(header, "alg", "none"), claims, nil),
		"alg none, signature":   reencode(with(header, "alg", "none"), claims),
		"HS256":                 reencode(with(header, "alg", "HS256"), claims),
		"signed by another key": resign(header, claims),
		"unknown kid":           resign(with(header, "kid", "nope"), claims),
		"signature of another":  parts[0] + "." + parts[1] + "." + strings.Split(issue(t, tok, k, id), ".")[2],
		"garbage":               "not.a.token",
		"empty":                 "",
		"two parts":             parts[0] + "." + parts[1],
		"signature not base64":  parts[0] + "." + parts[1] + ".!!!",
		"huge":                  strings.Repeat("a", 20<<10) + ".b.c",
		"alg changed to ES256":  reencode(with(header, "alg", "ES256"), claims),
		"no kid":                reencode(with(header, "kid", nil), claims),
		"four parts":            good + "." + parts[2],
		"signature respelled":   parts[0] + "." + parts[1] + "." + respell(parts[2]),
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			if _, code := tok.Verify(t.Context(), s); code == keyward.VerifyValid {
				t.Errorf("Verify accepted it")
			}
		})
	}
	// Claims that a valid signature vouches for but that are not ours.
	other := newTokens(t, openStore(t), clk, func(c *oauth.Config) { c.Audience = "https://other.test" })
	if _, code := tok.Verify(t.Context(), issue(t, other, k, id)); code == keyward.VerifyValid {
		t.Error("Verify accepted a token signed by another deployment")
	}
	store := openStore(t)
	a := newTokens(t, store, clk, nil)
	wrongAud := newTokens(t, store, clk, func(c *oauth.Config) { c.Audience = "https://other.test" })
	if _, code := a.Verify(t.Context(), issue(t, wrongAud, k, id)); code != keyward.VerifyMalformed {
		t.Errorf("wrong aud, right key: %s, want MALFORMED", code)
	}
	if _, code := a.Verify(t.Context(), issue(t, a, k, id)); code != keyward.VerifyValid {
		t.Errorf("the same store's own token: %s", code)
	}
}

// TestSigningKeyRotation moves time past a rotation: new tokens use the new key, old ones
// verify until they expire, and the old key leaves the JWKS once they all have.
func TestSigningKeyRotation(t *testing.T) {
	clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	store := openStore(t)
	tok := newTokens(t, store, clk, func(c *oauth.Config) { c.Rotation = 2 * time.Hour })
	k, id := testKey()
	kid := func(s string) string {
		h, _ := base64.RawURLEncoding.DecodeString(strings.Split(s, ".")[0])
		var x struct{ Kid string }
		json.Unmarshal(h, &x)
		return x.Kid
	}
	jwksKids := func() []string {
		b, _ := tok.JWKS()
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(b, &set); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range set.Keys {
			out = append(out, k.KeyID)
		}
		return out
	}
	clk.Advance(110 * time.Minute)
	old := issue(t, tok, k, id) // expires 2h50m after the start
	if err := tok.MaintainKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The next key is published before it signs.
	if got := jwksKids(); len(got) != 2 {
		t.Errorf("JWKS before the switch: %v, want the current and the next key", got)
	}
	clk.Advance(20 * time.Minute) // past the first key's two hours
	fresh := issue(t, tok, k, id)
	if kid(fresh) == kid(old) {
		t.Fatal("a token after the rotation was signed by the old key")
	}
	// Another node on the same store, started now, trusts both.
	other := newTokens(t, store, clk, func(c *oauth.Config) { c.Rotation = 2 * time.Hour })
	for name, s := range map[string]string{"old": old, "fresh": fresh} {
		for _, v := range []*oauth.Tokens{tok, other} {
			if _, code := v.Verify(t.Context(), s); code != keyward.VerifyValid {
				t.Errorf("%s token after the rotation: %s, want VALID", name, code)
			}
		}
	}
	clk.Advance(41 * time.Minute) // the old token has expired
	if _, code := tok.Verify(t.Context(), old); code != keyward.VerifyExpired {
		t.Errorf("old token after its exp: %s, want EXPIRED", code)
	}
	clk.Advance(keyward.MaxAccessTokenLifetime)
	if err := tok.MaintainKeys(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, k := range jwksKids() {
		if k == kid(old) {
			t.Errorf("the first key is still published after every token it signed expired")
		}
	}
}

// TestNodesShareKeys: a node verifies a token signed with a key another node created after
// it started, and two nodes rotating at once make one key.
func TestNodesShareKeys(t *testing.T) {
	clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	store := openStore(t)
	a := newTokens(t, store, clk, func(c *oauth.Config) { c.Rotation = time.Hour })
	b := newTokens(t, store, clk, func(c *oauth.Config) { c.Rotation = time.Hour })
	clk.Advance(61 * time.Minute)
	var wg sync.WaitGroup
	for _, n := range []*oauth.Tokens{a, b, a, b} {
		wg.Go(func() {
			if err := n.MaintainKeys(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	keys, err := store.SigningKeys(t.Context(), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Errorf("%d signing keys after concurrent rotations, want 2 (the first and one successor)", len(keys))
	}
	k, id := testKey()
	c := newTokens(t, store, clk, func(c *oauth.Config) { c.Rotation = time.Hour })
	clk.Advance(time.Hour) // c makes the next key on its first issue; a has not loaded it
	s := issue(t, c, k, id)
	if _, code := a.Verify(t.Context(), s); code != keyward.VerifyValid {
		t.Errorf("a node verifying a key another node just made: %s, want VALID", code)
	}
}

func TestDenyList(t *testing.T) {
	clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	store := openStore(t)
	a := newTokens(t, store, clk, nil)
	b := newTokens(t, store, clk, nil)
	k, id := testKey()
	s := issue(t, a, k, id)
	tok, _ := a.Verify(t.Context(), s)
	if err := a.Revoke(t.Context(), tok); err != nil {
		t.Fatal(err)
	}
	if _, code := a.Verify(t.Context(), s); code != keyward.VerifyRevoked {
		t.Errorf("on the revoking node: %s, want REVOKED at once", code)
	}
	if err := b.SyncDenials(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, code := b.Verify(t.Context(), s); code != keyward.VerifyRevoked {
		t.Errorf("on another node after a sync: %s, want REVOKED", code)
	}
	// A key's denial refuses its tokens issued before it, not after.
	before := issue(t, a, k, id)
	clk.Advance(time.Minute)
	if err := store.DenyTokens(t.Context(), &keyward.TokenDenial{KeyID: k.ID, From: clk.Now(), ExpiresAt: clk.Now().Add(keyward.MaxAccessTokenLifetime)}); err != nil {
		t.Fatal(err)
	}
	if err := b.SyncDenials(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, code := b.Verify(t.Context(), before); code != keyward.VerifyRevoked {
		t.Errorf("a token of a denied key: %s, want REVOKED", code)
	}
	if _, err := b.Issue(t.Context(), k, id, nil); keyward.ErrorCode(err) != keyward.EUnauthenticated {
		t.Errorf("issuing for a denied key: %v, want EUnauthenticated", err)
	}
}

func TestConfigRefused(t *testing.T) {
	for name, tune := range map[string]func(*oauth.Config){
		"no issuer":     func(c *oauth.Config) { c.Issuer = "" },
		"unknown alg":   func(c *oauth.Config) { c.Algorithm = "HS256" },
		"long lifetime": func(c *oauth.Config) { c.Lifetime = 48 * time.Hour },
		"no secret":     func(c *oauth.Config) { c.Secrets = nil },
	} {
		cfg := oauth.Config{Store: openStore(t), Secrets: []keyformat.Secret{secret}, Issuer: issuer}
		tune(&cfg)
		if _, err := oauth.New(t.Context(), cfg); keyward.ErrorCode(err) != keyward.EValidation {
			t.Errorf("%s: %v, want EValidation", name, err)
		}
	}
}

func TestLimiter(t *testing.T) {
	clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	l := oauth.NewLimiter(3, time.Minute, 2, clk.Now)
	for range 3 {
		if _, blocked := l.Blocked("a"); blocked {
			t.Fatal("blocked before the limit")
		}
		l.Fail("a")
	}
	if wait, blocked := l.Blocked("a"); !blocked || wait != time.Minute {
		t.Errorf("after 3 failures: %v %v, want blocked for the window", wait, blocked)
	}
	if _, blocked := l.Blocked("b"); blocked {
		t.Error("another name is blocked")
	}
	// Past two names, new names share one counter: memory stays bounded, and so does guessing.
	l.Fail("b")
	for _, n := range []string{"c", "d", "e"} {
		l.Fail(n)
	}
	if _, blocked := l.Blocked("f"); !blocked {
		t.Error("names past the table's size escape the limit")
	}
	clk.Advance(time.Minute)
	if _, blocked := l.Blocked("a"); blocked {
		t.Error("still blocked in the next window")
	}
}

func BenchmarkVerifyAccessToken(b *testing.B) {
	for _, alg := range oauth.Algorithms {
		clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
		tok := newTokens(b, openStore(b), clk, func(c *oauth.Config) { c.Algorithm = alg })
		k, id := testKey()
		b.Run(alg+"/first-use", func(b *testing.B) {
			// Every token is new: the signature is checked each time.
			tokens := make([]string, 1000)
			for i := range tokens {
				tokens[i] = issue(b, tok, k, id)
			}
			b.ResetTimer()
			for i := range b.N {
				if i%len(tokens) == 0 && i > 0 {
					b.StopTimer()
					for j := range tokens {
						tokens[j] = issue(b, tok, k, id)
					}
					b.StartTimer()
				}
				if _, code := tok.Verify(context.Background(), tokens[i%len(tokens)]); code != keyward.VerifyValid {
					b.Fatal(code)
				}
			}
		})
		b.Run(alg+"/reused", func(b *testing.B) {
			s := issue(b, tok, k, id)
			b.ResetTimer()
			for range b.N {
				if _, code := tok.Verify(context.Background(), s); code != keyward.VerifyValid {
					b.Fatal(code)
				}
			}
		})
	}
}

func BenchmarkIssueToken(b *testing.B) {
	for _, alg := range oauth.Algorithms {
		clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
		tok := newTokens(b, openStore(b), clk, func(c *oauth.Config) { c.Algorithm = alg })
		k, id := testKey()
		b.Run(alg, func(b *testing.B) {
			for range b.N {
				if _, err := tok.Issue(context.Background(), k, id, k.Scopes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTokenHeaderIsCanonical checks that the header go-jose writes is the one Verify expects
// byte for byte (its members sorted, as encoding/json writes a map), so that verifying a
// token of ours skips parsing its header.
func TestTokenHeaderIsCanonical(t *testing.T) {
	clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	for _, alg := range oauth.Algorithms {
		tok := newTokens(t, openStore(t), clk, func(c *oauth.Config) { c.Algorithm = alg })
		k, id := testKey()
		header := strings.Split(issue(t, tok, k, id), ".")[0]
		raw, _ := base64.RawURLEncoding.DecodeString(header)
		var h map[string]string
		if err := json.Unmarshal(raw, &h); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(map[string]string{"alg": alg, "kid": h["kid"], "typ": "at+jwt"})
		if string(raw) != string(want) {
			t.Errorf("%s header = %s, want %s", alg, raw, want)
		}
	}
}

// respell changes the unused low bits of a base64url string's last character: a lax decoder
// reads the same bytes from it.
func respell(b64 string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, b64[len(b64)-1])
	return b64[:len(b64)-1] + string(alphabet[last^1])
}

// FuzzVerify feeds Verify anything, starting from a real token and mutations of it: it must
// never panic, and never accept a string that is not a token this deployment issued.
func FuzzVerify(f *testing.F) {
	clk := &clock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	tok := newTokens(f, openStore(f), clk, nil)
	k, id := testKey()
	good := issue(f, tok, k, id)
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + ".." + parts[2])
	f.Add("." + parts[1] + "." + parts[2])
	f.Add(strings.ToUpper(good))
	f.Add(good + "=")
	f.Add(parts[0] + "." + parts[1] + "." + respell(parts[2]))
	f.Add("e30.e30.e30")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		got, code := tok.Verify(context.Background(), s)
		if code == keyward.VerifyValid && s != good {
			t.Fatalf("Verify accepted %q as %+v", s, got)
		}
	})
}
