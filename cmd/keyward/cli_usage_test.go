package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

func TestUsageChart(t *testing.T) {
	hour := func(h int) time.Time { return time.Date(2026, 11, 24, h, 0, 0, 0, time.UTC) }
	tests := []struct {
		name  string
		usage *client.Usage
		width int
		want  string
	}{
		{
			name: "hours scaled to the largest, with refusals",
			usage: &client.Usage{Granularity: client.GranularityHour, Total: 1313, Buckets: []client.UsageBucket{
				{Start: hour(10), Total: 312, Outcomes: map[client.VerifyCode]int64{client.VerifyValid: 300, client.VerifyRateLimited: 12}},
				{Start: hour(11), Total: 1000, Outcomes: map[client.VerifyCode]int64{client.VerifyValid: 1000}},
				{Start: hour(13), Total: 1, Outcomes: map[client.VerifyCode]int64{client.VerifyUsageExceeded: 1}},
			}},
			width: 40,
			want: `2026-11-24 10:00  ████████████▌                              312  [RATE_LIMITED 12]
2026-11-24 11:00  ████████████████████████████████████████  1000
2026-11-24 13:00  ▏                                            1  [USAGE_EXCEEDED 1]
total                                                       1313  [RATE_LIMITED 12, USAGE_EXCEEDED 1]
`,
		},
		{
			name: "days, in UTC whatever the zone",
			usage: &client.Usage{Granularity: client.GranularityDay, Total: 6, Buckets: []client.UsageBucket{
				{Start: time.Date(2026, 11, 24, 1, 0, 0, 0, time.FixedZone("CET", 3600)), Total: 2,
					Outcomes: map[client.VerifyCode]int64{client.VerifyValid: 2}},
				{Start: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), Total: 4,
					Outcomes: map[client.VerifyCode]int64{client.VerifyValid: 3, client.VerifyNotFound: 0, client.VerifyRevoked: 1}},
			}},
			width: 8,
			want: `2026-11-24  ████      2
2026-11-25  ████████  4  [REVOKED 1]
total                 6  [REVOKED 1]
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeUsageChart(&b, tt.usage, tt.width); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, b.String()); diff != "" {
				t.Errorf("chart mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUsageChartBar(t *testing.T) {
	tests := []struct {
		n, max int64
		want   string
	}{
		{0, 10, "    "},
		{1, 1000, "▏   "},
		{5, 10, "██  "},
		{9, 10, "███▋"},
		{10, 10, "████"},
		{0, 0, "    "},
	}
	for _, tt := range tests {
		if got := usageBar(tt.n, tt.max, 4); got != tt.want {
			t.Errorf("usageBar(%d, %d, 4) = %q, want %q", tt.n, tt.max, got, tt.want)
		}
	}
}

// parsed returns a command with flags registered by register and parsed from args.
func parsed(t *testing.T, register func(*cobra.Command), args ...string) *cobra.Command {
	t.Helper()
	cmd := &cobra.Command{Use: "test"}
	register(cmd)
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("parsing %v: %v", args, err)
	}
	return cmd
}

func TestCreditFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *client.Credits
		wantErr string
	}{
		{name: "none", args: nil, want: nil},
		{name: "credits only", args: []string{"--credits", "3"}, want: &client.Credits{Remaining: 3}},
		{name: "zero credits", args: []string{"--credits", "0"}, want: &client.Credits{}},
		{name: "daily refill to the credits", args: []string{"--credits", "100", "--refill", "daily"},
			want: &client.Credits{Remaining: 100, Refill: &client.Refill{Interval: client.RefillDaily, Amount: 100}}},
		{name: "monthly refill on day 1 by default", args: []string{"--credits", "5", "--refill", "monthly", "--refill-amount", "50"},
			want: &client.Credits{Remaining: 5, Refill: &client.Refill{Interval: client.RefillMonthly, Amount: 50, Day: 1}}},
		{name: "monthly refill on a day", args: []string{"--credits", "5", "--refill", "monthly", "--refill-day", "15"},
			want: &client.Credits{Remaining: 5, Refill: &client.Refill{Interval: client.RefillMonthly, Amount: 5, Day: 15}}},
		{name: "refill without credits", args: []string{"--refill", "daily"}, wantErr: "--refill needs --credits"},
		{name: "amount without refill", args: []string{"--credits", "1", "--refill-amount", "5"}, wantErr: "--refill-amount needs --refill"},
		{name: "unknown interval", args: []string{"--credits", "1", "--refill", "weekly"}, wantErr: `invalid --refill "weekly"`},
		{name: "day of a daily refill", args: []string{"--credits", "1", "--refill", "daily", "--refill-day", "2"}, wantErr: "only to --refill monthly"},
		{name: "day out of range", args: []string{"--credits", "1", "--refill", "monthly", "--refill-day", "32"}, wantErr: "invalid --refill-day 32"},
		{name: "refill of nothing", args: []string{"--credits", "0", "--refill", "daily"}, wantErr: "invalid --refill-amount"},
		{name: "negative credits", args: []string{"--credits", "-1"}, wantErr: "invalid --credits -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f creditFlags
			got, err := f.value(parsed(t, f.register, tt.args...))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("credits mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTierRateLimitFlags(t *testing.T) {
	current := &client.RateLimit{Rate: 30, Period: time.Second, Burst: 30, QuotaLimit: 1000, QuotaWindow: 24 * time.Hour}
	tests := []struct {
		name    string
		args    []string
		base    *client.RateLimit
		want    *client.RateLimit
		wantErr string
	}{
		{name: "none", args: nil, base: current, want: nil},
		{name: "rate alone leaves the rest to the server", args: []string{"--rate", "50"},
			want: &client.RateLimit{Rate: 50}},
		{name: "everything", args: []string{"--rate", "600", "--period", "1m", "--burst", "50", "--quota", "9", "--quota-window", "1h"},
			want: &client.RateLimit{Rate: 600, Period: time.Minute, Burst: 50, QuotaLimit: 9, QuotaWindow: time.Hour}},
		{name: "burst changes only the burst", args: []string{"--burst", "60"}, base: current,
			want: &client.RateLimit{Rate: 30, Period: time.Second, Burst: 60, QuotaLimit: 1000, QuotaWindow: 24 * time.Hour}},
		{name: "quota 0 removes the quota", args: []string{"--quota", "0"}, base: current,
			want: &client.RateLimit{Rate: 30, Period: time.Second, Burst: 30}},
		{name: "burst without a limit", args: []string{"--burst", "5"}, wantErr: "--rate is needed"},
		{name: "zero rate", args: []string{"--rate", "0"}, wantErr: "invalid --rate 0"},
		{name: "fraction of a second", args: []string{"--rate", "1", "--period", "1500ms"}, wantErr: "invalid --period"},
		{name: "quota without window", args: []string{"--rate", "1", "--quota", "5"}, wantErr: "--quota needs --quota-window"},
		{name: "window without quota", args: []string{"--rate", "1", "--quota-window", "1h"}, wantErr: "--quota-window needs --quota"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f rateLimitFlags
			got, err := f.value(parsed(t, func(c *cobra.Command) { f.register(c, "the tier") }, tt.args...), tt.base)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("limit mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTierFormatting(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{formatDuration(time.Second), "1s"},
		{formatDuration(10 * time.Second), "10s"},
		{formatDuration(time.Minute), "1m"},
		{formatDuration(90 * time.Minute), "1h30m"},
		{formatDuration(24 * time.Hour), "24h"},
		{formatDuration(90 * time.Second), "1m30s"},
		{formatRateLimit(client.RateLimit{Rate: 30, Period: time.Second, Burst: 30}), "30/1s, burst 30"},
		{formatRateLimit(client.RateLimit{Rate: 600, Period: time.Minute, Burst: 50, QuotaLimit: 9, QuotaWindow: 24 * time.Hour}),
			"600/1m, burst 50, quota 9/24h"},
		{formatCredits(nil), "-"},
		{formatCredits(&client.Credits{Remaining: 3}), "3 left"},
		{formatCredits(&client.Credits{Remaining: 3, Refill: &client.Refill{Interval: client.RefillDaily, Amount: 10}}), "3 left, refilled to 10 daily"},
		{formatCredits(&client.Credits{Remaining: 0, Refill: &client.Refill{Interval: client.RefillMonthly, Amount: 10, Day: 31}}),
			"0 left, refilled to 10 monthly on day 31"},
		{formatTierRequest(&client.TierRequest{ID: "tr_1", Tier: client.TierHigh, Status: client.TierRequestPending}), "high: pending (request tr_1)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestTierKeyOutput(t *testing.T) {
	keys := []*client.Key{
		{ID: "key_1", Name: "a", KeyPrefix: "kw_1", Last4: "aaaa", Status: client.StatusActive, RateLimitTier: client.TierHigh,
			CreatedAt: testCreatedAt},
		{ID: "key_2", Name: "b", KeyPrefix: "kw_2", Last4: "bbbb", Status: client.StatusActive, RateLimitTier: client.TierStandard,
			RateLimit: &client.RateLimit{Rate: 5, Period: time.Minute, Burst: 5}, Credits: &client.Credits{Remaining: 7}, CreatedAt: testCreatedAt},
	}
	var b bytes.Buffer
	if err := writeKeysTable(&b, keys); err != nil {
		t.Fatal(err)
	}
	want := `ID     NAME  PREFIX       STATUS  SCOPES  EXPIRES  LAST USED  TIER      RATE LIMIT     CREDITS
key_1  a     kw_1...aaaa  active  -       never    never      high      tier           -
key_2  b     kw_2...bbbb  active  -       never    never      standard  5/1m, burst 5  7
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table mismatch (-want +got):\n%s", diff)
	}

	k := keys[1]
	k.TierRequest = &client.TierRequest{ID: "tr_1", KeyID: "key_2", Tier: client.TierHigh, Status: client.TierRequestPending}
	k.Credits.Refill = &client.Refill{Interval: client.RefillDaily, Amount: 10}
	b.Reset()
	if err := writeKeyDetails(&b, k); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"TIER              standard\n",
		"TIER REQUEST      high: pending (request tr_1)\n",
		"RATE LIMIT        5/1m, burst 5 (the key's own)\n",
		"CREDITS           7 left, refilled to 10 daily\n",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("details lack %q:\n%s", line, b.String())
		}
	}
}
