package main

import (
	"math"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	values := []int64{0, 1, 255, 256, 511, 512, 513, 1023, 1024, 1025, 999_999, 1 << 20, 123_456_789, maxValue}
	for v := int64(1); v < maxValue; v = v*3/2 + 1 {
		values = append(values, v)
	}
	for _, v := range values {
		i := bucketOf(v)
		if i < 0 || i >= bucketCount {
			t.Fatalf("bucketOf(%d) = %d, want in [0, %d)", v, i, bucketCount)
		}
		high := bucketHigh(i)
		if high < v {
			t.Errorf("bucketHigh(bucketOf(%d)) = %d, want >= %d", v, high, v)
		}
		if v > 0 && float64(high-v)/float64(v) > 1.0/subCount {
			t.Errorf("bucketHigh(bucketOf(%d)) = %d: error %.4f, want <= %.4f", v, high, float64(high-v)/float64(v), 1.0/subCount)
		}
	}
	// Buckets are contiguous: the value after a bucket's highest opens the next one.
	for i := range bucketCount - 1 {
		if got := bucketOf(bucketHigh(i) + 1); got != i+1 {
			t.Fatalf("bucketOf(bucketHigh(%d)+1) = %d, want %d", i, got, i+1)
		}
	}
}

func TestQuantile(t *testing.T) {
	type want struct {
		q   float64
		d   time.Duration
		tol float64 // relative
	}
	tests := []struct {
		name   string
		values func(record func(time.Duration))
		want   []want
	}{
		{
			name:   "empty",
			values: func(func(time.Duration)) {},
			want:   []want{{0.5, 0, 0}, {0.999, 0, 0}},
		},
		{
			name:   "one sample",
			values: func(r func(time.Duration)) { r(5 * time.Millisecond) },
			want:   []want{{0, 5 * time.Millisecond, 0}, {0.5, 5 * time.Millisecond, 0}, {1, 5 * time.Millisecond, 0}},
		},
		{
			name: "small values are exact",
			values: func(r func(time.Duration)) {
				for v := 1; v <= 100; v++ {
					r(time.Duration(v))
				}
			},
			want: []want{{0.5, 50, 0}, {0.99, 99, 0}, {0.999, 100, 0}, {1, 100, 0}},
		},
		{
			name: "uniform 1µs to 10ms",
			values: func(r func(time.Duration)) {
				for v := 1; v <= 10_000; v++ {
					r(time.Duration(v) * time.Microsecond)
				}
			},
			want: []want{
				{0.5, 5 * time.Millisecond, 1.0 / subCount},
				{0.99, 9900 * time.Microsecond, 1.0 / subCount},
				{0.999, 9990 * time.Microsecond, 1.0 / subCount},
			},
		},
		{
			name: "a slow tail",
			values: func(r func(time.Duration)) {
				for range 998 {
					r(100 * time.Microsecond)
				}
				r(50 * time.Millisecond)
				r(2 * time.Second)
			},
			want: []want{
				{0.5, 100 * time.Microsecond, 1.0 / subCount},
				{0.998, 100 * time.Microsecond, 1.0 / subCount},
				{0.999, 50 * time.Millisecond, 1.0 / subCount},
				{1, 2 * time.Second, 0},
			},
		},
		{
			name:   "beyond the range is clamped",
			values: func(r func(time.Duration)) { r(time.Hour) },
			want:   []want{{1, maxValue, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHistogram()
			tt.values(h.record)
			for _, w := range tt.want {
				got := h.quantile(w.q)
				if diff := math.Abs(float64(got-w.d)) / max(float64(w.d), 1); diff > w.tol {
					t.Errorf("quantile(%g) = %v, want %v (±%.2f%%)", w.q, got, w.d, 100*w.tol)
				}
			}
		})
	}
}

func TestMerge(t *testing.T) {
	all, a, b := newHistogram(), newHistogram(), newHistogram()
	for v := 1; v <= 1000; v++ {
		d := time.Duration(v*v) * time.Nanosecond
		all.record(d)
		if v%3 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	merged := newHistogram()
	merged.merge(a)
	merged.merge(b)
	if got, want := merged.summary(), all.summary(); got != want {
		t.Errorf("merged summary = %+v, want %+v", got, want)
	}
	if merged.total != 1000 {
		t.Errorf("merged total = %d, want 1000", merged.total)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"none", nil, 0},
		{"one", []float64{7}, 7},
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.want {
				t.Errorf("median(%v) = %g, want %g", tt.in, got, tt.want)
			}
		})
	}
}
