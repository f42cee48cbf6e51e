package httpapi

import (
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/verify"
)

// metrics are what /metrics exposes for operators. The verifier keeps its own counters (plain
// atomics on the hot path); the collector reads them at scrape time, so a verification pays
// nothing for Prometheus but the latency histogram's one observation.
type metrics struct {
	registry *prometheus.Registry
	latency  prometheus.Histogram
}

func newMetrics(v *verify.Verifier) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "keyward_verify_duration_seconds",
			Help: "Time to answer POST /v1/keys/verify, from the request read to the answer written.",
			// From a warm hit (microseconds) to a slow store read.
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, .5},
		}),
	}
	m.registry.MustRegister(m.latency, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if v != nil {
		m.registry.MustRegister(verifierCollector{v})
	}
	return m
}

var (
	verificationsDesc = prometheus.NewDesc("keyward_verifications_total",
		"Key verifications by outcome (API keys through every route, not access tokens).", []string{"code"}, nil)
	cacheDesc = prometheus.NewDesc("keyward_verify_cache_lookups_total",
		"Verification cache lookups, by result.", []string{"result"}, nil)
	importedDesc = prometheus.NewDesc("keyward_verify_imported_lookups_total",
		"Store lookups of strings outside Keyward's key format that hit the imported keys' filter.", nil, nil)
	rateLimitDesc = prometheus.NewDesc("keyward_ratelimit_decisions_total",
		"Rate-limit decisions: allowed, limited, or, with Redis unreachable, fail_open and fail_closed.", []string{"decision"}, nil)
)

// verifierCollector turns the verifier's counters into metrics at scrape time.
type verifierCollector struct{ v *verify.Verifier }

func (c verifierCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- verificationsDesc
	ch <- cacheDesc
	ch <- rateLimitDesc
	ch <- importedDesc
}

func (c verifierCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.v.Stats()
	for i, code := range keyward.VerifyCodes {
		ch <- prometheus.MustNewConstMetric(verificationsDesc, prometheus.CounterValue, float64(st.Outcomes[i]), string(code))
	}
	ch <- prometheus.MustNewConstMetric(cacheDesc, prometheus.CounterValue, float64(st.CacheHits), "hit")
	ch <- prometheus.MustNewConstMetric(cacheDesc, prometheus.CounterValue, float64(st.CacheMisses), "miss")
	ch <- prometheus.MustNewConstMetric(importedDesc, prometheus.CounterValue, float64(st.ImportedLookups))
	for _, d := range []struct {
		name string
		n    uint64
	}{{"allowed", st.RateAllowed}, {"limited", st.RateLimited}, {"fail_open", st.RateFailedOpen}, {"fail_closed", st.RateFailedClosed}} {
		ch <- prometheus.MustNewConstMetric(rateLimitDesc, prometheus.CounterValue, float64(d.n), d.name)
	}
}

func (s *Server) registerMetrics() {
	h := promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{ErrorLog: nil})
	s.handle(http.MethodGet, "/metrics", h.ServeHTTP, &huma.Operation{
		OperationID: "metrics", Summary: "Prometheus metrics", Tags: []string{"Health"},
		Description: "Verifications by outcome, verify latency, cache lookups and rate-limit decisions, in the Prometheus text format. It needs no credential and shows no key, id or secret: serve it only where operators reach it (see docs/operations.md).",
		Responses:   map[string]*huma.Response{"200": {Description: "The metrics."}},
	})
}

// observeVerify records one verify request's latency.
func (s *Server) observeVerify(start time.Time) {
	s.metrics.latency.Observe(time.Since(start).Seconds())
}
