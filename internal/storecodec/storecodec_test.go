package storecodec

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/keyward"
)

// The encoded forms are what both stores have always written: a change here changes every
// database, and a copy from one store to the other would no longer read the same.

func TestList(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want string
		back []string
	}{
		{"nil", nil, `[]`, []string{}},
		{"empty", []string{}, `[]`, []string{}},
		{"two", []string{"read", "deploy:*"}, `["read","deploy:*"]`, []string{"read", "deploy:*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeList(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("EncodeList: got %q, %v, want %q", got, err, tt.want)
			}
			back, err := DecodeList([]byte(got))
			if err != nil {
				t.Fatalf("DecodeList: %v", err)
			}
			if diff := cmp.Diff(tt.back, back); diff != "" || back == nil {
				t.Errorf("DecodeList: got %#v, want %#v", back, tt.back)
			}
		})
	}
	if _, err := DecodeList([]byte(`{`)); err == nil {
		t.Error("DecodeList of broken JSON: got no error")
	}
}

func TestMetadata(t *testing.T) {
	tests := []struct {
		name string
		in   map[string]any
		want any
	}{
		{"nil is NULL", nil, nil},
		{"empty", map[string]any{}, `{}`},
		{"nested", map[string]any{"team": "platform", "n": 3.5, "tags": []any{"a"}, "ok": map[string]any{"x": true}},
			`{"n":3.5,"ok":{"x":true},"tags":["a"],"team":"platform"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeMetadata(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("EncodeMetadata: got %#v, %v, want %#v", got, err, tt.want)
			}
			var b []byte
			if s, ok := got.(string); ok {
				b = []byte(s)
			}
			back, err := DecodeMetadata(b)
			if err != nil {
				t.Fatalf("DecodeMetadata: %v", err)
			}
			if diff := cmp.Diff(tt.in, back); diff != "" {
				t.Errorf("DecodeMetadata: mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRateLimit(t *testing.T) {
	tests := []struct {
		name    string
		in      *keyward.RateLimit
		want    any
		wantErr keyward.Code
	}{
		{"none is NULL", nil, nil, ""},
		{"limit", &keyward.RateLimit{Rate: 2, Period: time.Second, Burst: 3}, `{"rate":2,"period_seconds":1,"burst":3,"quota_limit":0,"quota_window_seconds":0}`, ""},
		{"quota", &keyward.RateLimit{Rate: 5, Period: time.Minute, Burst: 10, QuotaLimit: 1000, QuotaWindow: 24 * time.Hour},
			`{"rate":5,"period_seconds":60,"burst":10,"quota_limit":1000,"quota_window_seconds":86400}`, ""},
		{"fraction of a second", &keyward.RateLimit{Rate: 1, Period: 1500 * time.Millisecond, Burst: 1}, nil, keyward.EValidation},
		{"window with a fraction", &keyward.RateLimit{Rate: 1, Period: time.Second, Burst: 1, QuotaLimit: 1, QuotaWindow: time.Second / 2}, nil, keyward.EValidation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeRateLimit(tt.in)
			if code := keyward.ErrorCode(err); code != tt.wantErr {
				t.Fatalf("EncodeRateLimit: got error %v (code %q), want code %q", err, code, tt.wantErr)
			}
			if tt.wantErr != "" {
				return
			}
			if got != tt.want {
				t.Fatalf("EncodeRateLimit: got %#v, want %#v", got, tt.want)
			}
			var b []byte
			if s, ok := got.(string); ok {
				b = []byte(s)
			}
			back, err := DecodeRateLimit(b)
			if err != nil {
				t.Fatalf("DecodeRateLimit: %v", err)
			}
			if diff := cmp.Diff(tt.in, back); diff != "" {
				t.Errorf("DecodeRateLimit: mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnixCeil(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want int64
	}{
		{"whole second", time.Unix(120, 0), 120},
		{"a nanosecond past", time.Unix(120, 1), 121},
		{"before 1970", time.Unix(-61, 500), -60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnixCeil(tt.in); got != tt.want {
				t.Errorf("UnixCeil(%v): got %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestUsageMinute(t *testing.T) {
	at := time.Date(2030, time.March, 14, 15, 9, 26, 535897000, time.UTC)
	got := UsageMinute(at)
	if want := time.Date(2030, time.March, 14, 15, 9, 0, 0, time.UTC).Unix(); got != want {
		t.Errorf("UsageMinute: got %d, want %d", got, want)
	}
	if back := MinuteTime(got); !back.Equal(at.Truncate(time.Minute)) || back.Location() != time.UTC {
		t.Errorf("MinuteTime: got %v, want %v in UTC", back, at.Truncate(time.Minute))
	}
}

func TestBucketSeconds(t *testing.T) {
	tests := []struct {
		name    string
		in      time.Duration
		want    int64
		wantErr bool
	}{
		{"minute", time.Minute, 60, false},
		{"day", 24 * time.Hour, 86400, false},
		{"second", time.Second, 0, true},
		{"ninety seconds", 90 * time.Second, 0, true},
		{"zero", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BucketSeconds(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("BucketSeconds(%v): got %d, %v, want %d, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err != nil && keyward.ErrorCode(err) != keyward.EValidation {
				t.Errorf("BucketSeconds(%v): got code %q, want %q", tt.in, keyward.ErrorCode(err), keyward.EValidation)
			}
		})
	}
}

func TestCredits(t *testing.T) {
	refilled := time.Date(2030, time.March, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))
	ptr := func(n int64) *int64 { return &n }
	monthly := string(keyward.RefillMonthly)
	tests := []struct {
		name       string
		in         *keyward.Credits
		cols       CreditColumns
		refilledAt *time.Time
	}{
		{"no row", nil, CreditColumns{}, nil},
		{"no refill", &keyward.Credits{Remaining: 7, Version: 3},
			CreditColumns{Remaining: ptr(7), Amount: ptr(0), Day: ptr(0), Version: ptr(3)}, nil},
		{"monthly, refilled", &keyward.Credits{Remaining: 40, Version: 9, RefilledAt: refilled.UTC(),
			Refill: &keyward.CreditRefill{Interval: keyward.RefillMonthly, Amount: 50, Day: 1}},
			CreditColumns{Remaining: ptr(40), Interval: &monthly, Amount: ptr(50), Day: ptr(1), Version: ptr(9)}, &refilled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.in != nil {
				interval, amount, day := RefillColumns(tt.in.Refill)
				got := CreditColumns{Remaining: &tt.in.Remaining, Interval: interval, Amount: &amount, Day: &day, Version: &tt.in.Version}
				if diff := cmp.Diff(tt.cols, got); diff != "" {
					t.Errorf("RefillColumns: mismatch (-want +got):\n%s", diff)
				}
				if at := RefilledAtColumn(tt.in.RefilledAt); (at == nil) != (tt.refilledAt == nil) || (at != nil && !at.Equal(*tt.refilledAt)) {
					t.Errorf("RefilledAtColumn: got %v, want %v", at, tt.refilledAt)
				}
			}
			got := tt.cols.Credits(tt.refilledAt)
			if diff := cmp.Diff(tt.in, got); diff != "" {
				t.Errorf("Credits: mismatch (-want +got):\n%s", diff)
			}
			if got != nil && !got.RefilledAt.IsZero() && got.RefilledAt.Location() != time.UTC {
				t.Errorf("Credits: RefilledAt in %v, want UTC", got.RefilledAt.Location())
			}
		})
	}
}

func TestKeyColumns(t *testing.T) {
	tests := []struct {
		name    string
		in      keyward.Key
		want    KeyColumns
		wantErr keyward.Code
	}{
		{"bare", keyward.Key{ID: "k1"}, KeyColumns{Scopes: `[]`, AllowedIPs: `[]`}, ""},
		{"full", keyward.Key{ID: "k2", Scopes: []string{"read"}, Metadata: map[string]any{"a": "b"},
			AllowedIPs:        []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::1/128")},
			RateLimitOverride: &keyward.RateLimit{Rate: 1, Period: time.Second, Burst: 1}},
			KeyColumns{Scopes: `["read"]`, AllowedIPs: `["10.0.0.0/8","2001:db8::1/128"]`, Metadata: `{"a":"b"}`,
				RateLimitOverride: `{"rate":1,"period_seconds":1,"burst":1,"quota_limit":0,"quota_window_seconds":0}`}, ""},
		{"override with a fraction", keyward.Key{ID: "k3", RateLimitOverride: &keyward.RateLimit{Rate: 1, Period: time.Second / 3, Burst: 1}},
			KeyColumns{Scopes: `[]`, AllowedIPs: `[]`}, keyward.EValidation},
	}
	bytesOf := func(v any) []byte {
		if s, ok := v.(string); ok {
			return []byte(s)
		}
		return nil
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := EncodeKey(&tt.in)
			if code := keyward.ErrorCode(err); code != tt.wantErr {
				t.Fatalf("EncodeKey: got error %v (code %q), want code %q", err, code, tt.wantErr)
			}
			if tt.wantErr != "" {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("EncodeKey: mismatch (-want +got):\n%s", diff)
			}
			back := keyward.Key{ID: tt.in.ID}
			if err := DecodeKey(&back, []byte(got.Scopes), []byte(got.AllowedIPs), bytesOf(got.Metadata), bytesOf(got.RateLimitOverride)); err != nil {
				t.Fatalf("DecodeKey: %v", err)
			}
			want := tt.in
			if want.Scopes == nil {
				want.Scopes = []string{} // no scopes read back as an empty list
			}
			if diff := cmp.Diff(want, back, cmpPrefixes); diff != "" {
				t.Errorf("DecodeKey: mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// cmpPrefixes compares networks by value: netip.Prefix keeps its fields unexported.
var cmpPrefixes = cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })
