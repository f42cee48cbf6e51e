package secretscan_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/keyward/keyward/internal/secretscan"
)

// An alert handler: verify the raw body, then decode it, then answer one Feedback per
// report, the raw token only for our own.
func Example() {
	v, err := secretscan.NewVerifier(secretscan.Options{})
	if err != nil {
		panic(err)
	}
	isOurs := func(token string) bool { return false } // the caller's lookup

	http.HandleFunc("POST /github/secret-scanning", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		err = v.Verify(r.Context(), r.Header.Get(secretscan.HeaderKeyID), r.Header.Get(secretscan.HeaderSignature), body)
		switch {
		case errors.Is(err, secretscan.ErrKeyFetch):
			slog.Error("secret scanning: keys", "err", err)
			http.Error(w, "try again", http.StatusServiceUnavailable) // GitHub retries
			return
		case err != nil:
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		reports, err := secretscan.ParseReports(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		feedback := make([]secretscan.Feedback, 0, len(reports))
		for _, rep := range reports {
			label := secretscan.FalsePositive
			if isOurs(rep.Token) {
				label = secretscan.TruePositive // and revoke it
			}
			feedback = append(feedback, rep.Feedback(label))
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(feedback)
	})
}
