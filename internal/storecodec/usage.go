package storecodec

import (
	"time"

	"github.com/keyward/keyward/internal/keyward"
)

// UsageMinute returns the minute column of a usage count made at t: the start of its minute
// in Unix seconds.
func UsageMinute(t time.Time) int64 { return t.Truncate(time.Minute).Unix() }

// MinuteTime returns the time that a minute column, or the start of a report's bucket, holds
// in Unix seconds, in UTC.
func MinuteTime(unix int64) time.Time { return time.Unix(unix, 0).UTC() }

// UnixCeil returns t in Unix seconds, rounded up, for bounding minute columns: for an integer
// s, s >= UnixCeil(t) exactly when s >= t, and s < UnixCeil(t) exactly when s < t.
func UnixCeil(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// BucketSeconds returns a usage report's granularity in the minute column's unit, seconds.
// Errors: EValidation unless it is a whole number of minutes, as the counts are per minute.
func BucketSeconds(d time.Duration) (int64, error) {
	if d < time.Minute || d%time.Minute != 0 {
		return 0, keyward.Errorf(keyward.EValidation, "a usage report's granularity must be a whole number of minutes")
	}
	return int64(d / time.Second), nil
}
