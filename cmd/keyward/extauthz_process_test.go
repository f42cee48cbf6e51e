package main

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestExtAuthzProcess runs `keyward serve --ext-authz-grpc-addr` and asks it, as Envoy does
// over gRPC, about a request with a key made through the API and one without a key; then
// stops it, which must stop the gRPC service gracefully too.
func TestExtAuthzProcess(t *testing.T) {
	addr := freeAddr(t)
	p := startProcess(t, []string{"--data", filepath.Join(t.TempDir(), "keyward-data"), "--ext-authz-grpc-addr", addr}, nil)
	token := adminKeyPattern.FindString(p.stderr.String())
	projectID := p.mustCall(http.StatusCreated, token, "POST", "/v1/projects", map[string]any{"name": "shop"})["id"].(string)
	key := p.mustCall(http.StatusCreated, token, "POST", "/v1/api-keys", map[string]any{"project_id": projectID, "name": "envoy"})

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: authv3.Authorization_ServiceDesc.ServiceName}); err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v; want SERVING", res.GetStatus(), err)
	}
	client := authv3.NewAuthorizationClient(conn)
	check := func(headers map[string]string) *authv3.CheckResponse {
		t.Helper()
		res, err := client.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
				SocketAddress: &corev3.SocketAddress{Address: "203.0.113.9"},
			}}},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/v1/orders?page=2", Headers: headers}},
		}})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		return res
	}
	res := check(map[string]string{":path": "/v1/orders?page=2", "authorization": "Bearer " + key["key"].(string)})
	if codes.Code(res.GetStatus().GetCode()) != codes.OK {
		t.Fatalf("with the key: %v, want OK", res.GetStatus())
	}
	if !slices.ContainsFunc(res.GetOkResponse().GetHeaders(), func(o *corev3.HeaderValueOption) bool {
		return o.GetHeader().GetKey() == "x-keyward-key-id" && o.GetHeader().GetValue() == key["id"]
	}) {
		t.Errorf("identity headers = %v, want x-keyward-key-id %s", res.GetOkResponse().GetHeaders(), key["id"])
	}
	res = check(map[string]string{":path": "/v1/orders?page=2"})
	if codes.Code(res.GetStatus().GetCode()) != codes.Unauthenticated || res.GetDeniedResponse().GetStatus().GetCode() != 401 {
		t.Errorf("without a key: %v, HTTP %d; want UNAUTHENTICATED, 401", res.GetStatus(), res.GetDeniedResponse().GetStatus().GetCode())
	}

	if err := p.stop(syscall.SIGTERM); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
	if log := p.stderr.String(); !strings.Contains(log, "serving Envoy's ext_authz gRPC service") || strings.Contains(log, "ext_authz gRPC service stopped") {
		t.Errorf("the log does not show the service start and stop cleanly:\n%s", log)
	}
}
