package webhook_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/keyward/keyward/internal/webhook"
)

// officialWebhook is the official library's verifier for secret.
func officialWebhook(t *testing.T, secret webhook.Secret) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret.Reveal())
	if err != nil {
		t.Fatalf("official NewWebhook(Reveal()): %v", err)
	}
	return wh
}

// TestOfficialLibraryVerifiesOurs: a receiver using the official library accepts what we
// send, with one secret and during a rotation, whichever of the two secrets it knows. The
// official library checks the timestamp against its own clock, so the messages are signed
// now.
func TestOfficialLibraryVerifiesOurs(t *testing.T) {
	oldSecret, newSecret := newSecret(t), newSecret(t)
	body := []byte(`{"type":"api_key.rotated","timestamp":"2026-01-02T03:04:05Z","data":{"id":"key_1"}}`)
	tests := []struct {
		name     string
		signWith []webhook.Secret
		knows    webhook.Secret
		wantOK   bool
	}{
		{name: "one secret", signWith: []webhook.Secret{newSecret}, knows: newSecret, wantOK: true},
		{name: "rotation, receiver knows the new secret", signWith: []webhook.Secret{newSecret, oldSecret}, knows: newSecret, wantOK: true},
		{name: "rotation, receiver knows the old secret", signWith: []webhook.Secret{newSecret, oldSecret}, knows: oldSecret, wantOK: true},
		{name: "receiver knows another secret", signWith: []webhook.Secret{newSecret}, knows: oldSecret, wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := webhook.Headers("msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", time.Now(), body, tt.signWith...)
			err := officialWebhook(t, tt.knows).Verify(body, h)
			if (err == nil) != tt.wantOK {
				t.Fatalf("official Verify got %v, want ok %v", err, tt.wantOK)
			}
		})
	}
}

// TestVerifyAcceptsOfficial: our Verify, which Keyward's docs give receivers, accepts what
// the official library signs, alone and beside another sender's signature.
func TestVerifyAcceptsOfficial(t *testing.T) {
	secret, other := newSecret(t), newSecret(t)
	id, ts := "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", time.Unix(1700000000, 0)
	body := []byte(`{"type":"api_key.created"}`)
	theirs, err := officialWebhook(t, secret).Sign(id, ts, body)
	if err != nil {
		t.Fatalf("official Sign: %v", err)
	}
	if ours := webhook.Sign(id, ts, body, secret); theirs != ours {
		t.Errorf("official Sign got %q, ours %q", theirs, ours)
	}
	tests := []struct {
		name      string
		signature string
	}{
		{name: "alone", signature: theirs},
		{name: "after another secret's", signature: webhook.Sign(id, ts, body, other) + " " + theirs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h.Set(standardwebhooks.HeaderWebhookID, id)
			h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
			h.Set(standardwebhooks.HeaderWebhookSignature, tt.signature)
			if err := webhook.Verify(h, body, 0, ts.Add(time.Minute), secret); err != nil {
				t.Fatalf("Verify got %v, want nil", err)
			}
		})
	}
}
