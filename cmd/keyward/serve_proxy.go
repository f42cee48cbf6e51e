package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/keyward/keyward/internal/connlimit"
)

// startProxy starts the keyed reverse proxy when --proxy-addr is set: on its own listener,
// it sends verified requests to --proxy-upstream or to the policy's upstreams. It speaks
// HTTPS when the main server does, with the same certificate.
func (m *Main) startProxy(context.Context) error {
	upstreams := m.gateway.Policy().Upstreams
	if m.Config.ProxyAddr == "" {
		if len(upstreams) > 0 {
			m.log.Warn("the gateway policy names upstreams, but --proxy-addr is not set: the keyed proxy is off")
		}
		return nil
	}
	var def *url.URL
	if m.Config.ProxyUpstream != "" {
		def, _ = url.Parse(m.Config.ProxyUpstream) // Validate checked it
	}
	handler, err := m.gateway.Proxy(def)
	if err != nil {
		return fmt.Errorf("keyed proxy: %w", err)
	}
	tcp, err := net.Listen("tcp", m.Config.ProxyAddr)
	if err != nil {
		return fmt.Errorf("keyed proxy: %w", err)
	}
	ln := connlimit.New(tcp, m.maxConnections())
	m.proxyConns = ln
	// No ReadTimeout or WriteTimeout: they would cut off long uploads, downloads and
	// WebSockets, which the upstream, not the proxy, should bound.
	m.proxy = &http.Server{
		Handler:           connlimit.Track(handler),
		ConnContext:       ln.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	m.proxyServed = make(chan error, 1)
	scheme := "http"
	if m.Config.TLSCert != "" {
		scheme = "https"
		m.proxy.TLSConfig = serverTLS()
		go func() { m.proxyServed <- m.proxy.ServeTLS(ln, m.Config.TLSCert, m.Config.TLSKey) }()
	} else {
		go func() { m.proxyServed <- m.proxy.Serve(ln) }()
	}
	m.log.Info("the keyed proxy is listening", "proxy", scheme+"://"+ln.Addr().String())
	for _, u := range upstreams {
		m.log.Info("the keyed proxy forwards", "host", u.Host, "path_prefix", u.PathPrefix, "upstream", u.Target().Redacted(), "keep_credential", u.KeepCredential)
	}
	if def != nil {
		m.log.Info("the keyed proxy forwards the rest", "upstream", def.Redacted())
	}
	return nil
}

// stopProxy stops the keyed proxy: requests in flight may finish until ctx ends, and are
// then cut off. WebSockets are not waited for (http.Server.Shutdown does not track them):
// they end with the process.
func (m *Main) stopProxy(ctx context.Context) error {
	if m.proxy == nil {
		return nil
	}
	err := shutdownServer(ctx, m.proxy, m.proxyServed)
	m.proxy = nil
	if err != nil {
		return fmt.Errorf("keyed proxy: %w", err)
	}
	return nil
}
