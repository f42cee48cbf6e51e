package ratelimit

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
