package keyward

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

var uuidv7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !uuidv7.MatchString(id) || !ValidID(id) {
			t.Fatalf("NewID() = %q, not a UUIDv7", id)
		}
		if seen[id] {
			t.Fatalf("NewID() repeated %q", id)
		}
		seen[id] = true
	}
	// Ids made at least a millisecond apart sort in the order they were made.
	a := NewID()
	time.Sleep(2 * time.Millisecond)
	if b := NewID(); b <= a {
		t.Errorf("later id %s sorts before %s", b, a)
	}
}

func TestValidID(t *testing.T) {
	for s, want := range map[string]bool{
		"01900000-0000-7000-8000-000000000000": true,
		"01900000-0000-7000-8000-00000000000":  false,
		"01900000-0000-7000-8000-00000000000G": false,
		"01900000-0000-7000-8000-00000000000A": false, // upper case is not a form Keyward issues
		"019000000000-7000-8000-0000000000000": false,
		"":                                     false,
	} {
		if got := ValidID(s); got != want {
			t.Errorf("ValidID(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestKeyCheck(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Second)
	tests := []struct {
		name   string
		key    Key
		scopes []string
		want   VerifyCode
		status Status
	}{
		{"active", Key{}, nil, VerifyValid, StatusActive},
		{"revoked", Key{RevokedAt: &past}, nil, VerifyRevoked, StatusRevoked},
		{"revoked at this instant", Key{RevokedAt: &now}, nil, VerifyRevoked, StatusRevoked},
		{"revoked and expired", Key{RevokedAt: &past, ExpiresAt: &past}, nil, VerifyRevoked, StatusRevoked},
		{"expired", Key{ExpiresAt: &past}, nil, VerifyExpired, StatusExpired},
		{"expires at this instant", Key{ExpiresAt: &now}, nil, VerifyExpired, StatusExpired},
		{"not yet expired", Key{ExpiresAt: &future}, nil, VerifyValid, StatusActive},
		{"in grace", Key{ReplacedByKeyID: "x", GraceExpiresAt: &future}, nil, VerifyValid, StatusActive},
		{"grace over", Key{ReplacedByKeyID: "x", GraceExpiresAt: &past}, nil, VerifyExpired, StatusExpired},
		{"expired before grace", Key{ExpiresAt: &past, GraceExpiresAt: &future}, nil, VerifyExpired, StatusExpired},
		{"scopes held", Key{Scopes: []string{"a", "b"}}, []string{"b", "a"}, VerifyValid, StatusActive},
		{"scope missing", Key{Scopes: []string{"a"}}, []string{"a", "b"}, VerifyInsufficientScope, StatusActive},
		{"expired beats scope", Key{ExpiresAt: &past}, []string{"z"}, VerifyExpired, StatusExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.Check(now, tt.scopes); got != tt.want {
				t.Errorf("Check = %s, want %s", got, tt.want)
			}
			if got := tt.key.Status(now); got != tt.status {
				t.Errorf("Status = %s, want %s", got, tt.status)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	t.Run("names", func(t *testing.T) {
		for name, ok := range map[string]bool{
			"ci-deploys": true, "Ünïcødé key ✓": true, strings.Repeat("é", 128): true,
			"": false, "  ": false, strings.Repeat("a", 129): false, "tab\there": false,
		} {
			if err := validateName("name", name); (err == nil) != ok {
				t.Errorf("validateName(%q) = %v, want ok=%v", name, err, ok)
			}
		}
	})
	t.Run("scopes", func(t *testing.T) {
		got, err := normalizeScopes([]string{"read", "keys:write", "read", "projects/p1.read"})
		if err != nil || strings.Join(got, ",") != "read,keys:write,projects/p1.read" {
			t.Errorf("normalizeScopes = %v, %v", got, err)
		}
		for _, bad := range []string{"", "has space", ":leading", strings.Repeat("a", 129), "semi;colon"} {
			if _, err := normalizeScopes([]string{bad}); ErrorCode(err) != EValidation {
				t.Errorf("scope %q accepted", bad)
			}
		}
		if _, err := normalizeScopes(make([]string, MaxScopes+1)); ErrorCode(err) != EValidation {
			t.Errorf("%d scopes accepted", MaxScopes+1)
		}
	})
	t.Run("webhooks", func(t *testing.T) {
		for url, ok := range map[string]bool{
			"https://hooks.example.com/rotate": true,
			"http://127.0.0.1:9000/hook":       true,
			"http://localhost/hook":            true,
			"http://[::1]:8080/":               true,
			"http://example.com/hook":          false,
			"ftp://example.com/":               false,
			"https://user:pw@example.com/":     false,
			"https://example.com/#frag":        false,
			"/relative":                        false,
			"https://":                         false,
		} {
			if err := ValidateWebhookURL(url); (err == nil) != ok {
				t.Errorf("ValidateWebhookURL(%q) = %v, want ok=%v", url, err, ok)
			}
		}
	})
	t.Run("metadata", func(t *testing.T) {
		if err := validateMetadata(map[string]any{"a": strings.Repeat("x", MaxMetadataBytes)}); ErrorCode(err) != EValidation {
			t.Errorf("oversized metadata accepted")
		}
		if err := validateMetadata(map[string]any{"team": "infra", "n": 3}); err != nil {
			t.Errorf("small metadata refused: %v", err)
		}
	})
}

func TestErrorHelpers(t *testing.T) {
	err := &Error{Code: ENotFound, Message: "key not found"}
	wrapped := &wrapErr{err}
	if ErrorCode(wrapped) != ENotFound || ErrorMessage(wrapped) != "key not found" {
		t.Errorf("a wrapped *Error loses its code or message")
	}
	plain := errString("disk on fire")
	if ErrorCode(plain) != EInternal || strings.Contains(ErrorMessage(plain), "disk") {
		t.Errorf("a plain error must be internal and hide its text: %q", ErrorMessage(plain))
	}
	if ErrorCode(nil) != "" {
		t.Errorf("ErrorCode(nil) = %q", ErrorCode(nil))
	}
}

type wrapErr struct{ err error }

func (w *wrapErr) Error() string { return "wrapped: " + w.err.Error() }
func (w *wrapErr) Unwrap() error { return w.err }

type errString string

func (e errString) Error() string { return string(e) }

func TestCreditRefillNext(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct {
		refill   CreditRefill
		now      string
		boundary string
		next     string
	}{
		{CreditRefill{Interval: RefillDaily, Amount: 1}, "2026-11-24T13:00:00Z", "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z"},
		{CreditRefill{Interval: RefillMonthly, Amount: 1, Day: 1}, "2026-11-24T13:00:00Z", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"},
		{CreditRefill{Interval: RefillMonthly, Amount: 1, Day: 31}, "2026-11-24T13:00:00Z", "2026-10-31T00:00:00Z", "2026-11-30T00:00:00Z"},
		{CreditRefill{Interval: RefillMonthly, Amount: 1, Day: 31}, "2026-12-31T00:00:00Z", "2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z"},
		{CreditRefill{Interval: RefillMonthly, Amount: 1, Day: 30}, "2027-02-15T00:00:00Z", "2027-01-30T00:00:00Z", "2027-02-28T00:00:00Z"},
	} {
		if got := tt.refill.Boundary(at(tt.now)); !got.Equal(at(tt.boundary)) {
			t.Errorf("%+v Boundary(%s) = %s, want %s", tt.refill, tt.now, got, tt.boundary)
		}
		if got := tt.refill.Next(at(tt.now)); !got.Equal(at(tt.next)) {
			t.Errorf("%+v Next(%s) = %s, want %s", tt.refill, tt.now, got, tt.next)
		}
	}
}
