package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is everything a run measured; -json prints it as is.
type report struct {
	Machine  machine  `json:"machine"`
	Settings settings `json:"settings"`
	Server   server   `json:"server"`
	Seed     *seeding `json:"seed,omitempty"`
	Cold     *phase   `json:"cold,omitempty"`
	// ColdBare is the bare server sent the same requests as Cold, as many at a time: what
	// a request costs the client, loopback and scheduling alone, for Cold to be read against.
	ColdBare *phase `json:"cold_bare,omitempty"`
	// The warm verification rounds, at the top level of the JSON.
	comparison
	// OAuth holds token issuance and introspection, compared the same way, with -oauth.
	OAuth []*comparison `json:"oauth,omitempty"`
	// FrontDoor holds nginx with Keyward (as "keyward") against nginx alone (as "bare"),
	// with -nginx.
	FrontDoor *comparison `json:"front_door,omitempty"`
	// Soak is the long run of -soak.
	Soak     *soakResult `json:"soak,omitempty"`
	Failures []string    `json:"failures"`
	Passed   bool        `json:"passed"`
}

// comparison is one endpoint of Keyward driven in rounds alternately with the bare server.
type comparison struct {
	// Endpoint is what Keyward was sent, as "POST /v1/keys/verify".
	Endpoint string `json:"endpoint"`
	// Baseline and Subject name the two sides when they are not the bare server and
	// Keyward (-nginx: "nginx" and "nginx+keyward").
	Baseline string   `json:"baseline,omitempty"`
	Subject  string   `json:"subject,omitempty"`
	Rounds   []round  `json:"rounds"`
	Bare     *summary `json:"bare,omitempty"`
	Keyward  *summary `json:"keyward,omitempty"`
	// ThroughputRatio is Keyward's median requests/s over the bare server's.
	ThroughputRatio float64 `json:"throughput_ratio_keyward_over_bare,omitempty"`
	// P99Ratio is Keyward's median p99 latency over the bare server's.
	P99Ratio float64 `json:"p99_ratio_keyward_over_bare,omitempty"`
	// CPURatio is Keyward's median server CPU per request over the bare server's.
	CPURatio float64 `json:"server_cpu_per_request_ratio_keyward_over_bare,omitempty"`
}

type machine struct {
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	OS         string `json:"goos"`
	Arch       string `json:"goarch"`
	CPUModel   string `json:"cpu_model,omitempty"`
	GoVersion  string `json:"go_version"`
}

type settings struct {
	Keys            int      `json:"keys"`
	ColdKeys        int      `json:"cold_keys"`
	WarmKeys        int      `json:"warm_keys"`
	Connections     int      `json:"connections"`
	DurationSeconds float64  `json:"duration_seconds"`
	WarmupSeconds   float64  `json:"warmup_seconds"`
	Rounds          int      `json:"rounds"`
	SeedConcurrency int      `json:"seed_concurrency"`
	ColdConcurrency int      `json:"cold_concurrency"`
	TimeoutSeconds  float64  `json:"request_timeout_seconds"`
	DeadlineSeconds float64  `json:"deadline_seconds"`
	VerifyBodyBytes int      `json:"verify_body_bytes,omitempty"`
	ServerFlags     []string `json:"server_flags,omitempty"`
	// KeysFile is where the keys were read from, when they were not created by the run.
	KeysFile string `json:"keys_file,omitempty"`
	// BareInProcess is true when the bare server ran inside the load generator.
	BareInProcess bool `json:"bare_in_process"`
	// NginxWorkers is nginx's worker_processes, with -nginx.
	NginxWorkers string `json:"nginx_workers,omitempty"`
	// Proxy is true when the rounds compared the proxies (-proxy).
	Proxy bool `json:"proxy"`
}

type server struct {
	// Started is true when the harness ran Keyward itself, false with -url.
	Started bool   `json:"started"`
	URL     string `json:"url"`
	// LogLines counts the lines Keyward wrote at --log-level warn (its first-start banner
	// left out); LogTail holds the last of them.
	LogLines int      `json:"log_lines"`
	LogTail  []string `json:"log_tail,omitempty"`
}

// round is one baseline phase and the Keyward phase after it.
type round struct {
	Bare    *phase `json:"bare,omitempty"`
	Keyward *phase `json:"keyward,omitempty"`
}

// summary is the median over the rounds of each number (Max is the largest of all).
type summary struct {
	Rounds    int     `json:"rounds"`
	PerSecond float64 `json:"requests_per_second"`
	Latency   latency `json:"latency"`
	Failures  uint64  `json:"failures"`
	// ServerCPUPerRequest is in microseconds; 0 when it could not be read.
	ServerCPUPerRequest float64 `json:"server_cpu_us_per_request,omitempty"`
}

func newReport(o options) *report {
	r := &report{
		Machine: describeMachine(),
		Settings: settings{
			Keys:            o.keys,
			ColdKeys:        o.coldKeys,
			WarmKeys:        o.warmKeys,
			Connections:     o.conc,
			DurationSeconds: o.duration.Seconds(),
			WarmupSeconds:   o.warmup.Seconds(),
			Rounds:          o.rounds,
			SeedConcurrency: o.seedConc,
			ColdConcurrency: o.coldConc,
			TimeoutSeconds:  o.reqTimeout.Seconds(),
			DeadlineSeconds: o.deadline.Seconds(),
			ServerFlags:     redactURLs(append([]string{"--log-level", "warn"}, o.keywardFlags()...)),
			KeysFile:        o.keysFile,
			Proxy:           o.proxy,
		},
		Server:   server{Started: o.url == "", URL: o.url},
		Failures: []string{},
	}
	if o.url != "" {
		r.Settings.ServerFlags = nil
	}
	return r
}

func describeMachine() machine {
	return machine{
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		CPUModel:   cpuModel(),
		GoVersion:  runtime.Version(),
	}
}

// cpuModel is the first "model name" in /proc/cpuinfo, or "" where there is none.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if name, value, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// check records a failure when a phase had failed requests or none at all.
func (r *report) check(name string, p phase) {
	switch {
	case p.Requests == 0:
		r.Failures = append(r.Failures, name+": no request was measured")
	case p.failures() > 0:
		msg := fmt.Sprintf("%s: %d of %d requests failed (no answer %d, non-200 %d, not VALID %d)",
			name, p.failures(), p.Requests, p.Errors, p.Non200, p.NotValid)
		if len(p.ErrorSamples) > 0 {
			msg += "; first: " + p.ErrorSamples[0]
		}
		r.Failures = append(r.Failures, msg)
	}
}

// summarise takes the medians over the rounds and the ratios between them.
func (r *report) summarise() {
	r.comparison.summarise()
	for _, c := range r.OAuth {
		c.summarise()
	}
	if r.FrontDoor != nil {
		r.FrontDoor.summarise()
	}
}

func (r *comparison) summarise() {
	var bare, kw []phase
	for _, rd := range r.Rounds {
		if rd.Bare != nil && rd.Keyward != nil {
			bare = append(bare, *rd.Bare)
			kw = append(kw, *rd.Keyward)
		}
	}
	if len(bare) == 0 {
		return
	}
	r.Bare, r.Keyward = summarise(bare), summarise(kw)
	if r.Bare.PerSecond > 0 {
		r.ThroughputRatio = r.Keyward.PerSecond / r.Bare.PerSecond
	}
	if r.Bare.Latency.P99 > 0 {
		r.P99Ratio = float64(r.Keyward.Latency.P99) / float64(r.Bare.Latency.P99)
	}
	if r.Bare.ServerCPUPerRequest > 0 {
		r.CPURatio = r.Keyward.ServerCPUPerRequest / r.Bare.ServerCPUPerRequest
	}
}

func summarise(ps []phase) *summary {
	s := &summary{Rounds: len(ps)}
	pick := func(f func(phase) float64) float64 {
		v := make([]float64, len(ps))
		for i, p := range ps {
			v[i] = f(p)
		}
		return median(v)
	}
	s.PerSecond = pick(func(p phase) float64 { return p.PerSecond })
	s.ServerCPUPerRequest = pick(func(p phase) float64 { return p.ServerCPUPerRequest })
	dur := func(f func(latency) time.Duration) time.Duration {
		return time.Duration(pick(func(p phase) float64 { return float64(f(p.Latency)) }))
	}
	s.Latency = latency{
		P50:  dur(func(l latency) time.Duration { return l.P50 }),
		P99:  dur(func(l latency) time.Duration { return l.P99 }),
		P999: dur(func(l latency) time.Duration { return l.P999 }),
		Mean: dur(func(l latency) time.Duration { return l.Mean }),
	}
	for _, p := range ps {
		s.Latency.Max = max(s.Latency.Max, p.Latency.Max)
		s.Failures += p.failures()
	}
	return s
}

// median of v; the mean of the middle two for an even count.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// fmtDur prints a latency with three significant digits.
func fmtDur(d time.Duration) string {
	us := float64(d) / 1e3
	switch {
	case us < 10:
		return fmt.Sprintf("%.2fµs", us)
	case us < 100:
		return fmt.Sprintf("%.1fµs", us)
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	case us < 10_000:
		return fmt.Sprintf("%.2fms", us/1e3)
	case us < 100_000:
		return fmt.Sprintf("%.1fms", us/1e3)
	case us < 1_000_000:
		return fmt.Sprintf("%.0fms", us/1e3)
	}
	return fmt.Sprintf("%.2fs", us/1e6)
}

func fmtCPU(c *cpuUse) string {
	if c == nil {
		return "-"
	}
	f := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.2f", *v)
	}
	if len(c.Processes) > 0 {
		s := fmt.Sprintf("load %.2f", c.LoadProcess)
		if c.Server != nil {
			s += fmt.Sprintf(", server %.2f", *c.Server)
		}
		for _, p := range c.Processes {
			s += fmt.Sprintf(", %s %.2f", p.Name, p.Cores)
		}
		return s + ", others " + f(c.Others)
	}
	return fmt.Sprintf("%.2f / %s / %s", c.LoadProcess, f(c.Server), f(c.Others))
}

// fmtMicros prints a server's CPU per request, or - when it could not be read.
func fmtMicros(us float64) string {
	if us <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f", us)
}

// writeText prints the report for people.
func writeText(w io.Writer, r *report) {
	m := r.Machine
	fmt.Fprintln(w, "Keyward load benchmark")
	model := m.CPUModel
	if model == "" {
		model = "CPU model unknown"
	}
	fmt.Fprintf(w, "machine   %d CPUs (GOMAXPROCS %d), %s/%s, %s, %s\n", m.CPUs, m.GOMAXPROCS, m.OS, m.Arch, model, m.GoVersion)
	switch {
	case r.Server.Started && r.Server.URL == "":
		fmt.Fprintf(w, "server    keyward serve did not start, flags %s\n", strings.Join(r.Settings.ServerFlags, " "))
	case r.Server.Started:
		fmt.Fprintf(w, "server    keyward serve started by the harness at %s, flags %s\n", r.Server.URL, strings.Join(r.Settings.ServerFlags, " "))
	default:
		fmt.Fprintf(w, "server    given: %s\n", r.Server.URL)
	}
	s := r.Settings
	subsets := ""
	if s.ColdKeys != s.Keys || s.WarmKeys != s.Keys {
		subsets = fmt.Sprintf(" (first %d verified cold, first %d warm)", s.ColdKeys, s.WarmKeys)
	}
	fmt.Fprintf(w, "settings  %d keys%s, %d connections, %gs per phase after %gs warm-up, %d round(s), request timeout %gs, verify body %d bytes\n",
		s.Keys, subsets, s.Connections, s.DurationSeconds, s.WarmupSeconds, s.Rounds, s.TimeoutSeconds, s.VerifyBodyBytes)
	where := "in a process of its own, as Keyward is"
	if s.BareInProcess {
		where = "inside the load generator's process"
	}
	switch {
	case r.FrontDoor != nil:
		fmt.Fprintf(w, "upstream  a bare net/http handler answering {\"valid\":true}, %s, behind nginx\n", where)
	case s.Proxy:
		fmt.Fprintln(w, "baseline  a bare httputil.ReverseProxy, in a process of its own as Keyward's keyed proxy is, in front of the same upstream")
		fmt.Fprintln(w, "upstream  a bare net/http handler answering {\"valid\":true}, in a third process")
	default:
		fmt.Fprintf(w, "baseline  a bare net/http handler answering {\"valid\":true}, %s\n", where)
	}
	fmt.Fprintln(w)

	if s.KeysFile != "" {
		fmt.Fprintf(w, "key creation  none: %d keys read from %s\n", s.Keys, s.KeysFile)
	}
	if r.Seed != nil {
		fmt.Fprintf(w, "key creation  %d keys in %.2fs, %d at a time: %.0f keys/s\n", r.Seed.Keys, r.Seed.Seconds, r.Seed.Concurrency, r.Seed.PerSecond)
	}
	if c := r.Cold; c != nil {
		l := c.Latency
		fmt.Fprintf(w, "cold verify   %d first verifications (cache misses), %d at a time, %.0f/s: p50 %s  p99 %s  p99.9 %s  max %s  (%d failed)\n",
			c.Requests, s.ColdConcurrency, c.PerSecond, fmtDur(l.P50), fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max), c.failures())
	}
	if c := r.ColdBare; c != nil {
		l := c.Latency
		fmt.Fprintf(w, "  the same against bare, %d at a time, %.0f/s: p50 %s  p99 %s  p99.9 %s  max %s  (%d failed)\n",
			s.ColdConcurrency, c.PerSecond, fmtDur(l.P50), fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max), c.failures())
	}
	if len(r.Rounds) > 0 {
		what := "warm verify"
		if s.Proxy {
			what = "proxied    "
		}
		fmt.Fprintf(w, "\n%s   %s, %d kept-alive HTTP/1.1 connections, cycling through the keys\n", what, r.Endpoint, s.Connections)
		writeComparison(w, &r.comparison)
	}
	for _, c := range r.OAuth {
		fmt.Fprintf(w, "\n%s, %d kept-alive HTTP/1.1 connections, cycling through the keys\n", c.Endpoint, s.Connections)
		writeComparison(w, c)
	}
	if c := r.FrontDoor; c != nil {
		fmt.Fprintf(w, "\nfront door    %s (worker_processes %s) to the bare server (the upstream), each key as Authorization: Bearer, %d kept-alive HTTP/1.1 connections, cycling through the keys; nginx+keyward asks /gateway/nginx first\n",
			c.Endpoint, s.NginxWorkers, s.Connections)
		writeComparison(w, c)
	}
	if r.Soak != nil {
		writeSoak(w, r.Soak)
	}
	if r.Server.Started && r.Server.URL != "" {
		fmt.Fprintf(w, "\nserver log    %d lines at warn or above\n", r.Server.LogLines)
		for _, l := range r.Server.LogTail {
			fmt.Fprintf(w, "  | %s\n", l)
		}
	}
	switch {
	case r.Passed && r.FrontDoor != nil:
		fmt.Fprintln(w, "result        PASS: every verification answered 200 VALID, every request through nginx 200 from the upstream")
	case r.Passed && r.Soak != nil:
		fmt.Fprintln(w, "result        PASS: every verification answered 200 VALID, every churned key created, verified and revoked, no growth past the soak's bounds")
	case r.Passed && s.Proxy:
		fmt.Fprintln(w, "result        PASS: every verification answered 200 VALID, every proxied request 200 with the upstream's answer")
	case r.Passed:
		fmt.Fprintln(w, "result        PASS: every verification answered 200 VALID")
	default:
		fmt.Fprintln(w, "result        FAIL")
		for _, f := range r.Failures {
			fmt.Fprintf(w, "  - %s\n", f)
		}
	}
}

// writeComparison prints a comparison's rounds, medians and ratios. The server µs/req column
// is there when a server process's CPU was read (not with -nginx, whose processes are all
// named groups), and the CPU column names each process when some were grouped (-nginx,
// -proxy).
func writeComparison(w io.Writer, r *comparison) {
	base, subject := "bare", "keyward"
	if r.Baseline != "" {
		base, subject = r.Baseline, r.Subject
	}
	perRequest, grouped := false, false
	for _, rd := range r.Rounds {
		for _, p := range []*phase{rd.Bare, rd.Keyward} {
			if p == nil {
				continue
			}
			perRequest = perRequest || p.ServerCPUPerRequest > 0
			grouped = grouped || (p.CPU != nil && len(p.CPU.Processes) > 0)
		}
	}
	header := "round\ttarget\treq/s\tp50\tp99\tp99.9\tmax\trequests\tfailed\t"
	if perRequest {
		header += "server µs/req\t"
	}
	if grouped {
		header += "cpu cores"
	} else {
		header += "cpu cores: load process / server / others"
	}
	// micros is the server µs/req cell and its tab, when there is the column.
	micros := func(us float64) string {
		if !perRequest {
			return ""
		}
		return fmtMicros(us) + "\t"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	row := func(name, target string, p *phase) {
		if p == nil {
			return
		}
		l := p.Latency
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t%s%s\n", name, target, p.PerSecond,
			fmtDur(l.P50), fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max), p.Requests, p.failures(), micros(p.ServerCPUPerRequest), fmtCPU(p.CPU))
	}
	for i, rd := range r.Rounds {
		row(fmt.Sprint(i+1), base, rd.Bare)
		row(fmt.Sprint(i+1), subject, rd.Keyward)
	}
	for _, m := range []struct {
		target string
		s      *summary
	}{{base, r.Bare}, {subject, r.Keyward}} {
		if m.s == nil {
			continue
		}
		l := m.s.Latency
		fmt.Fprintf(tw, "median\t%s\t%.0f\t%s\t%s\t%s\t%s\t\t%d\t%s\n", m.target, m.s.PerSecond,
			fmtDur(l.P50), fmtDur(l.P99), fmtDur(l.P999), fmtDur(l.Max), m.s.Failures, micros(m.s.ServerCPUPerRequest))
	}
	tw.Flush()
	if r.Bare != nil {
		fmt.Fprintf(w, "\nthroughput ratio %s/%s = %.3f\n", subject, base, r.ThroughputRatio)
		fmt.Fprintf(w, "p99 ratio %s/%s = %.3f\n", subject, base, r.P99Ratio)
		if r.CPURatio > 0 {
			fmt.Fprintf(w, "server CPU per request ratio %s/%s = %.3f\n", subject, base, r.CPURatio)
		}
	}
}
