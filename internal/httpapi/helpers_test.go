package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/events"
	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/oauth"
	"github.com/keyward/keyward/internal/oidctest"
	"github.com/keyward/keyward/internal/openapitest"
	"github.com/keyward/keyward/internal/ratelimit"
	"github.com/keyward/keyward/internal/seal"
	"github.com/keyward/keyward/internal/sqlite"
	"github.com/keyward/keyward/internal/verify"
)

// clock is a settable time source shared by the service and the verifier.
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

// env is one Keyward server over a real SQLite file, with its admin token.
type env struct {
	t        testing.TB
	url      string
	token    string
	clock    *clock
	dbPath   string
	logs     *syncBuffer
	svc      *keyward.Service
	verifier *verify.Verifier
	server   *httpapi.Server
	store    *sqlite.Store
	tokens   *oauth.Tokens
	// hub is the event stream's, when the env serves one (newEnvEvents).
	hub *events.Hub
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWith(t, nil)
}

// oidcAudience is the audience the test issuer's tokens are for.
const oidcAudience = "https://api.keyward.test"

// newEnvWith starts a server that, when issuer is not nil, accepts its access tokens for
// oidcAudience; first sign-ins join the default account as members.
func newEnvWith(t testing.TB, issuer *oidctest.Issuer) *env {
	t.Helper()
	return newEnvTokens(t, issuer, nil)
}

// newEnvTokens is newEnvWith with the OAuth token settings changed by tune, when not nil.
func newEnvTokens(t testing.TB, issuer *oidctest.Issuer, tune func(*oauth.Config)) *env {
	t.Helper()
	return newEnvFull(t, issuer, tune, nil, nil)
}

// newEnvLimited is newEnv with keys held to their rate limits by limiter (on the env's
// clock: the limit sees time move only when the test moves it).
func newEnvLimited(t testing.TB, limiter ratelimit.Limiter) *env {
	t.Helper()
	return newEnvFull(t, nil, nil, limiter, nil)
}

// newEnvEvents is newEnv serving GET /v1/events from hub, which hears every change the
// verifier's cache hears, as in serve.
func newEnvEvents(t testing.TB, hub *events.Hub) *env {
	t.Helper()
	return newEnvFull(t, nil, nil, nil, hub)
}

func newEnvFull(t testing.TB, issuer *oidctest.Issuer, tune func(*oauth.Config), limiter ratelimit.Limiter, hub *events.Hub) *env {
	t.Helper()
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "keyward.db")
	store, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	secret := keyformat.Secret{Version: 1, Value: bytes.Repeat([]byte("p"), 32)}
	hasher, err := keyformat.NewHasher(secret)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The server's URL is the issuer of its access tokens, so its listener comes first.
	ts := httptest.NewUnstartedServer(nil)
	tcfg := oauth.Config{Store: store, Secrets: []keyformat.Secret{secret}, Issuer: "http://" + ts.Listener.Addr().String(), Now: clk.Now, Logger: log}
	if tune != nil {
		tune(&tcfg)
	}
	tokens, err := oauth.New(ctx, tcfg)
	if err != nil {
		t.Fatal(err)
	}
	var svc *keyward.Service
	// As in serve: the verifier resolves through the memo, which hears changes before it.
	memo := keyward.NewCachingResolverStore(store, 0, clk.Now)
	v := verify.New(store, hasher, verify.Config{Now: clk.Now, Logger: log, Limiter: limiter,
		Resolver: keyward.NewResolver(memo), Tokens: tokens,
		Exhausted: func(ctx context.Context, k *keyward.Key) error {
			_, err := svc.KeyExhausted(ctx, k.AccountID, k.ID)
			return err
		}})
	changes := events.Fanout{memo, v}
	if hub != nil {
		changes = append(changes, hub)
	}
	sealer, err := seal.New([]keyformat.Secret{secret}, "test webhook secrets")
	if err != nil {
		t.Fatal(err)
	}
	svc = keyward.NewService(store, hasher, keyward.WithClock(clk.Now), keyward.WithKeyEvents(changes), keyward.WithIdentityEvents(changes), keyward.WithLogger(log),
		keyward.WithSealer(sealer), keyward.WithEventEncoder(httpapi.EncodeEvent))
	token, err := svc.Bootstrap(ctx)
	if err != nil || token == "" {
		t.Fatalf("Bootstrap = %q, %v", token, err)
	}
	acfg := authn.Config{Service: svc, Keys: v, Tokens: tokens}
	if issuer != nil {
		// The verifier keeps real time: the issuer signs with it, and the fake clock is hours
		// away from it.
		acfg.OIDC, err = authn.NewOIDCVerifier(ctx, authn.OIDCConfig{Issuer: issuer.URL, Audience: oidcAudience})
		if err != nil {
			t.Fatal(err)
		}
	}
	srv := httpapi.New(httpapi.Config{Service: svc, Verifier: v, Authenticator: authn.New(acfg), Logger: log, Tokens: tokens,
		Gateway: gateway.New(gateway.Config{Verdicts: v, Logger: log, Now: clk.Now}), Events: hub})
	ts.Config.Handler = checked(t, srv)
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		if err := v.Close(ctx); err != nil {
			t.Errorf("closing verifier: %v", err)
		}
		store.Close()
	})
	return &env{t: t, url: ts.URL, token: token, clock: clk, dbPath: dbPath, logs: logs, svc: svc, verifier: v, server: srv, store: store, tokens: tokens, hub: hub}
}

// checked wraps srv so that every answer it gives in the test is checked against the OpenAPI
// document it serves; the test fails, once the server is closed, for each one that breaks it.
func checked(t testing.TB, srv *httpapi.Server) http.Handler {
	t.Helper()
	v31, err := json.Marshal(srv.OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	v30, err := srv.OpenAPI30()
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	// Both forms served: the 3.0 one is rewritten from the 3.1 one, and must say the same.
	for _, doc := range []struct {
		name string
		body []byte
	}{{"3.1", v31}, {"3.0", v30}} {
		c, err := openapitest.New(doc.body)
		if err != nil {
			t.Fatal(err)
		}
		// Registered before the server's own cleanup, so it runs after the server is closed
		// and every answer is in.
		t.Cleanup(func() {
			for _, v := range c.Violations() {
				t.Errorf("openapi %s violation: %s", doc.name, v)
			}
		})
		h = c.Handler(h)
	}
	return h
}

// response is what a request answered.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (r response) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// do sends a request with the env's admin token. body may be nil, a string (sent as is) or
// any value (sent as JSON).
func (e *env) do(method, path string, body any) response {
	e.t.Helper()
	return e.doAs(e.token, method, path, body)
}

func (e *env) doAs(token, method, path string, body any) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// must sends a request and fails the test unless it answers want.
func (e *env) must(want int, method, path string, body any) response {
	e.t.Helper()
	r := e.do(method, path, body)
	if r.status != want {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, r.status, r.body, want)
	}
	return r
}

func (e *env) project(name string) string {
	e.t.Helper()
	r := e.must(http.StatusCreated, "POST", "/v1/projects", map[string]any{"name": name})
	return r.object(e.t)["id"].(string)
}

// createdKey is a key as creation answers it.
type createdKey struct {
	ID     string   `json:"id"`
	Key    string   `json:"key"`
	Prefix string   `json:"key_prefix"`
	Scopes []string `json:"scopes"`
}

func (e *env) key(body map[string]any) createdKey {
	e.t.Helper()
	var k createdKey
	e.must(http.StatusCreated, "POST", "/v1/api-keys", body).decode(e.t, &k)
	return k
}

type verdict struct {
	Valid     bool       `json:"valid"`
	Code      string     `json:"code"`
	KeyID     *string    `json:"key_id"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func (e *env) verify(key string, scopes ...string) verdict {
	e.t.Helper()
	body := map[string]any{"key": key}
	if len(scopes) > 0 {
		body["required_scopes"] = scopes
	}
	var v verdict
	r := e.doAs("", "POST", "/v1/keys/verify", body)
	if r.status != http.StatusOK {
		e.t.Fatalf("verify = %d %s, want 200", r.status, r.body)
	}
	r.decode(e.t, &v)
	return v
}

func problemCode(t *testing.T, r response) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json (body %s)", ct, r.body)
	}
	var p struct {
		Code   string `json:"code"`
		Status int    `json:"status"`
	}
	r.decode(t, &p)
	if p.Status != r.status {
		t.Errorf("problem status = %d, response status %d", p.Status, r.status)
	}
	return p.Code
}
