package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"

	"github.com/keyward/keyward/internal/gateway"
)

// extAuthz is Envoy's ext_authz gRPC service, when --ext-authz-grpc-addr asks for it.
type extAuthz struct {
	server *grpc.Server
	served chan error
}

// extAuthzStopTimeout bounds the graceful stop of the ext_authz service: a Check is quick, but
// a health Watch stream lasts until its client ends it.
const extAuthzStopTimeout = 5 * time.Second

// startExtAuthz serves Envoy's ext_authz gRPC service on its own address, when one is set. It
// is plaintext gRPC (HTTP/2 without TLS), which is what Envoy speaks to a cluster with
// http2_protocol_options and no transport socket: keep the address on a private network.
func (m *Main) startExtAuthz(context.Context) error {
	addr := m.Config.ExtAuthzGRPCAddr
	if addr == "" {
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ext-authz-grpc-addr: %w", err)
	}
	e := &extAuthz{server: gateway.NewExtAuthzServer(m.gateway), served: make(chan error, 1)}
	m.extAuthz = e
	go func() {
		// ErrServerStopped: Close came before Serve began, which is no failure.
		err := e.server.Serve(l)
		if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			m.log.Error("the ext_authz gRPC service stopped", "err", err)
		}
		e.served <- err
	}()
	m.log.Info("serving Envoy's ext_authz gRPC service", "addr", l.Addr().String())
	return nil
}

// stopExtAuthz stops the ext_authz service: it lets the checks in flight finish, for at most
// extAuthzStopTimeout, then closes what is left.
func (m *Main) stopExtAuthz() {
	e := m.extAuthz
	if e == nil {
		return
	}
	stopped := make(chan struct{})
	go func() {
		e.server.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(extAuthzStopTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		e.server.Stop()
		<-stopped
	}
	<-e.served
	m.extAuthz = nil
}
