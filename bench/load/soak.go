package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/client"
)

// The soak (-soak) drives one Keyward for a long stretch, verifications flat out on -c
// connections while keys are created, verified and revoked beside them, and samples the
// server every -soak-every: its live heap right after a garbage collection (forced through
// pprof's heap?gc=1, so the figure is what is held, not what awaits collection), its
// resident memory and its goroutines. A leak shows as growth from the first samples to the
// last; a run passes when neither the live heap nor the goroutines grew beyond the bounds
// below between the medians of the first and last quarters of the samples (the first sample,
// taken while the caches fill, is left out).

// Soak bounds: growth a healthy server stays under over the run.
const (
	soakHeapGrowth       = 0.10 // the live heap's median, last quarter over first
	soakGoroutineGrowth  = 10   // goroutines, last quarter's median minus first's
	soakDefaultChurn     = time.Second
	soakMetricsTimeout   = 10 * time.Second
	soakMinimumSamples   = 5
	soakDefaultInterval  = 30 * time.Second
	soakMetricsHeapAlloc = "go_memstats_heap_alloc_bytes"
	soakMetricsRSS       = "process_resident_memory_bytes"
	soakMetricsRoutines  = "go_goroutines"
)

// soakSample is the server's state at one moment of the soak.
type soakSample struct {
	Seconds        float64 `json:"seconds"`
	LiveHeapBytes  float64 `json:"live_heap_bytes"`
	RSSBytes       float64 `json:"rss_bytes"`
	Goroutines     float64 `json:"goroutines"`
	Verifications  uint64  `json:"verifications"`
	Failures       uint64  `json:"failures"`
	KeysChurned    int64   `json:"keys_churned"`
	ChurnFailures  int64   `json:"churn_failures"`
	RequestsPerSec float64 `json:"requests_per_second"`
}

// soakResult is the soak's report.
type soakResult struct {
	Seconds          float64      `json:"seconds"`
	Samples          []soakSample `json:"samples"`
	HeapGrowth       float64      `json:"live_heap_growth"`
	RSSGrowth        float64      `json:"rss_growth"`
	GoroutineGrowth  float64      `json:"goroutine_growth"`
	Verifications    uint64       `json:"verifications"`
	Failures         uint64       `json:"failures"`
	KeysChurned      int64        `json:"keys_churned"`
	ChurnFailures    int64        `json:"churn_failures"`
	HeapGrowthBound  float64      `json:"live_heap_growth_bound"`
	GoroutineBound   float64      `json:"goroutine_growth_bound"`
	Verdict          string       `json:"verdict"`
	MetricsURL       string       `json:"metrics_url"`
	IntervalSeconds  float64      `json:"interval_seconds"`
	ConnectionsUsed  int          `json:"connections"`
	KeysVerified     int          `json:"keys_verified"`
	ChurnIntervalSec float64      `json:"churn_interval_seconds"`
}

// soak runs the soak against the Keyward at baseURL, whose metrics listener (with pprof) is
// metricsBase.
func soak(ctx context.Context, o options, kw *target, bodies [][]byte, baseURL, token, metricsBase string, progress io.Writer) (*soakResult, error) {
	res := &soakResult{HeapGrowthBound: soakHeapGrowth, GoroutineBound: soakGoroutineGrowth, MetricsURL: metricsBase + "/metrics",
		IntervalSeconds: o.soakEvery.Seconds(), ConnectionsUsed: o.conc, KeysVerified: len(bodies), ChurnIntervalSec: o.soakChurn.Seconds()}
	mc := &http.Client{Timeout: soakMetricsTimeout}

	// The churn: a key created, verified and revoked every -soak-churn-every, through the API.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var churned, churnFailed atomic.Int64
	var wg sync.WaitGroup
	if token != "" {
		kwc := client.New(baseURL, token, client.WithUserAgent("keyward-bench-soak"))
		project, err := kwc.CreateProject(ctx, client.CreateProjectParams{Name: projectName() + "-soak", KeyPrefix: "soak"})
		if err != nil {
			return nil, fmt.Errorf("creating the churn project: %w", err)
		}
		wg.Go(func() {
			tick := time.NewTicker(o.soakChurn)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				err := churnOne(ctx, kwc, project.ID, i)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					churnFailed.Add(1)
				} else {
					churned.Add(1)
				}
			}
		})
	}

	start := time.Now()
	for ctx.Err() == nil && time.Since(start) < o.soak {
		window := min(o.soakEvery, o.soak-time.Since(start))
		p := load(ctx, kw, bodies, o.conc, 0, window, nil)
		if ctx.Err() != nil {
			break
		}
		s, err := sampleServer(ctx, mc, metricsBase)
		if err != nil {
			return res, err
		}
		s.Seconds = time.Since(start).Seconds()
		s.Verifications, s.Failures, s.RequestsPerSec = p.Requests, p.failures(), p.PerSecond
		s.KeysChurned, s.ChurnFailures = churned.Load(), churnFailed.Load()
		res.Samples = append(res.Samples, s)
		res.Verifications += s.Verifications
		res.Failures += s.Failures
		fmt.Fprintf(progress, "soak %4.0fs: live heap %6.2f MiB, RSS %6.1f MiB, %3.0f goroutines, %6.0f verifications/s, %d failures, %d keys churned\n",
			s.Seconds, s.LiveHeapBytes/(1<<20), s.RSSBytes/(1<<20), s.Goroutines, s.RequestsPerSec, s.Failures, s.KeysChurned)
	}
	cancel()
	wg.Wait()
	res.Seconds = time.Since(start).Seconds()
	if n := len(res.Samples); n > 0 {
		res.KeysChurned, res.ChurnFailures = res.Samples[n-1].KeysChurned, res.Samples[n-1].ChurnFailures
	}
	res.judge()
	return res, nil
}

// churnOne creates a key, verifies it and revokes it: the management path and the cache's
// insert and invalidation, beside the flat-out verifications.
func churnOne(ctx context.Context, kwc *client.Client, projectID string, i int) error {
	k, err := kwc.CreateKey(ctx, client.CreateKeyParams{ProjectID: projectID, Name: "soak-" + strconv.Itoa(i)})
	if err != nil {
		return err
	}
	if v, err := kwc.VerifyKey(ctx, client.VerifyKeyParams{Key: k.Secret}); err != nil || !v.Valid {
		return fmt.Errorf("verifying a fresh key: %v %v", v, err)
	}
	return kwc.RevokeKey(ctx, k.ID)
}

// sampleServer forces a collection through pprof, then reads the metrics.
func sampleServer(ctx context.Context, c *http.Client, metricsBase string) (soakSample, error) {
	var s soakSample
	gc, err := get(ctx, c, metricsBase+"/debug/pprof/heap?gc=1")
	if err != nil {
		return s, fmt.Errorf("forcing a collection (is --pprof on?): %w", err)
	}
	gc.Close()
	body, err := get(ctx, c, metricsBase+"/metrics")
	if err != nil {
		return s, err
	}
	defer body.Close()
	found := 0
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		into := map[string]*float64{soakMetricsHeapAlloc: &s.LiveHeapBytes, soakMetricsRSS: &s.RSSBytes, soakMetricsRoutines: &s.Goroutines}[name]
		if into == nil {
			continue
		}
		if *into, err = strconv.ParseFloat(value, 64); err != nil {
			return s, fmt.Errorf("metric %s: %w", name, err)
		}
		found++
	}
	if err := sc.Err(); err != nil {
		return s, err
	}
	if found < 3 {
		return s, fmt.Errorf("%s lacks %s, %s or %s", metricsBase+"/metrics", soakMetricsHeapAlloc, soakMetricsRSS, soakMetricsRoutines)
	}
	return s, nil
}

func get(ctx context.Context, c *http.Client, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return res.Body, nil
}

// judge compares the first and last quarters of the samples, the first sample left out.
func (r *soakResult) judge() {
	s := r.Samples
	if len(s) > 1 {
		s = s[1:]
	}
	if len(s) < soakMinimumSamples {
		r.Verdict = fmt.Sprintf("inconclusive: %d samples, at least %d needed (a longer -soak or a shorter -soak-every)", len(s), soakMinimumSamples)
		return
	}
	q := max(len(s)/4, 1)
	first, last := s[:q], s[len(s)-q:]
	med := func(ss []soakSample, f func(soakSample) float64) float64 {
		v := make([]float64, len(ss))
		for i, x := range ss {
			v[i] = f(x)
		}
		return median(v)
	}
	heap := func(x soakSample) float64 { return x.LiveHeapBytes }
	rss := func(x soakSample) float64 { return x.RSSBytes }
	gor := func(x soakSample) float64 { return x.Goroutines }
	r.HeapGrowth = med(last, heap)/med(first, heap) - 1
	r.RSSGrowth = med(last, rss)/med(first, rss) - 1
	r.GoroutineGrowth = med(last, gor) - med(first, gor)
	var problems []string
	if r.HeapGrowth > soakHeapGrowth {
		problems = append(problems, fmt.Sprintf("the live heap grew %.1f%% (bound %.0f%%)", 100*r.HeapGrowth, 100*soakHeapGrowth))
	}
	if r.GoroutineGrowth > soakGoroutineGrowth {
		problems = append(problems, fmt.Sprintf("goroutines grew by %.0f (bound %d)", r.GoroutineGrowth, soakGoroutineGrowth))
	}
	if r.Failures > 0 || r.ChurnFailures > 0 {
		problems = append(problems, fmt.Sprintf("%d verifications and %d churn steps failed", r.Failures, r.ChurnFailures))
	}
	if len(problems) > 0 {
		r.Verdict = "failed: " + strings.Join(problems, "; ")
		return
	}
	r.Verdict = "passed"
}

// writeSoak prints the soak's samples and verdict.
func writeSoak(w io.Writer, r *soakResult) {
	fmt.Fprintf(w, "\nsoak: %.0f s, %d samples every %.0f s, %d connections over %d keys, a key churned every %s\n",
		r.Seconds, len(r.Samples), r.IntervalSeconds, r.ConnectionsUsed, r.KeysVerified, time.Duration(r.ChurnIntervalSec*float64(time.Second)))
	fmt.Fprintf(w, "  %8s %14s %10s %11s %14s %9s\n", "seconds", "live heap MiB", "RSS MiB", "goroutines", "verify req/s", "churned")
	for _, s := range r.Samples {
		fmt.Fprintf(w, "  %8.0f %14.2f %10.1f %11.0f %14.0f %9d\n", s.Seconds, s.LiveHeapBytes/(1<<20), s.RSSBytes/(1<<20), s.Goroutines, s.RequestsPerSec, s.KeysChurned)
	}
	fmt.Fprintf(w, "  verifications %d (%d failed), keys churned %d (%d failed)\n", r.Verifications, r.Failures, r.KeysChurned, r.ChurnFailures)
	fmt.Fprintf(w, "  growth, last quarter over first: live heap %+.1f%%, RSS %+.1f%%, goroutines %+.0f\n", 100*r.HeapGrowth, 100*r.RSSGrowth, r.GoroutineGrowth)
	fmt.Fprintf(w, "  verdict: %s\n", r.Verdict)
}
