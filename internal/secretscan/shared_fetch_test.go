package secretscan_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/keyward/keyward/internal/secretscan"
	"github.com/keyward/keyward/internal/secretscan/secretscantest"
)

// gatedTransport serves the keys from srv in memory, after gate is closed, so that a test
// in a synctest bubble can hold a fetch open and see who waits for it.
type gatedTransport struct {
	srv     *secretscantest.Server
	gate    chan struct{}
	started atomic.Int64
}

func (g *gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	g.started.Add(1)
	select {
	case <-g.gate:
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	rec := httptest.NewRecorder()
	g.srv.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// TestVerifySharesOneFetch: callers that need the keys while a fetch is under way wait for
// that fetch rather than start their own or give up, and one caller that stops waiting does
// not fail the others.
func TestVerifySharesOneFetch(t *testing.T) {
	srv := secretscantest.NewServer(t)
	keyID, sig := srv.Sign(body)
	synctest.Test(t, func(t *testing.T) {
		g := &gatedTransport{srv: srv, gate: make(chan struct{})}
		v, err := secretscan.NewVerifier(secretscan.Options{
			KeysURL: "http://keys.invalid" + secretscantest.KeysPath,
			Client:  &http.Client{Transport: g},
		})
		if err != nil {
			t.Fatal(err)
		}

		const callers = 20
		errs := make([]error, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() { errs[i] = v.Verify(t.Context(), keyID, sig, body) })
		}
		impatient, cancel := context.WithCancel(t.Context())
		var impatientErr error
		wg.Go(func() { impatientErr = v.Verify(impatient, keyID, sig, body) })

		synctest.Wait() // every caller is blocked: one in the fetch, the rest waiting for it
		if got := g.started.Load(); got != 1 {
			t.Fatalf("got %d fetches started, want 1", got)
		}
		cancel()
		synctest.Wait()
		close(g.gate)
		wg.Wait()

		for i, err := range errs {
			if err != nil {
				t.Errorf("caller %d: got %v, want nil", i, err)
			}
		}
		if !errors.Is(impatientErr, context.Canceled) || !errors.Is(impatientErr, secretscan.ErrKeyFetch) {
			t.Errorf("canceled caller: got %v, want ErrKeyFetch and context.Canceled", impatientErr)
		}
		if got := srv.Fetches(); got != 1 {
			t.Errorf("got %d fetches served, want 1", got)
		}
	})
}
