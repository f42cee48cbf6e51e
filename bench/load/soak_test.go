package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSoakJudge(t *testing.T) {
	samples := func(heap func(i int) float64, goroutines func(i int) float64) []soakSample {
		var s []soakSample
		for i := range 12 {
			s = append(s, soakSample{LiveHeapBytes: heap(i), RSSBytes: 50 << 20, Goroutines: goroutines(i)})
		}
		return s
	}
	flat := func(int) float64 { return 8 << 20 }
	for _, tc := range []struct {
		name    string
		samples []soakSample
		want    string
	}{
		{"flat", samples(flat, func(int) float64 { return 30 }), "passed"},
		// The first sample, taken while the caches fill, does not count.
		{"filling first", samples(func(i int) float64 { return map[bool]float64{true: 2 << 20, false: 8 << 20}[i == 0] }, func(int) float64 { return 30 }), "passed"},
		{"heap leak", samples(func(i int) float64 { return float64(8<<20 + i*(1<<20)) }, func(int) float64 { return 30 }), "failed: the live heap grew"},
		{"goroutine leak", samples(flat, func(i int) float64 { return float64(30 + 5*i) }), "failed: goroutines grew"},
		{"too short", samples(flat, func(int) float64 { return 30 })[:4], "inconclusive"},
	} {
		r := &soakResult{Samples: tc.samples}
		r.judge()
		if !strings.HasPrefix(r.Verdict, tc.want) {
			t.Errorf("%s: verdict %q, want %q…", tc.name, r.Verdict, tc.want)
		}
	}
	r := &soakResult{Samples: samples(flat, func(int) float64 { return 30 }), Failures: 1}
	if r.judge(); !strings.Contains(r.Verdict, "1 verifications") {
		t.Errorf("a failed verification: verdict %q", r.Verdict)
	}
}

func TestSampleServer(t *testing.T) {
	collected := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/debug/pprof/heap":
			collected = r.URL.Query().Get("gc") == "1"
		case "/metrics":
			fmt.Fprint(w, "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 31\ngo_memstats_heap_alloc_bytes 7.5e+06\nprocess_resident_memory_bytes 5.5e+07\n")
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	s, err := sampleServer(context.Background(), srv.Client(), srv.URL)
	if err != nil || !collected || s.Goroutines != 31 || s.LiveHeapBytes != 7.5e6 || s.RSSBytes != 5.5e7 {
		t.Errorf("sampleServer = %+v, %v (collected first: %v)", s, err, collected)
	}
	if _, err := sampleServer(context.Background(), srv.Client(), srv.URL+"/nothing"); err == nil {
		t.Error("a server without pprof: no error")
	}
}
