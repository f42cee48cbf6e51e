// Command webhook-receiver is an example receiver of Keyward's webhooks. It verifies each
// request's Standard Webhooks signature with the official Go library
// (github.com/standard-webhooks/standard-webhooks/libraries/go), answers 204 to a message it
// accepts and 400 to one it does not, and prints the event's type and data, never a secret.
//
//	KEYWARD_WEBHOOK_SECRET=whsec_… go run ./examples/webhook-receiver -addr 127.0.0.1:8090
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// maxBody bounds the body read before verifying: Keyward's events are small.
const maxBody = 1 << 20

// sensitive names the data fields printed only as "[redacted]": a rotated key's new secret,
// and a key's plaintext.
var sensitive = map[string]bool{"secret": true, "key": true}

func main() {
	log.SetFlags(0)
	defaultAddr := os.Getenv("KEYWARD_WEBHOOK_ADDR")
	if defaultAddr == "" {
		defaultAddr = "127.0.0.1:8090"
	}
	addr := flag.String("addr", defaultAddr, "listen address (env KEYWARD_WEBHOOK_ADDR)")
	flag.Parse()

	secret := os.Getenv("KEYWARD_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set KEYWARD_WEBHOOK_SECRET to the endpoint's signing secret (whsec_…)")
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		// The library's error does not contain the secret.
		log.Fatalf("KEYWARD_WEBHOOK_SECRET is not a webhook secret: %v", err)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	srv := &http.Server{Handler: handler(wh), ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}

// handler verifies and prints each POSTed message.
func handler(wh *standardwebhooks.Webhook) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		// Verify the exact bytes received: parse the JSON only after the signature holds.
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read body", http.StatusBadRequest)
			return
		}
		// Verify checks the three headers, the timestamp (five minutes either way) and every
		// "v1," signature in webhook-signature, so a rotation's two signatures are accepted
		// when either is made with our secret.
		if err := wh.Verify(body, r.Header); err != nil {
			fmt.Printf("rejected %q: %v\n", r.Header.Get("webhook-id"), err)
			http.Error(w, "invalid signature", http.StatusBadRequest)
			return
		}
		var event struct {
			Type      string         `json:"type"`
			Timestamp string         `json:"timestamp"`
			Data      map[string]any `json:"data"`
		}
		if err := json.Unmarshal(body, &event); err != nil {
			fmt.Printf("rejected %q: signed, but not an event: %v\n", r.Header.Get("webhook-id"), err)
			http.Error(w, "not a JSON event", http.StatusBadRequest)
			return
		}
		fmt.Printf("event %s at %s (webhook-id %s)\n", event.Type, event.Timestamp, r.Header.Get("webhook-id"))
		if event.Type == "api_key.rotated" {
			if s, ok := event.Data["secret"].(string); ok {
				fmt.Printf("  new secret received (%d chars)\n", len(s))
				// In real use, store it now, before answering, in your secret manager
				// (Vault, AWS Secrets Manager, a Kubernetes Secret …), e.g.
				//   err := secrets.Put(ctx, "keyward/"+event.Data["id"].(string), s)
				// and answer 5xx if that fails, so that Keyward sends the event again.
			}
		}
		data, _ := json.Marshal(redact(event.Data))
		fmt.Printf("  data: %s\n", data)
		w.WriteHeader(http.StatusNoContent)
	})
}

// redact returns v with the values of sensitive fields, at any depth, replaced.
func redact(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			if sensitive[k] {
				out[k] = "[redacted]"
			} else {
				out[k] = redact(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = redact(e)
		}
		return out
	}
	return v
}
