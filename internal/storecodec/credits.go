package storecodec

import (
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// RefillColumns returns a refill policy's columns (refill_interval, refill_amount,
// refill_day): a nil (NULL) interval and zeros for no refill.
func RefillColumns(r *keyward.CreditRefill) (interval *string, amount, day int64) {
	if r == nil {
		return nil, 0, 0
	}
	i := string(r.Interval)
	return &i, r.Amount, int64(r.Day)
}

// RefilledAtColumn returns the refilled_at column of credits: nil (NULL) for the zero time,
// credits never refilled.
func RefilledAtColumn(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// CreditColumns are the credit columns read with a key, all nil (NULL) when a key read with
// a LEFT JOIN has no credits. Stores scan refilled_at themselves, in their own time form.
type CreditColumns struct {
	Remaining, Amount, Day, Version *int64
	Interval                        *string
}

// Credits returns the credits the columns hold, with refilledAt as read (nil for NULL): nil
// for no credits, and no refill policy for a NULL interval.
func (c *CreditColumns) Credits(refilledAt *time.Time) *keyward.Credits {
	if c.Remaining == nil {
		return nil
	}
	out := &keyward.Credits{Remaining: *c.Remaining, Version: deref(c.Version)}
	if c.Interval != nil {
		out.Refill = &keyward.CreditRefill{
			Interval: keyward.RefillInterval(*c.Interval),
			Amount:   deref(c.Amount),
			Day:      int(deref(c.Day)),
		}
	}
	if refilledAt != nil {
		out.RefilledAt = refilledAt.UTC()
	}
	return out
}

// deref reads an optional integer column: 0 for NULL.
func deref(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}
