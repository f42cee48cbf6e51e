package webhook_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/webhook"
)

// mustSecret parses a secret or fails the test.
func mustSecret(t *testing.T, text string) webhook.Secret {
	t.Helper()
	s, err := webhook.ParseSecret(text)
	if err != nil {
		t.Fatalf("ParseSecret: %v", err)
	}
	return s
}

// newSecret makes a random secret or fails the test.
func newSecret(t *testing.T) webhook.Secret {
	t.Helper()
	s, err := webhook.NewSecret()
	if err != nil {
		t.Fatalf("NewSecret: %v", err)
	}
	return s
}

// TestSignKnownAnswer signs the message of the official libraries' own test and expects
// their signature.
func TestSignKnownAnswer(t *testing.T) {
	secret := mustSecret(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	got := webhook.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`), secret)
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestSignSeveralSecrets(t *testing.T) {
	oldSecret, newSecret := newSecret(t), newSecret(t)
	ts := time.Unix(1700000000, 0)
	body := []byte(`{"type":"api_key.rotated"}`)
	one := func(s webhook.Secret) string { return webhook.Sign("msg_1", ts, body, s) }

	if got, want := webhook.Sign("msg_1", ts, body, newSecret, oldSecret), one(newSecret)+" "+one(oldSecret); got != want {
		t.Errorf("two secrets: got %q, want %q", got, want)
	}
	if got, want := webhook.Sign("msg_1", ts, body, webhook.Secret{}, newSecret, webhook.Secret{}), one(newSecret); got != want {
		t.Errorf("zero secrets around one: got %q, want %q", got, want)
	}
	if got := webhook.Sign("msg_1", ts, body); got != "" {
		t.Errorf("no secret: got %q, want \"\"", got)
	}
}

func TestHeaders(t *testing.T) {
	s := newSecret(t)
	ts := time.Unix(1700000000, 999_000_000) // the fraction of a second is dropped
	body := []byte(`{}`)
	got := webhook.Headers("msg_1", ts, body, s)
	want := http.Header{
		"Webhook-Id":        {"msg_1"},
		"Webhook-Timestamp": {"1700000000"},
		"Webhook-Signature": {webhook.Sign("msg_1", ts, body, s)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Headers (-want +got):\n%s", diff)
	}
}

func TestVerify(t *testing.T) {
	secret, other := newSecret(t), newSecret(t)
	sent := time.Unix(1700000000, 0)
	body := []byte(`{"type":"api_key.created","data":{"id":"key_1"}}`)
	signed := func() http.Header { return webhook.Headers("msg_1", sent, body, secret) }
	with := func(name, value string) http.Header {
		h := signed()
		h.Set(name, value)
		return h
	}
	without := func(name string) http.Header {
		h := signed()
		h.Del(name)
		return h
	}
	good := webhook.Sign("msg_1", sent, body, secret)

	tests := []struct {
		name      string
		header    http.Header
		body      string // "" means body
		now       time.Time
		tolerance time.Duration
		secrets   []webhook.Secret
		want      error
	}{
		{name: "good", header: signed(), now: sent, secrets: []webhook.Secret{secret}},
		{name: "good, 5 minutes late", header: signed(), now: sent.Add(5 * time.Minute), secrets: []webhook.Secret{secret}},
		{name: "good, 5 minutes early", header: signed(), now: sent.Add(-5 * time.Minute), secrets: []webhook.Secret{secret}},
		{name: "receiver knows the old and the new secret", header: signed(), now: sent, secrets: []webhook.Secret{other, secret}},
		{name: "wrong secret", header: signed(), now: sent, secrets: []webhook.Secret{other}, want: webhook.ErrNoMatchingSignature},
		{name: "tampered body", header: signed(), body: `{"type":"api_key.deleted","data":{"id":"key_1"}}`, now: sent, secrets: []webhook.Secret{secret}, want: webhook.ErrNoMatchingSignature},
		{name: "tampered id", header: with("webhook-id", "msg_2"), now: sent, secrets: []webhook.Secret{secret}, want: webhook.ErrNoMatchingSignature},
		{name: "tampered timestamp", header: with("webhook-timestamp", "1700000001"), now: sent, secrets: []webhook.Secret{secret}, want: webhook.ErrNoMatchingSignature},
		{name: "too old", header: signed(), now: sent.Add(5*time.Minute + time.Second), secrets: []webhook.Secret{secret}, want: webhook.ErrTimestamp},
		{name: "too far in the future", header: signed(), now: sent.Add(-5*time.Minute - time.Second), secrets: []webhook.Secret{secret}, want: webhook.ErrTimestamp},
		{name: "old, within a wider tolerance", header: signed(), now: sent.Add(time.Hour), tolerance: 2 * time.Hour, secrets: []webhook.Secret{secret}},
		{name: "within the default, outside a narrower tolerance", header: signed(), now: sent.Add(time.Minute), tolerance: 30 * time.Second, secrets: []webhook.Secret{secret}, want: webhook.ErrTimestamp},
		{
			name:   "several signatures, only the second matches",
			header: with("webhook-signature", webhook.Sign("msg_1", sent, body, other)+" "+good),
			now:    sent, secrets: []webhook.Secret{secret},
		},
		{
			name:   "unreadable entries, then a good one",
			header: with("webhook-signature", ",,, v1,not,base64  v1 v1a,AAAA "+good),
			now:    sent, secrets: []webhook.Secret{secret},
		},
		{name: "signature with trailing data", header: with("webhook-signature", good+"AA"), now: sent, secrets: []webhook.Secret{secret}, want: webhook.ErrMalformedHeader},
		{name: "malformed: no comma", header: with("webhook-signature", "v1"+strings.TrimPrefix(good, "v1,")), now: sent, secrets: []webhook.Secret{secret}, want: webhook.ErrMalformedHeader},
		{name: "malformed: not base64", header: with("webhook-signature", "v1,!!!!"), now: sent, secrets: []webhook.Secret{secret}, want: webhook.ErrMalformedHeader},
		{name: "malformed: another version only", header: with("webhook-signature", "v2"+strings.TrimPrefix(good, "v1")), now: sent, secrets: []webhook.Secret{secret}, want: webhook.ErrMalformedHeader},
		{name: "malformed timestamp", header: with("webhook-timestamp", "2023-11-14T22:13:20Z"), now: sent, secrets: []webhook.Secret{secret}, want: webhook.ErrMalformedHeader},
		{name: "no id", header: without("webhook-id"), now: sent, secrets: []webhook.Secret{secret}, want: webhook.ErrMissingHeader},
		{name: "no timestamp", header: without("webhook-timestamp"), now: sent, secrets: []webhook.Secret{secret}, want: webhook.ErrMissingHeader},
		{name: "no signature", header: without("webhook-signature"), now: sent, secrets: []webhook.Secret{secret}, want: webhook.ErrMissingHeader},
		{name: "no secret", header: signed(), now: sent, want: webhook.ErrNoSecret},
		{name: "only the zero secret", header: signed(), now: sent, secrets: []webhook.Secret{{}}, want: webhook.ErrNoSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := body
			if tt.body != "" {
				b = []byte(tt.body)
			}
			err := webhook.Verify(tt.header, b, tt.tolerance, tt.now, tt.secrets...)
			if !errors.Is(err, tt.want) || (err != nil) != (tt.want != nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}
