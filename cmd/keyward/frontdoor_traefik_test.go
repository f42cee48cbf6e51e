package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"testing"

	"go.yaml.in/yaml/v3"
)

// traefikDynamic is the dynamic configuration docs/integrations.md shows for Traefik (its
// file provider): every request asks Keyward's /gateway/forward-auth first, takes the
// identity headers from its answer, and reaches the API without the key.
const traefikDynamic = `http:
  routers:
    api:
      entryPoints: [web]
      rule: PathPrefix(` + "`/`" + `)
      middlewares: [keyward, drop-key]
      service: api

  middlewares:
    keyward:
      forwardAuth:
        address: http://{{KEYWARD}}/gateway/forward-auth
        # Replaced by Keyward's answer, or removed when it has none: a caller cannot
        # forge them.
        authResponseHeaders:
          - X-Keyward-Key-Id
          - X-Keyward-Account-Id
          - X-Keyward-Project-Id
          - X-Keyward-Environment-Id
          - X-Keyward-User-Id
          - X-Keyward-Role
          - X-Keyward-Scopes
    drop-key:
      headers:
        customRequestHeaders:
          Authorization: ""   # an empty value removes the header
          X-API-Key: ""

  services:
    api:
      loadBalancer:
        servers:
          - url: http://{{UPSTREAM}}
`

// envTraefik names a Traefik binary for TestTraefikFrontDoor.
const envTraefik = "KEYWARD_TEST_TRAEFIK"

// TestTraefikFrontDoor: the real Traefik (v2 or v3), with the ForwardAuth middleware to
// Keyward's /gateway/forward-auth. It runs when KEYWARD_TEST_TRAEFIK names a binary: Traefik
// is not packaged for Debian 12, and building it takes longer than CI may
// (docs/integrations.md#traefik).
func TestTraefikFrontDoor(t *testing.T) {
	bin := os.Getenv(envTraefik)
	if bin == "" {
		t.Skipf("%s does not name a traefik binary; TestTraefikForwardAuthContract checks its contract instead", envTraefik)
	}
	fd := startFrontDoor(t)
	dir := t.TempDir()
	listen := freeAddr(t)
	dynamic := writeConfig(t, dir, "dynamic.yml", render(traefikDynamic, map[string]string{"KEYWARD": fd.keywardAddr(), "UPSTREAM": fd.upstream.addr()}))
	cmd := exec.Command(bin, "--entryPoints.web.address="+listen, "--providers.file.filename="+dynamic,
		"--log.level=ERROR", "--global.checkNewVersion=false", "--global.sendAnonymousUsage=false")
	cmd.Dir = dir
	c := startChild(t, "traefik", cmd)
	c.waitReady(t, "http://"+listen+"/health")
	// The file provider loads the routes a moment after the entry point listens.
	waitFor(t, "traefik to route /health", func() bool {
		res, err := doorClient.Get("http://" + listen + "/health")
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	})
	checkFrontDoor(t, fd, "http://"+listen)
}

// TestTraefikForwardAuthContract puts a stand-in for Traefik's ForwardAuth, configured by
// traefikDynamic itself, in front of Keyward and the upstream, and sends the five cases
// through it. The stand-in sends what Traefik's ForwardAuth sends (forward.go in
// pkg/middlewares/auth of Traefik v3.6.12, trustForwardHeader off): a GET to the address
// with the caller's headers, Authorization among them, less the hop-by-hop ones, and
// X-Forwarded-For (the peer), X-Forwarded-Method, X-Forwarded-Proto, X-Forwarded-Host and
// X-Forwarded-Uri. A 2xx answer lets the request on with each authResponseHeaders header
// taken from the answer, or removed; any other answer goes back to the caller as it came.
// This is what Traefik promises, not Traefik; TestTraefikFrontDoor runs the real one.
func TestTraefikForwardAuthContract(t *testing.T) {
	fd := startFrontDoor(t)
	var cfg struct {
		HTTP struct {
			Middlewares struct {
				Keyward struct {
					ForwardAuth struct {
						Address             string   `yaml:"address"`
						AuthResponseHeaders []string `yaml:"authResponseHeaders"`
					} `yaml:"forwardAuth"`
				} `yaml:"keyward"`
				DropKey struct {
					Headers struct {
						CustomRequestHeaders map[string]string `yaml:"customRequestHeaders"`
					} `yaml:"headers"`
				} `yaml:"drop-key"`
			} `yaml:"middlewares"`
		} `yaml:"http"`
	}
	text := render(traefikDynamic, map[string]string{"KEYWARD": fd.keywardAddr(), "UPSTREAM": fd.upstream.addr()})
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("the documented configuration does not parse: %v", err)
	}
	fa, drop := cfg.HTTP.Middlewares.Keyward.ForwardAuth, cfg.HTTP.Middlewares.DropKey.Headers.CustomRequestHeaders
	if fa.Address == "" || len(fa.AuthResponseHeaders) != len(identityHeaders) || len(drop) != 2 {
		t.Fatalf("the documented configuration lost its parts: %+v, %v", fa, drop)
	}

	upstream, _ := url.Parse(fd.upstream.srv.URL)
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(upstream) }}
	var api http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for name, value := range drop {
			if value == "" {
				r.Header.Del(name)
			}
		}
		proxy.ServeHTTP(w, r)
	})
	door := httptest.NewServer(traefikForwardAuth(t, fa.Address, fa.AuthResponseHeaders, api))
	t.Cleanup(door.Close)
	checkFrontDoor(t, fd, door.URL)
}

// traefikForwardAuth is the stand-in for Traefik's ForwardAuth described at
// TestTraefikForwardAuthContract.
func traefikForwardAuth(t *testing.T, address string, authResponseHeaders []string, next http.Handler) http.Handler {
	hop := []string{"Connection", "Keep-Alive", "Te", "Trailers", "Transfer-Encoding", "Upgrade"}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fwd, err := http.NewRequestWithContext(r.Context(), http.MethodGet, address, nil)
		if err != nil {
			t.Error(err)
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		fwd.Header = r.Header.Clone()
		for _, h := range hop {
			fwd.Header.Del(h)
		}
		if _, ok := r.Header["User-Agent"]; !ok {
			fwd.Header.Set("User-Agent", "")
		}
		if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			fwd.Header.Set("X-Forwarded-For", ip)
		}
		fwd.Header.Set("X-Forwarded-Method", r.Method)
		fwd.Header.Set("X-Forwarded-Proto", "http")
		fwd.Header.Set("X-Forwarded-Host", r.Host)
		fwd.Header.Set("X-Forwarded-Uri", r.URL.RequestURI())
		res, err := doorClient.Do(fwd)
		if err != nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode < 200 || res.StatusCode >= 300 {
			for k, vs := range res.Header {
				w.Header()[k] = vs
			}
			for _, h := range hop {
				w.Header().Del(h)
			}
			w.WriteHeader(res.StatusCode)
			io.Copy(w, bytes.NewReader(body))
			return
		}
		for _, name := range authResponseHeaders {
			key := http.CanonicalHeaderKey(name)
			r.Header.Del(key)
			if vs := res.Header[key]; len(vs) > 0 {
				r.Header[key] = append([]string(nil), vs...)
			}
		}
		next.ServeHTTP(w, r)
	})
}
