package main

import (
	"math"
	"math/bits"
	"time"
)

// The histogram is log-linear, as in HDR Histogram: values below 2^(subBits+1) ns have a
// bucket each, and every power of two above that is split into 2^subBits equal buckets. A
// reported value is therefore at most 1/256 (0.4 %) above the true one, whatever the range,
// and recording costs a few instructions and no allocation.
const (
	subBits   = 8
	subCount  = 1 << subBits
	valueBits = 37 // values are clamped below 2^37 ns, about 137 s: beyond any request timeout
	maxValue  = 1<<valueBits - 1
	// bucketCount is (valueBits-subBits+1) groups of subCount buckets: 7680 counters, 60 KiB.
	bucketCount = (valueBits - subBits + 1) * subCount
)

// histogram records latencies in nanoseconds. It is not safe for concurrent use: each worker
// records into its own and the run merges them at the end.
type histogram struct {
	counts [bucketCount]uint64
	total  uint64
	sum    float64 // nanoseconds, for the mean
	min    int64
	max    int64
}

func newHistogram() *histogram { return &histogram{min: math.MaxInt64} }

// bucketOf returns the index of the bucket holding v, which must be in [0, maxValue].
func bucketOf(v int64) int {
	shift := bits.Len64(uint64(v)) - subBits - 1
	if shift < 0 {
		shift = 0
	}
	return shift<<subBits + int(v>>shift)
}

// bucketHigh is the highest value bucket i holds.
func bucketHigh(i int) int64 {
	if i < 2*subCount {
		return int64(i)
	}
	shift := i>>subBits - 1
	mantissa := int64(i - shift<<subBits)
	return (mantissa+1)<<shift - 1
}

// record adds one latency.
func (h *histogram) record(d time.Duration) {
	v := min(max(int64(d), 0), maxValue)
	h.counts[bucketOf(v)]++
	h.total++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

// merge adds o's samples to h.
func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// quantile returns the latency at or below which a fraction q of the samples lie, as the
// highest value of its bucket (never above the largest sample). It is 0 for no samples.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(max(bucketHigh(i), h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// summary is the latency part of a report.
func (h *histogram) summary() latency {
	if h.total == 0 {
		return latency{}
	}
	return latency{
		P50:  h.quantile(0.50),
		P99:  h.quantile(0.99),
		P999: h.quantile(0.999),
		Max:  time.Duration(h.max),
		Mean: time.Duration(h.sum / float64(h.total)),
	}
}
