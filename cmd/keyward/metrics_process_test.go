package main

import (
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

var metricsURL = regexp.MustCompile(`msg="metrics are served apart" metrics_url=(http://127\.0\.0\.1:\d+)/metrics`)

// TestMetricsListener checks --metrics-addr: /metrics leaves the API's listener for its own,
// with the build, the health of the store, per-route counts and the connection cap; the
// profiler is there only with --pprof.
func TestMetricsListener(t *testing.T) {
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, pprof := range []bool{false, true} {
		flags := []string{"--data", filepath.Join(t.TempDir(), "keyward-data"), "--metrics-addr", "127.0.0.1:0"}
		if pprof {
			flags = append(flags, "--pprof")
		}
		p := startProcess(t, flags, nil)
		var base string
		for range 100 { // the line comes just before "listening"
			if m := metricsURL.FindStringSubmatch(p.stderr.String()); m != nil {
				base = m[1]
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if base == "" {
			t.Fatalf("no metrics listener in the log:\n%s", p.stderr.String())
		}
		if code := p.verifyCode("kw_nope"); code != "MALFORMED" {
			t.Fatalf("verify = %s", code)
		}
		if status, _ := get(p.url + "/metrics"); status != http.StatusNotFound {
			t.Errorf("/metrics on the API's listener = %d, want 404 with --metrics-addr", status)
		}
		status, body := get(base + "/metrics")
		if status != http.StatusOK {
			t.Fatalf("/metrics = %d", status)
		}
		for _, want := range []string{
			`keyward_build_info{goversion="go`,
			`keyward_up{component="store"} 1`,
			`keyward_http_requests_total{code="2xx",route="POST /v1/keys/verify"} 1`,
			`keyward_http_request_duration_seconds_count{route="POST /v1/keys/verify"} 1`,
			`keyward_connections_max{listener="api"}`,
			`keyward_verifications_total{code="MALFORMED"} 1`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		wantPprof := http.StatusNotFound
		if pprof {
			wantPprof = http.StatusOK
		}
		if status, _ := get(base + "/debug/pprof/"); status != wantPprof {
			t.Errorf("with --pprof=%v, /debug/pprof/ = %d, want %d", pprof, status, wantPprof)
		}
		if status, _ := get(p.url + "/debug/pprof/"); status == http.StatusOK {
			t.Error("the profiler is served on the API's listener")
		}
		p.stop(syscall.SIGTERM)
	}
}
