package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// testBodies are verification bodies for keys no server knows; the bare baseline does not
// look at them.
func testBodies(n int) [][]byte {
	b := make([][]byte, n)
	for i := range b {
		b[i] = []byte(`{"key":"bench_test` + strings.Repeat("x", i) + `"}`)
	}
	return b
}

// TestMain lets the test binary be the bare server and bare proxy processes, as the command
// is, because startChild starts the running executable.
func TestMain(m *testing.M) {
	if code, ok := runChild(); ok {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// TestLoadBare drives the bare baseline the way a run does, briefly, in its own process and
// in this one: every request must be counted as VALID, with latencies and a rate.
func TestLoadBare(t *testing.T) {
	for _, inProcess := range []bool{false, true} {
		t.Run(fmt.Sprintf("in process %t", inProcess), func(t *testing.T) {
			bs, err := startBare(inProcess)
			if err != nil {
				t.Fatal(err)
			}
			if (bs.pid == 0) != inProcess {
				t.Errorf("startBare(%t) pid = %d", inProcess, bs.pid)
			}
			testLoadBare(t, bs.url, bs.pid)
			bs.stop() // returns once the process has exited
		})
	}
}

func testLoadBare(t *testing.T, url string, pid int) {
	bare := newTarget("bare", url, false, 2, 2*time.Second)
	defer bare.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bodies := testBodies(3)

	p := load(ctx, bare, bodies, 2, 100*time.Millisecond, 400*time.Millisecond, cpuProbe(pid))
	if p.Requests == 0 || p.PerSecond <= 0 {
		t.Fatalf("load: %d requests at %.0f/s, want some", p.Requests, p.PerSecond)
	}
	if p.failures() != 0 {
		t.Errorf("load: %d failures (%v), want 0", p.failures(), p.ErrorSamples)
	}
	if p.Seconds < 0.4 || p.Seconds > 2 {
		t.Errorf("load measured %.2fs, want about 0.4s", p.Seconds)
	}
	if l := p.Latency; l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.P999 || l.P999 > l.Max {
		t.Errorf("latencies p50 %v p99 %v p99.9 %v max %v, want 0 < p50 <= p99 <= p99.9 <= max", l.P50, l.P99, l.P999, l.Max)
	}

	o := once(ctx, bare, bodies, 2)
	if o.Requests != uint64(len(bodies)) || o.failures() != 0 {
		t.Errorf("once: %d requests, %d failures, want %d and 0", o.Requests, o.failures(), len(bodies))
	}
}

// TestBareProxy drives the bare proxy in front of the bare server, each in a process of its
// own, as -proxy does: every request reaches the upstream and counts as valid, and the CPU
// of both processes is read, the upstream's as a named group.
func TestBareProxy(t *testing.T) {
	up, err := startBare(false)
	if err != nil {
		t.Fatal(err)
	}
	defer up.stop()
	bp, err := startBareProxy(origin(up.url))
	if err != nil {
		t.Fatal(err)
	}
	defer bp.stop()
	if !strings.HasSuffix(bp.url, proxiedPath) {
		t.Errorf("the bare proxy's URL %q does not end in %s", bp.url, proxiedPath)
	}
	tg := newTarget("bare", bp.url, false, 2, 2*time.Second).bearerGET(upstreamAnswer, `"valid":true`)
	defer tg.close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p := load(ctx, tg, [][]byte{[]byte("bench_a"), []byte("bench_b")}, 2, 100*time.Millisecond, 400*time.Millisecond, cpuProbe(bp.pid, procGroup{name: "upstream", pids: []int{up.pid}}))
	if p.Requests == 0 || p.failures() != 0 {
		t.Fatalf("%d requests, %d failures (%v); want some and none", p.Requests, p.failures(), p.ErrorSamples)
	}
	if runtime.GOOS == "linux" {
		if c := p.CPU; c == nil || c.Server == nil || len(c.Processes) != 1 || c.Processes[0].Name != "upstream" {
			t.Errorf("CPU %+v, want the proxy's and the upstream's", p.CPU)
		} else if s := fmtCPU(c); !strings.Contains(s, ", server ") || !strings.Contains(s, ", upstream ") {
			t.Errorf("CPU printed as %q, want the server and the upstream named", s)
		}
		if p.ServerCPUPerRequest <= 0 {
			t.Errorf("server CPU per request %v, want the proxy's", p.ServerCPUPerRequest)
		}
	}
}

func TestOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:8080/v1/keys/verify": "http://127.0.0.1:8080",
		"http://127.0.0.1:8080":                "http://127.0.0.1:8080",
	} {
		if got := origin(in); got != want {
			t.Errorf("origin(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestVerifyOutcomes checks that every kind of failed verification is counted as one.
func TestVerifyOutcomes(t *testing.T) {
	answer := func(status int, body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write([]byte(body))
		}
	}
	tests := []struct {
		name                     string
		handler                  http.HandlerFunc
		closed                   bool
		wantCode                 bool
		errors, non200, notValid uint64
		sample                   string
	}{
		{name: "keyward VALID", handler: answer(200, `{"valid":true,"code":"VALID","key_id":"k"}`), wantCode: true},
		{name: "bare valid", handler: answer(200, `{"valid":true}`)},
		{name: "bare answer where a code is wanted", handler: answer(200, `{"valid":true}`), wantCode: true, notValid: 2, sample: `code ""`},
		{name: "not found", handler: answer(200, `{"valid":false,"code":"NOT_FOUND"}`), wantCode: true, notValid: 2, sample: `"NOT_FOUND"`},
		{name: "unavailable", handler: answer(503, `{"status":503,"code":"unavailable"}`), wantCode: true, non200: 2, sample: "status 503"},
		{name: "not JSON", handler: answer(200, `ok`), notValid: 2, sample: "not JSON"},
		{name: "no server", handler: answer(200, `{"valid":true}`), closed: true, errors: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			if tt.closed {
				srv.Close()
			}
			tg := newTarget(tt.name, srv.URL, tt.wantCode, 1, time.Second)
			defer tg.close()
			p := once(context.Background(), tg, testBodies(2), 1)
			if p.Errors != tt.errors || p.Non200 != tt.non200 || p.NotValid != tt.notValid {
				t.Errorf("errors %d, non-200 %d, not valid %d; want %d, %d, %d", p.Errors, p.Non200, p.NotValid, tt.errors, tt.non200, tt.notValid)
			}
			if tt.sample != "" && (len(p.ErrorSamples) == 0 || !strings.Contains(p.ErrorSamples[0], tt.sample)) {
				t.Errorf("error samples %q, want the first to contain %q", p.ErrorSamples, tt.sample)
			}
		})
	}
}

func TestServerLog(t *testing.T) {
	const key = "kwadmin_Rd5sXLqeThWZUlmD78i4qYBfpg3dVGn4rgxa39yiY1"
	out := "\n  Keyward created the root admin key for account \"default\".\n" +
		"  It is shown only this once. Store it now:\n\n      " + key + "\n\n" +
		"  Use it as the bearer of management requests, e.g.\n      export KEYWARD_TOKEN=" + key + "\n\n" +
		"time=2026-11-23T20:00:00Z level=WARN msg=\"verify: could not record key use\" err=busy\n" +
		"a line without its end"
	l := newServerLog(20)
	// In small pieces, as a pipe may deliver it.
	for chunk := range slices.Chunk([]byte(out), 7) {
		l.Write(chunk)
	}
	if got := l.adminKey(); got != key {
		t.Errorf("admin key %q, want %q", got, key)
	}
	want := []string{`time=2026-11-23T20:00:00Z level=WARN msg="verify: could not record key use" err=busy`}
	if got := l.tail(); !slices.Equal(got, want) {
		t.Errorf("tail %q, want %q", got, want)
	}
	if got := l.count(); got != 1 {
		t.Errorf("count %d, want 1", got)
	}
}

func TestIsValid(t *testing.T) {
	tests := []struct {
		answer   string
		wantCode bool
		want     bool
	}{
		{`{"valid":true}`, false, true},
		{`{"valid":true}`, true, false},
		{`{"valid":true,"code":"VALID"}`, true, true},
		{`{"valid":false,"code":"REVOKED"}`, true, false},
		{`{"valid": true, "code": "VALID"}`, true, false}, // another format fails the run, never passes it
		{``, false, false},
	}
	for _, tt := range tests {
		if got := isValid([]byte(tt.answer), tt.wantCode); got != tt.want {
			t.Errorf("isValid(%q, %v) = %v, want %v", tt.answer, tt.wantCode, got, tt.want)
		}
	}
}

func TestRedactURLs(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"no URL", []string{"--cache-ttl=10m", "--log-level", "warn"}, []string{"--cache-ttl=10m", "--log-level", "warn"}},
		{"flag=URL", []string{"--database=postgres://kw:s3cret@db:5432/kw?sslmode=disable"}, []string{"--database=postgres://kw:xxxxx@db:5432/kw?sslmode=disable"}},
		{"URL as its own argument", []string{"--database", "postgres://kw:s3cret@db/kw"}, []string{"--database", "postgres://kw:xxxxx@db/kw"}},
		{"URL without a password", []string{"--database=postgres://kw@db/kw"}, []string{"--database=postgres://kw@db/kw"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactURLs(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("redactURLs(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "defaults"},
		{name: "server flags", args: []string{"-server-flag", "--cache-ttl=10m", "-server-flag=--cache-size=5"}},
		{name: "token without url", args: []string{"-token", "kwadmin_x"}, wantErr: "-token needs -url"},
		{name: "every problem at once", args: []string{"-keys", "0", "-c", "0", "-d", "0s"}, wantErr: "-keys must be at least 1; -c must be at least 1; -d must be positive"},
		{name: "url with server flags", args: []string{"-url", "http://127.0.0.1:1", "-token", "t", "-server-flag", "--x"}, wantErr: "-url uses a running one"},
		{name: "nginx", args: []string{"-nginx", "-nginx-workers", "auto"}},
		{name: "nginx with oauth, bad workers", args: []string{"-nginx", "-oauth", "-nginx-workers", "0"}, wantErr: "-nginx excludes -oauth and -accuracy; -nginx-workers must be"},
		{name: "proxy", args: []string{"-proxy", "-keys", "10"}},
		{name: "proxy with oauth", args: []string{"-proxy", "-oauth"}, wantErr: "-proxy starts its own"},
		{name: "proxy with nginx", args: []string{"-proxy", "-nginx"}, wantErr: "-proxy starts its own Keyward, proxy and upstream, and measures only them: not with -url, -oauth, -bare-in-process, -accuracy or -nginx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			o, err := parseFlags(tt.args, &stderr)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("parseFlags(%q) error %v, want one containing %q", tt.args, err, tt.wantErr)
			case err == nil && o.deadline <= 0:
				t.Errorf("deadline %v, want a positive default", o.deadline)
			}
		})
	}
}

// TestPostingTarget checks a target set up for an OAuth endpoint: it sends its content type
// and Authorization, and counts an answer as a success only when it holds what is wanted.
func TestPostingTarget(t *testing.T) {
	var gotType, gotAuth string
	active := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotType, gotAuth = r.Header.Get("Content-Type"), r.Header.Get("Authorization")
		fmt.Fprintf(w, `{"active":%t}`, active)
	}))
	defer srv.Close()
	tg := newTarget("keyward", srv.URL, true, 1, time.Second).
		posting("application/x-www-form-urlencoded", "Basic abc", "an active token", `"active":true`)
	defer tg.close()
	buf := make([]byte, 1024)
	if o, detail := tg.verify(t.Context(), []byte("token=x"), buf); o != outcomeValid {
		t.Errorf("an active answer: outcome %v (%s), want a success", o, detail)
	}
	if gotType != "application/x-www-form-urlencoded" || gotAuth != "Basic abc" {
		t.Errorf("sent Content-Type %q, Authorization %q", gotType, gotAuth)
	}
	active = false
	if o, detail := tg.verify(t.Context(), []byte("token=x"), buf); o != outcomeNotValid || !strings.Contains(detail, "an active token") {
		t.Errorf("an inactive answer: outcome %v (%s), want not valid", o, detail)
	}
}

// TestBearerTarget checks a target set up for a front door: a GET without a body, the key as
// Authorization: Bearer.
func TestBearerTarget(t *testing.T) {
	var got *http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		io.WriteString(w, `{"valid":true}`)
	}))
	defer srv.Close()
	tg := newTarget("nginx", srv.URL+"/v1/orders", false, 1, time.Second).bearerGET("the upstream's answer", `"valid":true`)
	defer tg.close()
	if o, detail := tg.verify(t.Context(), []byte("bench_key"), make([]byte, 1024)); o != outcomeValid {
		t.Fatalf("outcome %v (%s), want a success", o, detail)
	}
	if got.Method != http.MethodGet || got.ContentLength != 0 || got.Header.Get("Authorization") != "Bearer bench_key" || got.Header.Get("Content-Type") != "" {
		t.Errorf("sent %s with %d body bytes, Authorization %q, Content-Type %q; want GET, none, Bearer bench_key, none",
			got.Method, got.ContentLength, got.Header.Get("Authorization"), got.Header.Get("Content-Type"))
	}
}

// TestNginxMode runs the -nginx mode's nginx (when installed) in front of a stand-in for
// Keyward's /gateway/nginx, which knows one key, and the bare upstream: without auth every
// request goes through; with auth only the known key's, and the CPU of every group is read.
func TestNginxMode(t *testing.T) {
	if _, err := findNginx(""); err != nil {
		t.Skip(err)
	}
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/gateway/nginx" || r.Header.Get("X-Original-URI") != nginxPath || r.Header.Get("Authorization") != "Bearer good" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("X-Keyward-Key-Id", "k1")
	}))
	defer gateway.Close()
	bs, err := startBare(false)
	if err != nil {
		t.Fatal(err)
	}
	defer bs.stop()
	upstream, _ := url.Parse(bs.url)
	keyward, _ := url.Parse(gateway.URL)
	ng, err := startNginx(t.Context(), "", "1", keyward.Host, upstream.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := ng.stop(); err != nil {
			t.Error(err)
		}
	}()
	if pids := ng.pids(); len(pids) < 2 {
		t.Errorf("nginx pids %v, want the master and a worker", pids)
	}
	probe := cpuProbe(0, procGroup{name: "nginx", pids: ng.pids()}, procGroup{name: "upstream", pids: []int{bs.pid}})
	for _, tc := range []struct {
		base, key string
		valid     bool
	}{
		{ng.plainURL, "anything", true},
		{ng.auth, "good", true},
		{ng.auth, "bad", false},
	} {
		tg := newTarget("t", tc.base+nginxPath, false, 2, 2*time.Second).bearerGET("the upstream's answer", `"valid":true`)
		p := load(t.Context(), tg, [][]byte{[]byte(tc.key)}, 2, 50*time.Millisecond, 200*time.Millisecond, probe)
		tg.close()
		if p.Requests == 0 || (p.failures() == 0) != tc.valid {
			t.Errorf("%s with key %q: %d requests, %d failures (%v); want some, all valid %t", tc.base, tc.key, p.Requests, p.failures(), p.ErrorSamples, tc.valid)
		}
		if tc.valid && (p.CPU == nil || len(p.CPU.Processes) != 2) {
			t.Errorf("cpu %+v, want nginx's and the upstream's", p.CPU)
		}
	}
}
