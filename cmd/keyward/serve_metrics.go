package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/connlimit"
	"github.com/keyward/keyward/internal/httpapi"
)

// healthChecks are the dependencies /metrics reports as keyward_up: the store always, Redis
// and the invalidation listener when this node has them.
func (m *Main) healthChecks() []httpapi.HealthCheck {
	checks := []httpapi.HealthCheck{{Component: "store", Check: m.service.Ping}}
	if m.limits != nil && m.limits.redis != nil {
		r := m.limits.redis
		checks = append(checks, httpapi.HealthCheck{Component: "redis", Check: func(ctx context.Context) error { return r.Ping(ctx).Err() }})
	}
	if m.pg != nil {
		checks = append(checks, httpapi.HealthCheck{Component: "invalidation_listener", Check: m.ready})
	}
	return checks
}

// connCollectors report the capped listeners' connections: the API's, and the keyed
// proxy's when it runs. One collector for both, since a registry takes each metric's
// description from one collector only.
func (m *Main) connCollectors() []prometheus.Collector {
	c := connCollector{{"api", m.conns}}
	if m.proxyConns != nil {
		c = append(c, cappedListener{"proxy", m.proxyConns})
	}
	return []prometheus.Collector{c}
}

// connCollector reports capped listeners' connections, labelled by listener.
type connCollector []cappedListener

type cappedListener struct {
	name string
	l    *connlimit.Listener
}

var (
	connsOpenDesc    = prometheus.NewDesc("keyward_connections_open", "Connections a listener holds open.", []string{"listener"}, nil)
	connsMaxDesc     = prometheus.NewDesc("keyward_connections_max", "The listener's cap on open connections (--max-connections).", []string{"listener"}, nil)
	connsEvictedDesc = prometheus.NewDesc("keyward_connections_evicted_total", "Idle or slow connections closed to make room for new ones at the cap.", []string{"listener"}, nil)
	connsRefusedDesc = prometheus.NewDesc("keyward_connections_refused_total", "New connections closed at the cap because every held one was being answered.", []string{"listener"}, nil)
)

func (c connCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connsOpenDesc
	ch <- connsMaxDesc
	ch <- connsEvictedDesc
	ch <- connsRefusedDesc
}

func (c connCollector) Collect(ch chan<- prometheus.Metric) {
	for _, cl := range c {
		st := cl.l.Stats()
		ch <- prometheus.MustNewConstMetric(connsOpenDesc, prometheus.GaugeValue, float64(st.Open), cl.name)
		ch <- prometheus.MustNewConstMetric(connsMaxDesc, prometheus.GaugeValue, float64(st.Max), cl.name)
		ch <- prometheus.MustNewConstMetric(connsEvictedDesc, prometheus.CounterValue, float64(st.Evicted), cl.name)
		ch <- prometheus.MustNewConstMetric(connsRefusedDesc, prometheus.CounterValue, float64(st.Refused), cl.name)
	}
}

// startMetrics serves /metrics, and with --pprof Go's profiler, on --metrics-addr: a
// listener an operator can keep off the network that reaches the API.
func (m *Main) startMetrics(metrics http.Handler) error {
	if m.Config.MetricsAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", m.Config.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	if m.Config.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	// No WriteTimeout: a CPU profile or trace streams for as long as it is asked to.
	m.metricsServer = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	m.metricsServed = make(chan error, 1)
	go func() { m.metricsServed <- m.metricsServer.Serve(ln) }()
	m.log.Info("metrics are served apart", "metrics_url", "http://"+ln.Addr().String()+"/metrics", "pprof", m.Config.Pprof)
	return nil
}

// stopMetrics stops the metrics listener, if there is one.
func (m *Main) stopMetrics(ctx context.Context) error {
	if m.metricsServer == nil {
		return nil
	}
	err := shutdownServer(ctx, m.metricsServer, m.metricsServed)
	m.metricsServer = nil
	return err
}

// shutdownServer stops srv, whose Serve sends its end to served: requests in flight may
// finish until ctx ends, and are then cut off.
func shutdownServer(ctx context.Context, srv *http.Server, served <-chan error) error {
	err := srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, srv.Close())
	}
	if end := <-served; end != nil && !errors.Is(end, http.ErrServerClosed) {
		err = errors.Join(err, end)
	}
	return err
}
