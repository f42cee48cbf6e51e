package webhook_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/webhook"
)

func TestNewSecretRoundTrips(t *testing.T) {
	a, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if a.Reveal() == b.Reveal() {
		t.Fatalf("two new secrets are the same: %s", a)
	}
	text := a.Reveal()
	// 32 bytes are 44 characters of padded base64.
	if !strings.HasPrefix(text, "whsec_") || len(text) != len("whsec_")+44 {
		t.Fatalf("Reveal() got %d characters %.8q…, want whsec_ and 44 characters of base64", len(text), text)
	}
	parsed, err := webhook.ParseSecret(text)
	if err != nil {
		t.Fatalf("ParseSecret(Reveal()): %v", err)
	}
	if parsed.Reveal() != text {
		t.Fatalf("ParseSecret(Reveal()).Reveal() differs from Reveal()")
	}
}

func TestParseSecret(t *testing.T) {
	// 24 bytes, the spec's smallest, written as the official libraries' tests write it.
	const official = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	// 32 bytes: 43 characters without padding, 44 with.
	const padded = "whsec_" + "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
	tests := []struct {
		name    string
		in      string
		want    string // Reveal() of the result; "" when an error is wanted
		wantErr string
	}{
		{name: "official 24 bytes", in: official, want: official},
		{name: "padded", in: padded, want: padded},
		{name: "unpadded", in: strings.TrimSuffix(padded, "="), want: padded},
		{name: "no prefix", in: strings.TrimPrefix(padded, "whsec_"), wantErr: `must start with "whsec_"`},
		{name: "other prefix", in: "whsk_" + strings.TrimPrefix(padded, "whsec_"), wantErr: `must start with "whsec_"`},
		{name: "empty", in: "", wantErr: `must start with "whsec_"`},
		{name: "prefix only", in: "whsec_", wantErr: "its key is 0 bytes"},
		{name: "url base64", in: "whsec_" + strings.Repeat("-_", 16), wantErr: "not standard base64"},
		{name: "spaces", in: "whsec_ " + strings.TrimPrefix(padded, "whsec_"), wantErr: "not standard base64"},
		{name: "line break", in: padded + "\n", wantErr: "line break"},
		{name: "too short", in: "whsec_AAECAwQFBgcICQoLDA0ODxAREhMU", wantErr: "its key is 21 bytes; it must be 24 to 64"},
		{name: "too long", in: "whsec_" + strings.Repeat("AAAA", 22), wantErr: "its key is 66 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := webhook.ParseSecret(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				if !errors.Is(err, webhook.ErrInvalidSecret) {
					t.Errorf("got error %v, want one that is ErrInvalidSecret", err)
				}
				if len(tt.in) > len("whsec_")+4 && strings.Contains(err.Error(), tt.in[len("whsec_"):]) {
					t.Errorf("error %q contains the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got.Reveal() != tt.want {
				t.Fatalf("got Reveal() %q, want %q", got.Reveal(), tt.want)
			}
		})
	}
}

// holder holds a secret where fmt cannot call its methods.
type holder struct{ s webhook.Secret }

func TestSecretPrintsRedacted(t *testing.T) {
	s, err := webhook.ParseSecret("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	if err != nil {
		t.Fatal(err)
	}
	const want = "whsec_…dHh8"
	key := strings.TrimPrefix(s.Reveal(), "whsec_")
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "secret", s, "in", struct{ S webhook.Secret }{s})
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "secret", s, "in", struct{ S webhook.Secret }{s})
	printed := map[string]string{
		"String": s.String(),
		"%v":     fmt.Sprintf("%v", s),
		"%s":     fmt.Sprintf("%s", s),
		"%+v":    fmt.Sprintf("%+v", s),
		"%#v":    fmt.Sprintf("%#v", s),
		"%x":     fmt.Sprintf("%x", s),
		"%d":     fmt.Sprintf("%d", s),
		"in a struct": fmt.Sprintf("%+v", struct {
			S webhook.Secret
		}{s}),
		"pointer":                fmt.Sprintf("%v", &s),
		"in an unexported field": fmt.Sprintf("%+v %#v", holder{s}, holder{s}),
		"in a slice":             fmt.Sprintf("%v %#v", []webhook.Secret{s}, []webhook.Secret{s}),
		"slog":                   logged.String(),
	}
	raw, err := base64.StdEncoding.DecodeString(key)
	if err != nil {
		t.Fatal(err)
	}
	// The key's spellings fmt could print: base64, hex, and a byte slice's decimal.
	spellings := []string{key[:8], hex.EncodeToString(raw)[:8], strings.Trim(fmt.Sprint(raw[:4]), "[]")}
	for name, got := range printed {
		for _, k := range spellings {
			if strings.Contains(got, k) {
				t.Errorf("%s: got %q, which shows the key as %q", name, got, k)
			}
		}
	}
	if got := s.String(); got != want {
		t.Errorf("String() got %q, want %q", got, want)
	}
	if got := fmt.Sprintf("%v", s); got != s.String() {
		t.Errorf("%%v got %q, want String()'s %q", got, s.String())
	}
	if got := (webhook.Secret{}).String(); got != "whsec_(none)" {
		t.Errorf("zero String() got %q, want whsec_(none)", got)
	}
}
