package httpapi_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/httpwire"
)

// TestGuessersCannotLockClientsOut is issue 16's lockout scenario: many clients of several
// tenants reach Keyward through one address (a NAT, or a proxy Keyward does not trust), and
// a guesser behind the same address fails as fast as it likes, with their client_ids and with
// made-up ones. Every client that has authenticated before keeps getting tokens; the guesser
// is limited. Then the same behind a trusted proxy, where the address that counts is the one
// X-Forwarded-For names.
func TestGuessersCannotLockClientsOut(t *testing.T) {
	e := newEnv(t)
	srv := httpapi.New(httpapi.Config{Service: e.svc, Verifier: e.verifier, Tokens: e.tokens, Logger: slog.New(slog.DiscardHandler),
		Authenticator:  authn.New(authn.Config{Service: e.svc, Keys: e.verifier, Tokens: e.tokens}),
		TrustedProxies: httpwire.Proxies{netip.MustParsePrefix("198.51.100.0/24")}})
	token := func(peer, forwardedFor, id, secret string) int {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
		req := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = peer + ":40000"
		if forwardedFor != "" {
			req.Header.Set("X-Forwarded-For", forwardedFor)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec.Code
	}

	// Twelve clients in three tenants, each of which has authenticated once from the shared
	// address.
	const shared = "203.0.113.9"
	var clients []createdKey
	var admins []string // each client's tenant's admin key
	for a := range 3 {
		var acct struct {
			AdminKey struct{ Key string } `json:"admin_key"`
		}
		e.must(http.StatusCreated, "POST", "/v1/accounts", map[string]any{"name": fmt.Sprintf("tenant %d", a)}).decode(t, &acct)
		for i := range 4 {
			var k createdKey
			r := e.doAs(acct.AdminKey.Key, "POST", "/v1/api-keys", map[string]any{"name": fmt.Sprintf("client %d", i)})
			if r.status != http.StatusCreated {
				t.Fatalf("creating a key in tenant %d = %d %s", a, r.status, r.body)
			}
			r.decode(t, &k)
			clients = append(clients, k)
			admins = append(admins, acct.AdminKey.Key)
		}
	}
	for _, c := range clients {
		if got := token(shared, "", c.ID, c.Key); got != http.StatusOK {
			t.Fatalf("first token of %s = %d", c.ID, got)
		}
	}

	// The guesser: 600 attempts, each client's id with a wrong secret, then made-up ids.
	attempts, limited := 0, 0
	for i := range 600 {
		id, secret := clients[i%len(clients)].ID, mistype(clients[i%len(clients)].Key)
		if i%2 == 1 {
			id = fmt.Sprintf("key_guess%04d", i)
		}
		attempts++
		switch got := token(shared, "", id, secret); got {
		case http.StatusTooManyRequests:
			limited++
		case http.StatusUnauthorized:
		default:
			t.Fatalf("guess %d = %d, want 401 or 429", i, got)
		}
	}
	if limited < attempts-60 {
		t.Errorf("the guesser was limited on %d of %d attempts, want all but the first 50", limited, attempts)
	}

	// Every client, right after the guessing, from the same address.
	refused := 0
	for _, c := range clients {
		if got := token(shared, "", c.ID, c.Key); got != http.StatusOK {
			refused++
			t.Errorf("client %s after the guessing = %d, want 200", c.ID, got)
		}
	}
	t.Logf("lockout: %d guesses from the shared address, %d limited; %d of %d legitimate clients refused", attempts, limited, refused, len(clients))

	// A client that never authenticated before, from the guesser's address, is limited with
	// it: nothing tells it from the guesser.
	fresh := e.key(map[string]any{"name": "fresh"})
	if got := token(shared, "", fresh.ID, fresh.Key); got != http.StatusTooManyRequests {
		t.Errorf("a client never seen before, from the guesser's address = %d, want 429", got)
	}

	// Behind a trusted proxy the address that counts is the client's: the guesser's failures
	// there do not touch a new client elsewhere behind the same proxy. An untrusted peer's
	// X-Forwarded-For is ignored: the guesser cannot escape its limit by naming new addresses.
	const proxy = "198.51.100.7"
	for i := range 60 {
		token(proxy, "192.0.2.66", fmt.Sprintf("key_guess%04d", i), "kw_nope")
	}
	if got := token(proxy, "192.0.2.66", "key_other", "kw_nope"); got != http.StatusTooManyRequests {
		t.Errorf("the guesser behind the proxy after 60 failures = %d, want 429", got)
	}
	other := e.key(map[string]any{"name": "behind the proxy"})
	if got := token(proxy, "192.0.2.77", other.ID, other.Key); got != http.StatusOK {
		t.Errorf("a new client behind the trusted proxy = %d, want 200", got)
	}
	if got := token(shared, "192.0.2.200", "key_other", "kw_nope"); got != http.StatusTooManyRequests {
		t.Errorf("the guesser naming another address in X-Forwarded-For = %d, want 429 (its peer is not a trusted proxy)", got)
	}

	// A revoked key's proof opens nothing: the guesser's limit applies to it again.
	if r := e.doAs(admins[1], "DELETE", "/v1/api-keys/"+clients[1].ID, nil); r.status != http.StatusNoContent {
		t.Fatalf("revoking = %d %s", r.status, r.body)
	}
	if got := token(shared, "", clients[1].ID, clients[1].Key); got != http.StatusUnauthorized {
		t.Errorf("a revoked client = %d, want 401", got)
	}
	if got := token(shared, "", clients[1].ID, clients[1].Key); got != http.StatusTooManyRequests {
		t.Errorf("a revoked client, again, while its address is limited = %d, want 429", got)
	}
}
