package ratelimit

import "time"

// Sweep runs one sweep now and returns how many buckets it dropped.
func (m *Memory) Sweep() int { return m.sweep() }

// Len is how many buckets m holds.
func (m *Memory) Len() int {
	n := 0
	m.buckets.Range(func(any, any) bool {
		n++
		return true
	})
	return n
}

// SendTogether sends the requests' script calls as one batch, as concurrent Takes would go,
// and returns each call's error.
func (r *Redis) SendTogether(reqs []*Request, now time.Time) []error {
	batch := make([]*scriptCall, len(reqs))
	for i, req := range reqs {
		p := paramsOf(&req.Limit)
		batch[i] = r.takeCall(req, &p, now)
	}
	r.send(batch)
	errs := make([]error, len(batch))
	for i, c := range batch {
		errs[i] = c.err
	}
	return errs
}

// SetLeaseClock times r's leases by now instead of the monotonic clock.
func (r *Redis) SetLeaseClock(now func() time.Duration) {
	r.leaseClock = func() int64 { return int64(now()) }
}

// SetLeaseWindow bounds r's leases to what the rate gives in d instead of leaseWindow.
func (r *Redis) SetLeaseWindow(d time.Duration) { r.leaseWindow = int64(d) }

// LeaseLife is how long r's leases live.
func (r *Redis) LeaseLife() time.Duration { return time.Duration(r.leaseLife) }
