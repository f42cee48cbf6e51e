package httpapi_test

import (
	"log/slog"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/httpapi"
	"io"
	"net/http"
	"strings"
	"testing"
)

// discardWriter is the least a ResponseWriter can be, so that a benchmark of a handler
// measures the handler.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkVerifyHandler serves a warm verification through the whole server (router,
// headers, decoding, verification, encoding) without a network, beside a bare handler that
// reads the same body and answers {"valid":true}: their ratio is what the HTTP layer adds.
func BenchmarkVerifyHandler(b *testing.B) {
	e := newEnv(b)
	k := e.key(map[string]any{"project_id": e.project("p"), "name": "bench"})
	body := `{"key":"` + k.Key + `"}`
	// The test env logs every request at debug level; production logs at info, which skips
	// the access log.
	quiet := slog.New(slog.DiscardHandler)
	server := httpapi.New(httpapi.Config{Service: e.svc, Verifier: e.verifier, Authenticator: authn.New(authn.Config{Service: e.svc, Keys: e.verifier}), Logger: quiet})
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"valid":true}`))
	})
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"keyward", server}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, _ := http.NewRequest(http.MethodPost, "/v1/keys/verify", strings.NewReader(body))
				w := &discardWriter{h: http.Header{}}
				bc.h.ServeHTTP(w, r)
			}
		})
	}
}
