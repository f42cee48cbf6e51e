package httpapi

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"sync"
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

	// Per-route request counts and latencies. The observers of each route are looked up
	// once and kept, so that a request pays a sync.Map load, not a label hash.
	requests  *prometheus.CounterVec
	durations *prometheus.HistogramVec
	routes    sync.Map // route pattern → *routeMetrics
}

// routeMetrics are one route's observers: its latency, and its count by status class.
type routeMetrics struct {
	duration prometheus.Observer
	byClass  [6]prometheus.Counter // index status/100, 2 to 5; 0 and 1 unused
}

// HealthCheck is a dependency whose state /metrics reports as keyward_up{component}.
type HealthCheck struct {
	Component string
	Check     func(context.Context) error
}

func newMetrics(v *verify.Verifier, build buildLabels, checks []HealthCheck, extra []prometheus.Collector) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "keyward_verify_duration_seconds",
			Help: "Time to answer POST /v1/keys/verify, from the request read to the answer written.",
			// From a warm hit (microseconds) to a slow store read.
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, .5},
		}),
	}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyward_http_requests_total",
		Help: "HTTP requests answered, by route (method and path pattern) and status class (2xx, 4xx, …).",
	}, []string{"route", "code"})
	m.durations = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keyward_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route, from the handler's start to its return.",
		Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	m.registry.MustRegister(m.latency, m.requests, m.durations, buildInfo(build), healthCollector(checks),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, c := range extra {
		m.registry.MustRegister(c)
	}
	if v != nil {
		m.registry.MustRegister(verifierCollector{v})
	}
	return m
}

// observe records one answered request. route is the router's pattern ("POST
// /v1/keys/verify"), never the path itself, so that ids do not become labels.
func (m *metrics) observe(route string, status int, took time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	rm, ok := m.routes.Load(route)
	if !ok {
		r := &routeMetrics{duration: m.durations.WithLabelValues(route)}
		for class := 2; class <= 5; class++ {
			r.byClass[class] = m.requests.WithLabelValues(route, strconv.Itoa(class)+"xx")
		}
		rm, _ = m.routes.LoadOrStore(route, r)
	}
	r := rm.(*routeMetrics)
	// A handler writes a final status, 200 to 599; anything else would be a bug, counted
	// as a server error.
	class := status / 100
	if class < 2 || class > 5 {
		class = 5
	}
	r.byClass[class].Inc()
	r.duration.Observe(took.Seconds())
}

// buildLabels is what build is running, as the command resolved it (from -ldflags or the
// VCS stamp), so that the metric and 'keyward version' say the same.
type buildLabels struct{ version, commit, date string }

// buildInfo is keyward_build_info, the constant 1 labelled with what is running: the
// version, the commit (revision) and the build date (vcs_time, the name it had when it was
// the VCS stamp's commit time), and the Go version.
func buildInfo(b buildLabels) prometheus.Collector {
	orUnknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "keyward_build_info",
		Help: "Always 1; its labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": b.version, "revision": orUnknown(b.commit),
			"vcs_time": orUnknown(b.date), "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

var upDesc = prometheus.NewDesc("keyward_up",
	"1 if a dependency answered its check during this scrape (within 2 s), else 0: store, redis, invalidation_listener.", []string{"component"}, nil)

// healthCollector asks each dependency at scrape time, so that the gauge is never older
// than the scrape and costs nothing between scrapes.
type healthCollector []HealthCheck

func (h healthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- upDesc }

func (h healthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, c := range h {
		up := 1.0
		if c.Check(ctx) != nil {
			up = 0
		}
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, up, c.Component)
	}
}

var (
	verificationsDesc = prometheus.NewDesc("keyward_verifications_total",
		"Key verifications by outcome (API keys through every route, not access tokens).", []string{"code"}, nil)
	cacheDesc = prometheus.NewDesc("keyward_verify_cache_lookups_total",
		"Verification cache lookups, by result: hit, miss, or stale (an entry past its TTL judged because the store was unavailable).", []string{"result"}, nil)
	refreshDesc = prometheus.NewDesc("keyward_verify_cache_refreshes_total",
		"Background reads of due verification cache entries, by result: ok (read, or found gone), failed (the entry is kept until its TTL), or deferred (left for a later use because enough refreshes were running).", []string{"result"}, nil)
	importedDesc = prometheus.NewDesc("keyward_verify_imported_lookups_total",
		"Store lookups of strings outside Keyward's key format that hit the imported keys' filter.", nil, nil)
	rateLimitDesc = prometheus.NewDesc("keyward_ratelimit_decisions_total",
		"Rate-limit decisions: allowed, limited, or, with Redis unreachable, fail_open and fail_closed.", []string{"decision"}, nil)
)

// auditBacklogGauge reports the audit records waiting in memory for the store (see
// keyward/auditbacklog.go): above zero only during and just after a store outage.
func auditBacklogGauge(svc *keyward.Service) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keyward_audit_backlog",
		Help: "Audit records waiting in memory for the store to be available again.",
	}, func() float64 {
		if svc == nil {
			return 0
		}
		return float64(svc.AuditBacklog())
	})
}

// verifierCollector turns the verifier's counters into metrics at scrape time.
type verifierCollector struct{ v *verify.Verifier }

func (c verifierCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- verificationsDesc
	ch <- cacheDesc
	ch <- refreshDesc
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
	ch <- prometheus.MustNewConstMetric(cacheDesc, prometheus.CounterValue, float64(st.StaleServed), "stale")
	ch <- prometheus.MustNewConstMetric(refreshDesc, prometheus.CounterValue, float64(st.Refreshes), "ok")
	ch <- prometheus.MustNewConstMetric(refreshDesc, prometheus.CounterValue, float64(st.RefreshesFailed), "failed")
	ch <- prometheus.MustNewConstMetric(refreshDesc, prometheus.CounterValue, float64(st.RefreshesDeferred), "deferred")
	ch <- prometheus.MustNewConstMetric(importedDesc, prometheus.CounterValue, float64(st.ImportedLookups))
	for _, d := range []struct {
		name string
		n    uint64
	}{{"allowed", st.RateAllowed}, {"limited", st.RateLimited}, {"fail_open", st.RateFailedOpen}, {"fail_closed", st.RateFailedClosed}} {
		ch <- prometheus.MustNewConstMetric(rateLimitDesc, prometheus.CounterValue, float64(d.n), d.name)
	}
}

// MetricsHandler serves the metrics in the Prometheus text format, for a listener of their
// own (--metrics-addr).
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})
}

func (s *Server) registerMetrics() {
	h := s.MetricsHandler()
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
