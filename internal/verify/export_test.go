package verify

// Waiting counts the verifications waiting on another's store lookup.
func Waiting(v *Verifier) int {
	v.flightMu.Lock()
	defer v.flightMu.Unlock()
	n := 0
	for _, f := range v.flights {
		n += f.waiters
	}
	return n
}
