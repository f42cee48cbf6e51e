package keyward

import (
	"time"
)

// RateLimit is how fast a key may be verified: Rate verifications per Period with up to
// Burst at once (a GCRA bucket, see internal/ratelimit), and optionally at most QuotaLimit
// in each QuotaWindow, windows counted from the Unix epoch (a day is a UTC day).
type RateLimit struct {
	Rate   int64
	Period time.Duration
	Burst  int64
	// QuotaLimit is the most verifications in one QuotaWindow; 0 for no quota.
	QuotaLimit  int64
	QuotaWindow time.Duration
}

// Bounds on rate limits, so that a typo cannot make a limit that overflows or never refills.
const (
	MaxRateLimitRate   = 1_000_000
	MinRateLimitPeriod = time.Second
	MaxRateLimitPeriod = 24 * time.Hour
	MaxQuotaWindow     = 31 * 24 * time.Hour
	// MaxBurstRefill bounds the time a full burst takes to refill, so that the limiter's
	// arithmetic stays exact (Redis scripts count in doubles).
	MaxBurstRefill = 100 * 24 * time.Hour
)

// Validate reports the first thing wrong with l as an EValidation error.
func (l RateLimit) Validate() error {
	switch {
	case l.Rate < 1 || l.Rate > MaxRateLimitRate:
		return Errorf(EValidation, "rate must be between 1 and %d", MaxRateLimitRate)
	case l.Period < MinRateLimitPeriod || l.Period > MaxRateLimitPeriod || l.Period%time.Second != 0:
		return Errorf(EValidation, "period must be a whole number of seconds between 1 and %d", int(MaxRateLimitPeriod/time.Second))
	case l.Burst < 1 || l.Burst > MaxRateLimitRate:
		return Errorf(EValidation, "burst must be between 1 and %d", MaxRateLimitRate)
	case time.Duration(l.Burst)*(l.Period/time.Duration(l.Rate)) > MaxBurstRefill:
		return Errorf(EValidation, "a full burst may take at most %d days to refill (burst × period / rate)", int(MaxBurstRefill/(24*time.Hour)))
	case l.QuotaLimit < 0:
		return Errorf(EValidation, "quota_limit may not be negative")
	case l.QuotaLimit > 0 && (l.QuotaWindow < time.Minute || l.QuotaWindow > MaxQuotaWindow || l.QuotaWindow%time.Second != 0):
		return Errorf(EValidation, "quota_window must be a whole number of seconds between 60 and %d", int(MaxQuotaWindow/time.Second))
	case l.QuotaLimit == 0 && l.QuotaWindow != 0:
		return Errorf(EValidation, "quota_window needs a quota_limit")
	}
	return nil
}

// FailMode says what a node does with a verification when the shared rate-limit state
// (Redis) cannot be reached.
type FailMode string

// Fail modes. FailOpen is the default: see DefaultFailMode.
const (
	// FailOpen lets verifications through unlimited (the key is still checked in full)
	// while the state is unreachable.
	FailOpen FailMode = "fail_open"
	// FailClosed answers RATE_LIMITED while the state is unreachable.
	FailClosed FailMode = "fail_closed"
)

// DefaultFailMode is fail_open: a rate limit protects an API from overuse, it does not decide
// who may use it, and a Redis outage should not take down every API behind Keyward. Every
// key is still verified in full (revoked, expired, scopes, credits kept in the database);
// only the count is skipped, and the metrics show it. A tier that guards something costly
// chooses fail_closed.
const DefaultFailMode = FailOpen

// RateLimitTier is a named rate limit that keys refer to by name. Every account has the
// built-in tiers (see BuiltinTiers) whether or not it has changed them.
type RateLimitTier struct {
	AccountID   string
	Name        string // a slug, unique in the account
	Description string
	Limit       RateLimit
	// RequiresApproval: a key gets the tier only when someone with PermApproveHigh grants
	// it; others' requests are recorded as pending TierRequests.
	RequiresApproval bool
	FailMode         FailMode
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Built-in tiers, as seed 003 names them.
const (
	TierStandard = "standard" // 30 requests per second
	TierHigh     = "high"     // 100 requests per second; needs approval
)

// BuiltinTiers returns the tiers every account starts with, as of now. An account may change
// them; the changed tier is then stored and wins.
func BuiltinTiers(accountID string, now time.Time) []*RateLimitTier {
	return []*RateLimitTier{
		{AccountID: accountID, Name: TierStandard, Description: "30 requests per second",
			Limit: RateLimit{Rate: 30, Period: time.Second, Burst: 30}, FailMode: DefaultFailMode, CreatedAt: now, UpdatedAt: now},
		{AccountID: accountID, Name: TierHigh, Description: "100 requests per second; needs approval",
			Limit: RateLimit{Rate: 100, Period: time.Second, Burst: 100}, RequiresApproval: true, FailMode: DefaultFailMode, CreatedAt: now, UpdatedAt: now},
	}
}

// TierRequestStatus is where a tier request stands.
type TierRequestStatus string

// Tier request states. A request leaves pending once, to approved or rejected.
const (
	TierRequestPending  TierRequestStatus = "pending"
	TierRequestApproved TierRequestStatus = "approved"
	TierRequestRejected TierRequestStatus = "rejected"
)

// TierRequest asks that a key get a tier that requires approval.
type TierRequest struct {
	ID          string
	AccountID   string
	KeyID       string
	Tier        string
	Status      TierRequestStatus
	RequestedBy string // principal id
	CreatedAt   time.Time
	DecidedBy   string // "" while pending
	DecidedAt   *time.Time
	// Reason is the decider's note, optional.
	Reason string
}

// TierRequestFilter selects tier requests. Empty fields do not filter.
type TierRequestFilter struct {
	AccountID string // required
	KeyID     string
	Status    TierRequestStatus
	After     string // requests with id > After, by id
	Limit     int
}

// RefillInterval is how often a key's usage credits are refilled.
type RefillInterval string

// Refill intervals. A refill sets the remaining credits to the refill amount (it does not
// add to them), as Unkey's refill does: unused credits do not pile up.
const (
	RefillDaily   RefillInterval = "daily"   // at 00:00 UTC
	RefillMonthly RefillInterval = "monthly" // at 00:00 UTC on Day (the month's last day when it is shorter)
)

// CreditRefill is a key's refill policy.
type CreditRefill struct {
	Interval RefillInterval
	Amount   int64
	Day      int // 1..31, for RefillMonthly; 0 otherwise
}

// Credits are a key lineage's usage credits: how many more verifications it may pass. A
// verification spends its cost (1 unless the request says otherwise); when fewer remain it
// is USAGE_EXCEEDED and spends nothing.
type Credits struct {
	Remaining int64
	Refill    *CreditRefill // nil: never refilled
	// RefilledAt is the refill boundary last applied (see CreditRefill.Boundary); zero
	// before the first.
	RefilledAt time.Time
	// Version rises each time the credits are set through the API (Unix microseconds of the
	// change), so that a copy kept elsewhere (Redis) knows to take them afresh.
	Version int64
}

// MaxCredits bounds remaining credits, refill amounts and verification costs.
const MaxCredits = 1 << 50

// Boundary is the latest refill time at or before now.
func (r *CreditRefill) Boundary(now time.Time) time.Time {
	now = now.UTC()
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if r.Interval != RefillMonthly {
		return day
	}
	this := monthDay(now.Year(), now.Month(), r.Day)
	if !this.After(now) {
		return this
	}
	return monthDay(now.Year(), now.Month()-1, r.Day)
}

// Next is the first refill time after now.
func (r *CreditRefill) Next(now time.Time) time.Time {
	b := r.Boundary(now)
	if r.Interval != RefillMonthly {
		return b.AddDate(0, 0, 1)
	}
	return monthDay(b.Year(), b.Month()+1, r.Day)
}

// monthDay is 00:00 UTC on the day of year and month, or on the month's last day when the
// month is shorter. month may be 0 (December of the year before).
func monthDay(year int, month time.Month, day int) time.Time {
	first := time.Date(year, month, 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(day, last)-1)
}

// Refilled returns c as of now: refilled to the refill amount when a refill boundary has
// passed since the last one applied.
func (c Credits) Refilled(now time.Time) Credits {
	if c.Refill == nil {
		return c
	}
	if b := c.Refill.Boundary(now); b.After(c.RefilledAt) {
		c.Remaining, c.RefilledAt = c.Refill.Amount, b
	}
	return c
}

// Validate reports the first thing wrong with c as an EValidation error.
func (c Credits) Validate() error {
	if c.Remaining < 0 || c.Remaining > MaxCredits {
		return Errorf(EValidation, "remaining must be between 0 and %d", int64(MaxCredits))
	}
	if r := c.Refill; r != nil {
		switch {
		case r.Interval != RefillDaily && r.Interval != RefillMonthly:
			return Errorf(EValidation, "refill.interval must be %s or %s", RefillDaily, RefillMonthly)
		case r.Amount < 1 || r.Amount > MaxCredits:
			return Errorf(EValidation, "refill.amount must be between 1 and %d", int64(MaxCredits))
		case r.Interval == RefillMonthly && (r.Day < 1 || r.Day > 31):
			return Errorf(EValidation, "refill.day must be between 1 and 31 for a monthly refill")
		case r.Interval == RefillDaily && r.Day != 0:
			return Errorf(EValidation, "refill.day applies only to a monthly refill")
		}
	}
	return nil
}

// CreditSpend is the outcome of spending credits in the store.
type CreditSpend struct {
	// OK: the credits covered the cost, which was spent.
	OK bool
	// Remaining is what is left after the spend (or, when !OK, what there was).
	Remaining int64
}

// CreditMirror is what a copy of a lineage's credits kept elsewhere (Redis) last showed, to
// be written back to the store so that reads of the key show it.
type CreditMirror struct {
	LineageID string
	Remaining int64
	// RefilledAt is the refill boundary the copy had applied; zero when the credits have
	// no refill.
	RefilledAt time.Time
	// Version is the version of the credits the copy was seeded from: a mirror of older
	// credits than the store's is not written.
	Version int64
}

// UsageCount is how many verifications of one key had one outcome in one minute.
type UsageCount struct {
	KeyID     string
	AccountID string
	ProjectID string    // "" for an account key
	Minute    time.Time // the minute's start, UTC
	Outcome   VerifyCode
	Count     int64
}

// UsageFilter selects usage for a report. Empty fields do not filter.
type UsageFilter struct {
	AccountID string // required
	KeyID     string
	ProjectID string
	// From and To bound the minutes counted: Minute >= From and Minute < To.
	From, To time.Time
	// Granularity is the bucket size: a minute, an hour or a day. Buckets start at
	// multiples of it from the Unix epoch (days are UTC days).
	Granularity time.Duration
}

// UsageBucket is the count of one outcome in one bucket of a usage report.
type UsageBucket struct {
	Start   time.Time
	Outcome VerifyCode
	Count   int64
}
