//go:build race

package keyformat

// raceEnabled is set under the race detector, which makes sync.Pool drop items at random and
// so makes allocation counts meaningless.
const raceEnabled = true
