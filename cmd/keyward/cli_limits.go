package main

// This file holds the rate-limit and credit flags that 'keys create', 'keys update' and the
// tiers commands share, and how limits and credits are printed.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

// rateLimitFlagNames are the flags of a rate limit, as rateLimitFlags registers them.
var rateLimitFlagNames = []string{"rate", "period", "burst", "quota", "quota-window"}

// rateLimitFlags are --rate, --period, --burst, --quota and --quota-window: a tier's limit,
// or a key's own.
type rateLimitFlags struct {
	rate, burst, quota  int64
	period, quotaWindow time.Duration
}

func (r *rateLimitFlags) register(cmd *cobra.Command, what string) {
	f := cmd.Flags()
	f.Int64Var(&r.rate, "rate", 0, "verifications "+what+" may have per --period")
	f.DurationVar(&r.period, "period", 0, "the rate's time unit, whole seconds from 1s to 24h (default 1s)")
	f.Int64Var(&r.burst, "burst", 0, "verifications allowed at once (default: --rate)")
	f.Int64Var(&r.quota, "quota", 0, "at most this many verifications per --quota-window; 0 for no quota")
	f.DurationVar(&r.quotaWindow, "quota-window", 0, "the quota's window, e.g. 24h for a UTC day (1m to 744h)")
}

// changed reports whether any rate-limit flag was given.
func (r *rateLimitFlags) changed(cmd *cobra.Command) bool {
	for _, name := range rateLimitFlagNames {
		if cmd.Flags().Changed(name) {
			return true
		}
	}
	return false
}

// value is the limit the flags ask for: base (nil for none yet) with the given flags'
// numbers in place of its own. It is nil when no flag was given.
func (r *rateLimitFlags) value(cmd *cobra.Command, base *client.RateLimit) (*client.RateLimit, error) {
	if !r.changed(cmd) {
		return nil, nil
	}
	changed := cmd.Flags().Changed
	var l client.RateLimit
	if base != nil {
		l = *base
	}
	if changed("rate") {
		if r.rate < 1 {
			return nil, fmt.Errorf("invalid --rate %d: want 1 or more", r.rate)
		}
		l.Rate = r.rate
	}
	if l.Rate == 0 {
		return nil, errors.New("--rate is needed: there is no limit yet to change")
	}
	if changed("period") {
		if r.period < time.Second || r.period%time.Second != 0 {
			return nil, fmt.Errorf("invalid --period %v: want whole seconds, at least 1s", r.period)
		}
		l.Period = r.period
	}
	if changed("burst") {
		if r.burst < 1 {
			return nil, fmt.Errorf("invalid --burst %d: want 1 or more", r.burst)
		}
		l.Burst = r.burst
	}
	if changed("quota") {
		if r.quota < 0 {
			return nil, fmt.Errorf("invalid --quota %d: want 0 (no quota) or more", r.quota)
		}
		l.QuotaLimit = r.quota
		if r.quota == 0 {
			l.QuotaWindow = 0
		}
	}
	if changed("quota-window") {
		if r.quotaWindow < time.Minute || r.quotaWindow%time.Second != 0 {
			return nil, fmt.Errorf("invalid --quota-window %v: want whole seconds, at least 1m", r.quotaWindow)
		}
		l.QuotaWindow = r.quotaWindow
	}
	switch {
	case l.QuotaLimit > 0 && l.QuotaWindow == 0:
		return nil, errors.New("--quota needs --quota-window, e.g. 24h")
	case l.QuotaLimit == 0 && changed("quota-window"):
		return nil, errors.New("--quota-window needs --quota")
	}
	return &l, nil
}

// creditFlags are --credits and the --refill flags of a key's usage credits.
type creditFlags struct {
	remaining    int64
	refill       string
	refillAmount int64
	refillDay    int
}

// creditFlagNames are the flags creditFlags registers.
var creditFlagNames = []string{"credits", "refill", "refill-amount", "refill-day"}

func (c *creditFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.Int64Var(&c.remaining, "credits", 0, "usage credits: verifications the key may pass before USAGE_EXCEEDED")
	f.StringVar(&c.refill, "refill", "", "set the credits back to --refill-amount daily or monthly (00:00 UTC)")
	f.Int64Var(&c.refillAmount, "refill-amount", 0, "credits after each refill (default: --credits)")
	f.IntVar(&c.refillDay, "refill-day", 0, "day of the month of a monthly refill, 1-31 (default 1)")
	_ = cmd.RegisterFlagCompletionFunc("refill", cobra.FixedCompletions(
		[]cobra.Completion{string(client.RefillDaily), string(client.RefillMonthly)}, cobra.ShellCompDirectiveNoFileComp))
}

// value is the credits the flags ask for, nil when --credits was not given.
func (c *creditFlags) value(cmd *cobra.Command) (*client.Credits, error) {
	changed := cmd.Flags().Changed
	if !changed("credits") {
		for _, name := range creditFlagNames[1:] {
			if changed(name) {
				return nil, fmt.Errorf("--%s needs --credits", name)
			}
		}
		return nil, nil
	}
	if c.remaining < 0 {
		return nil, fmt.Errorf("invalid --credits %d: want 0 or more", c.remaining)
	}
	out := &client.Credits{Remaining: c.remaining}
	if !changed("refill") {
		switch {
		case changed("refill-amount"):
			return nil, errors.New("--refill-amount needs --refill daily or --refill monthly")
		case changed("refill-day"):
			return nil, errors.New("--refill-day needs --refill monthly")
		}
		return out, nil
	}
	r := &client.Refill{Interval: client.RefillInterval(strings.TrimSpace(c.refill)), Amount: c.remaining}
	switch r.Interval {
	case client.RefillDaily:
		if changed("refill-day") {
			return nil, errors.New("--refill-day applies only to --refill monthly")
		}
	case client.RefillMonthly:
		r.Day = 1
		if changed("refill-day") {
			if c.refillDay < 1 || c.refillDay > 31 {
				return nil, fmt.Errorf("invalid --refill-day %d: want 1 to 31", c.refillDay)
			}
			r.Day = c.refillDay
		}
	default:
		return nil, fmt.Errorf("invalid --refill %q: want daily or monthly", c.refill)
	}
	if changed("refill-amount") {
		r.Amount = c.refillAmount
	}
	if r.Amount < 1 {
		return nil, errors.New("invalid --refill-amount: want 1 or more (it defaults to --credits)")
	}
	out.Refill = r
	return out, nil
}

// formatDuration writes d as short as time.ParseDuration reads it: 24h, not 24h0m0s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if d%time.Minute == 0 && d != 0 {
		s = strings.TrimSuffix(s, "0s")
		if d%time.Hour == 0 {
			s = strings.TrimSuffix(s, "0m")
		}
	}
	return s
}

// formatRateLimit is a limit for people, as "50/1s, burst 80, quota 10000/24h".
func formatRateLimit(l client.RateLimit) string {
	period := l.Period
	if period == 0 {
		period = time.Second
	}
	s := fmt.Sprintf("%d/%s, burst %d", l.Rate, formatDuration(period), l.Burst)
	if l.QuotaLimit > 0 {
		s += fmt.Sprintf(", quota %d/%s", l.QuotaLimit, formatDuration(l.QuotaWindow))
	}
	return s
}

// formatCredits is a key's credits for people, as "3 left, refilled to 100 daily".
func formatCredits(c *client.Credits) string {
	if c == nil {
		return "-"
	}
	s := strconv.FormatInt(c.Remaining, 10) + " left"
	if r := c.Refill; r != nil {
		s += fmt.Sprintf(", refilled to %d %s", r.Amount, r.Interval)
		if r.Interval == client.RefillMonthly {
			s += fmt.Sprintf(" on day %d", r.Day)
		}
	}
	return s
}
