// Command load measures Keyward: how fast it creates keys, how long a first (uncached)
// verification takes, and the throughput and latency of cached verifications over kept-alive
// HTTP/1.1 connections, next to a bare net/http server driven the same way in the same run.
// With -nginx it compares instead nginx with auth_request to Keyward against nginx alone, and
// with -proxy Keyward's keyed reverse proxy against a bare httputil.ReverseProxy, each time
// in front of the same upstream. With -soak it drives Keyward alone for a long stretch and
// watches its memory and goroutines for growth.
//
// It starts its own `keyward serve` on 127.0.0.1 with a temporary data directory (or uses
// the server given by -url and -token), creates the keys through the API, and stops the
// server at the end, also on error or Ctrl-C. bench/README.md explains every number.
//
//	go run ./bench/load -keys 1000 -c 16 -d 10s -rounds 3
//	go run ./bench/load -json -server-flag --cache-ttl=10m
//	go run ./bench/load -nginx -c 16 -d 10s -rounds 3
//	go run ./bench/load -proxy -keys 1000 -c 16 -d 10s -rounds 3
//	go run ./bench/load -soak 10m -c 4
//	go run ./bench/load -accuracy -nodes 3 -rps 60 -d 10s -server-flag=--database=… -server-flag=--redis=…
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if code, ok := runChild(); ok {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the command's flags.
type options struct {
	url         string
	token       string
	keywardBin  string
	serverFlags []string
	keys        int
	coldKeys    int
	warmKeys    int
	conc        int
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	seedConc    int
	coldConc    int
	reqTimeout  time.Duration
	deadline    time.Duration
	json        bool
	bareHere    bool
	keysFile    string
	oauth       bool
	proxy       bool
	fileKeys    []string // the keys read from keysFile
	accuracy    bool
	nodes       int
	rps         float64
	// nginx: compare nginx with auth_request to Keyward against nginx alone (nginx.go).
	nginx        bool
	nginxBin     string
	nginxWorkers string
	// soak: drive Keyward alone for this long and watch its memory (soak.go).
	soak      time.Duration
	soakEvery time.Duration
	soakChurn time.Duration
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: go run ./bench/load [flags]

Starts Keyward on 127.0.0.1 (or uses -url), seeds keys through the API, measures a first
verification of each key, then drives POST /v1/keys/verify and a bare net/http server in turn
and compares them (with -nginx: nginx with and without auth_request to Keyward; with -proxy:
Keyward's keyed proxy and a bare httputil.ReverseProxy). See bench/README.md.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.url, "url", "", "use the Keyward server at this base URL instead of starting one (needs -token)")
	fs.StringVar(&o.token, "token", "", "admin key for -url (default: $KEYWARD_TOKEN, which keeps it out of the process list)")
	fs.StringVar(&o.keywardBin, "keyward-bin", "", "run this keyward binary instead of building ./cmd/keyward")
	fs.Func("server-flag", "pass `arg` to keyward serve after the harness's own flags, so it wins (repeatable), e.g. -server-flag=--cache-ttl=10m", func(s string) error {
		o.serverFlags = append(o.serverFlags, s)
		return nil
	})
	fs.IntVar(&o.keys, "keys", 1000, "keys to create and verify")
	fs.StringVar(&o.keysFile, "keys-file", "", "verify the keys in this file, one per line (keyward admin seed-keys --secrets-out writes one), instead of creating keys")
	fs.IntVar(&o.coldKeys, "cold-keys", 0, "verify only the first this many keys once in the cold phase (default: all)")
	fs.IntVar(&o.warmKeys, "warm-keys", 0, "cycle through only the first this many keys in the warm phases (default: all)")
	fs.IntVar(&o.conc, "c", 32, "concurrent connections for the warm phases, one request at a time each")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "measured duration of each warm phase")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up before each warm phase")
	fs.IntVar(&o.rounds, "rounds", 1, "baseline-then-keyward rounds; medians are reported")
	fs.IntVar(&o.seedConc, "seed-c", 8, "keys created at a time")
	fs.IntVar(&o.coldConc, "cold-c", 1, "first verifications at a time (1 measures a miss without queueing)")
	fs.DurationVar(&o.reqTimeout, "timeout", 5*time.Second, "timeout of every request")
	fs.DurationVar(&o.deadline, "deadline", 0, "give up after this long (default: enough for the run at 50 keys/s)")
	fs.BoolVar(&o.oauth, "oauth", false, "also compare OAuth token issuance (POST /oauth/token) and introspection (POST /oauth/introspect) with the bare server")
	fs.BoolVar(&o.proxy, "proxy", false, "instead of comparing verifications, compare Keyward's keyed proxy with a bare httputil.ReverseProxy, both in front of one upstream, with the keys as bearers")
	fs.BoolVar(&o.bareHere, "bare-in-process", false, "run the bare server inside the load generator instead of in a process of its own")
	fs.BoolVar(&o.json, "json", false, "print a JSON summary on stdout (the text report goes to stderr)")
	fs.BoolVar(&o.accuracy, "accuracy", false, "instead of the speed comparison, verify one standard-tier key at -rps for -d over -nodes nodes and compare what got through with what the limit promises")
	fs.IntVar(&o.nodes, "nodes", 1, "with -accuracy: Keyward processes to start (more than one need -server-flag=--database=… and --redis=…, and the same --server-secret)")
	fs.Float64Var(&o.rps, "rps", 60, "with -accuracy: verifications a second")
	fs.BoolVar(&o.nginx, "nginx", false, "instead of the bare comparison, drive nginx with auth_request to Keyward's /gateway/nginx and the same nginx without auth, to the same upstream, alternately")
	fs.StringVar(&o.nginxBin, "nginx-bin", "", "with -nginx: the nginx binary (default: nginx on PATH, or /usr/sbin/nginx)")
	fs.StringVar(&o.nginxWorkers, "nginx-workers", "1", "with -nginx: nginx's worker_processes, a number or auto")
	fs.DurationVar(&o.soak, "soak", 0, "instead of the comparison, drive Keyward alone for this long (e.g. 10m), churning keys beside the verifications, and report whether its live heap or goroutines grew")
	fs.DurationVar(&o.soakEvery, "soak-every", soakDefaultInterval, "with -soak: how often to sample the server's memory and goroutines")
	fs.DurationVar(&o.soakChurn, "soak-churn-every", soakDefaultChurn, "with -soak: how often a key is created, verified and revoked beside the verifications")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, usageError(fs, "unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.url != "" && o.token == "" {
		o.token = os.Getenv("KEYWARD_TOKEN")
	}
	var problems []string
	if o.keysFile != "" {
		keysSet := false
		fs.Visit(func(f *flag.Flag) { keysSet = keysSet || f.Name == "keys" })
		if keysSet {
			problems = append(problems, "-keys and -keys-file exclude each other: the file says how many keys there are")
		} else if keys, err := readKeys(o.keysFile); err != nil {
			problems = append(problems, err.Error())
		} else {
			o.fileKeys, o.keys = keys, len(keys)
		}
	}
	if o.oauth && o.keysFile != "" {
		problems = append(problems, "-oauth needs the keys' ids, which -keys-file does not hold")
	}
	if o.proxy && (o.url != "" || o.oauth || o.bareHere || o.accuracy || o.nginx) {
		problems = append(problems, "-proxy starts its own Keyward, proxy and upstream, and measures only them: not with -url, -oauth, -bare-in-process, -accuracy or -nginx")
	}
	if o.url == "" && o.token != "" {
		problems = append(problems, "-token needs -url")
	}
	if o.url != "" && o.token == "" && o.keysFile == "" {
		problems = append(problems, "-url needs -token or $KEYWARD_TOKEN (or -keys-file, which needs no credential)")
	}
	if o.nginx && (o.oauth || o.accuracy) {
		problems = append(problems, "-nginx excludes -oauth and -accuracy")
	}
	if o.soak > 0 && (o.url != "" || o.proxy || o.nginx || o.accuracy || o.oauth) {
		problems = append(problems, "-soak starts its own Keyward, with a metrics listener and pprof: not with -url, -proxy, -nginx, -accuracy or -oauth")
	}
	if o.soak < 0 || o.soakEvery <= 0 || o.soakChurn <= 0 {
		problems = append(problems, "-soak must not be negative, -soak-every and -soak-churn-every must be positive")
	}
	if o.nginxWorkers != "auto" {
		if n, err := strconv.Atoi(o.nginxWorkers); err != nil || n < 1 {
			problems = append(problems, "-nginx-workers must be a number of at least 1, or auto")
		}
	}
	if o.url != "" && (o.keywardBin != "" || len(o.serverFlags) > 0) {
		problems = append(problems, "-keyward-bin and -server-flag start a server; -url uses a running one")
	}
	for _, c := range []struct {
		name string
		bad  bool
	}{
		{"-keys must be at least 1", o.keys < 1},
		{"-cold-keys must be between 0 and -keys", o.coldKeys < 0 || o.coldKeys > o.keys},
		{"-warm-keys must be between 0 and -keys", o.warmKeys < 0 || o.warmKeys > o.keys},
		{"-c must be at least 1", o.conc < 1},
		{"-seed-c must be at least 1", o.seedConc < 1},
		{"-cold-c must be at least 1", o.coldConc < 1},
		{"-rounds must be at least 1", o.rounds < 1},
		{"-d must be positive", o.duration <= 0},
		{"-nodes must be at least 1", o.nodes < 1},
		{"-rps must be between 1 and 10000", o.rps < 1 || o.rps > 10000},
		{"-warmup must not be negative", o.warmup < 0},
		{"-timeout must be positive", o.reqTimeout <= 0},
		{"-deadline must not be negative", o.deadline < 0},
	} {
		if c.bad {
			problems = append(problems, c.name)
		}
	}
	if len(problems) > 0 {
		return o, usageError(fs, "%s", strings.Join(problems, "; "))
	}
	if o.coldKeys == 0 {
		o.coldKeys = o.keys
	}
	if o.warmKeys == 0 {
		o.warmKeys = o.keys
	}
	if o.deadline == 0 {
		// Generous: seeding at 50 keys/s, first verifications at 100/s per worker, and each
		// warm phase with 15 s to spare.
		o.deadline = 5*time.Minute +
			time.Duration(o.keys)*20*time.Millisecond +
			time.Duration(o.coldKeys)*10*time.Millisecond/time.Duration(o.coldConc) +
			time.Duration(2*o.rounds)*(o.warmup+o.duration+15*time.Second) +
			o.soak + o.soak/10
	}
	return o, nil
}

func usageError(fs *flag.FlagSet, format string, a ...any) error {
	err := fmt.Errorf(format, a...)
	fmt.Fprintln(fs.Output(), "load:", err)
	return err
}

// run is the whole command; it returns the exit code: 0 when every verification was VALID,
// 1 when the run failed, 2 for bad flags.
func run(args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		if sig, ok := <-signals; ok {
			fmt.Fprintf(stderr, "\n%v: stopping (again to quit at once) …\n", sig)
			signal.Stop(signals) // a second Ctrl-C kills this program the default way
			cancel(fmt.Errorf("interrupted by %v", sig))
		}
	}()
	defer func() {
		signal.Stop(signals)
		close(signals)
	}()
	ctx, stopDeadline := context.WithTimeoutCause(ctx, o.deadline, fmt.Errorf("the run took longer than -deadline %s", o.deadline))
	defer stopDeadline()

	if o.accuracy {
		res, err := accuracy(ctx, o, stdout, stderr)
		if o.json {
			_ = json.NewEncoder(stdout).Encode(res)
		}
		if err != nil {
			fmt.Fprintln(stderr, "load:", err)
			return 1
		}
		return 0
	}
	rep := newReport(o)
	if err := bench(ctx, o, rep, stderr); err != nil {
		rep.Failures = append(rep.Failures, err.Error())
	}
	rep.Passed = len(rep.Failures) == 0
	if o.json {
		writeText(stderr, rep)
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "load:", err)
			return 1
		}
	} else {
		writeText(stdout, rep)
	}
	if !rep.Passed {
		return 1
	}
	return 0
}

// bench runs the whole measurement, filling rep as it goes so that an interrupted run still
// reports what it measured.
func bench(ctx context.Context, o options, rep *report, progress io.Writer) (err error) {
	baseURL, token, pid := o.url, o.token, 0
	serverFlags, keywardProxy, upstream := o.keywardFlags(), "", (*bareServer)(nil)
	metricsBase := ""
	if o.soak > 0 {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		metricsBase = "http://" + addr
		serverFlags = append([]string{"--metrics-addr", addr, "--pprof"}, serverFlags...)
		rep.Settings.ServerFlags = redactURLs(append([]string{"--log-level", "warn"}, serverFlags...))
	}
	if o.proxy {
		// The upstream first: Keyward's proxy is started pointing at it.
		if upstream, err = startBare(false); err != nil {
			return fmt.Errorf("starting the upstream: %w", err)
		}
		defer upstream.stop()
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		keywardProxy = "http://" + addr + proxiedPath
		serverFlags = append([]string{"--proxy-addr", addr, "--proxy-upstream", origin(upstream.url)}, serverFlags...)
		rep.Settings.ServerFlags = redactURLs(append([]string{"--log-level", "warn"}, serverFlags...))
	}
	if baseURL == "" {
		// With -keys-file the server may be one that started before (its --data in
		// -server-flag) and prints no admin key; none is needed.
		srv, err := startKeyward(ctx, o.keywardBin, serverFlags, o.keysFile == "", progress)
		if err != nil {
			return err
		}
		defer func() {
			fmt.Fprintln(progress, "stopping keyward …")
			if stopErr := srv.stop(); stopErr != nil {
				rep.Failures = append(rep.Failures, stopErr.Error())
			}
			rep.Server.LogLines = srv.log.count()
			rep.Server.LogTail = srv.log.tail()
		}()
		baseURL, token, pid = srv.url, srv.token, srv.pid()
		rep.Server.URL = baseURL
		fmt.Fprintf(progress, "keyward is listening on %s\n", baseURL)
	}

	var bodies [][]byte
	var keys []seededKey
	if o.fileKeys != nil {
		bodies = verifyBodies(o.fileKeys)
	} else {
		fmt.Fprintf(progress, "seeding %d keys, %d at a time …\n", o.keys, o.seedConc)
		var seeded seeding
		keys, seeded, err = seed(ctx, baseURL, token, o.keys, o.seedConc, o.reqTimeout, progress)
		if err != nil {
			return fmt.Errorf("seeding: %w", err)
		}
		rep.Seed = &seeded
		for _, k := range keys {
			bodies = append(bodies, verifyBody(k.secret))
		}
	}
	rep.Settings.VerifyBodyBytes = len(bodies[0])

	kw := newTarget("keyward", strings.TrimSuffix(baseURL, "/")+"/v1/keys/verify", true, max(o.conc, o.coldConc), o.reqTimeout)
	defer kw.close()
	fmt.Fprintf(progress, "verifying %d keys once each, %d at a time …\n", o.coldKeys, o.coldConc)
	if rep.Cold, err = coldPhase(ctx, rep, "cold", kw, bodies[:o.coldKeys], o.coldConc); err != nil {
		return err
	}

	if o.soak > 0 {
		fmt.Fprintf(progress, "soaking for %s on %d connections, sampling every %s …\n", o.soak, o.conc, o.soakEvery)
		res, err := soak(ctx, o, kw, bodies[:o.warmKeys], baseURL, token, metricsBase, progress)
		rep.Soak = res
		if err != nil {
			return fmt.Errorf("soak: %w", err)
		}
		if res.Verdict != "passed" {
			rep.Failures = append(rep.Failures, "soak "+res.Verdict)
		}
		return nil
	}

	if o.nginx {
		if err := benchNginx(ctx, o, rep, baseURL, pid, secrets(bodies, keys, o), progress); err != nil {
			return err
		}
		rep.summarise()
		return nil
	}

	var bs *bareServer
	if o.proxy {
		bs, err = startBareProxy(origin(upstream.url))
	} else {
		bs, err = startBare(o.bareHere)
	}
	if err != nil {
		return fmt.Errorf("starting the bare server: %w", err)
	}
	defer bs.stop()
	rep.Settings.BareInProcess = bs.pid == 0
	bare := newTarget("bare", bs.url, false, max(o.conc, o.coldConc), o.reqTimeout)
	defer bare.close()
	if !o.proxy {
		// The cold phase's floor: the same requests, as many at a time, to a server that
		// does nothing, so that a cold figure can be read as what the miss itself adds.
		fmt.Fprintf(progress, "the same %d requests to bare, %d at a time …\n", o.coldKeys, o.coldConc)
		if rep.ColdBare, err = coldPhase(ctx, rep, "cold bare", bare, bodies[:o.coldKeys], o.coldConc); err != nil {
			return err
		}
	}

	// With -proxy the upstream behind both proxies is one more group of the CPU accounting,
	// beside the proxy measured (the server).
	var groups []procGroup
	if upstream != nil {
		groups = append(groups, procGroup{name: "upstream", pids: []int{upstream.pid}})
	}
	bareProbe, kwProbe := cpuProbe(bs.pid, groups...), cpuProbe(pid, groups...)
	compare := func(c *comparison, kw *target, bodies [][]byte) error {
		for r := range o.rounds {
			c.Rounds = append(c.Rounds, round{})
			rd := &c.Rounds[r]
			for _, side := range []struct {
				t     *target
				probe func() cpuSample
				into  **phase
			}{{bare, bareProbe, &rd.Bare}, {kw, kwProbe, &rd.Keyward}} {
				fmt.Fprintf(progress, "%s round %d/%d: %s, %d connections, %s …\n", c.Endpoint, r+1, o.rounds, side.t.name, o.conc, o.duration)
				p := load(ctx, side.t, bodies, o.conc, o.warmup, o.duration, side.probe)
				side.t.close() // the next phase starts with fresh connections, made during its warm-up
				if ctx.Err() != nil {
					return context.Cause(ctx)
				}
				*side.into = &p
				rep.check(fmt.Sprintf("%s round %d %s", c.Endpoint, r+1, side.t.name), p)
			}
		}
		return nil
	}
	rep.Endpoint = "POST /v1/keys/verify"
	items := bodies[:o.warmKeys]
	if o.proxy {
		rep.Endpoint = "GET " + proxiedPath + " with Authorization: Bearer <key>, through a proxy to the upstream"
		bare.bearerGET(upstreamAnswer, `"valid":true`)
		kw = newTarget("keyward", keywardProxy, false, o.conc, o.reqTimeout).bearerGET(upstreamAnswer, `"valid":true`)
		defer kw.close()
		items = secrets(bodies, keys, o)
	}
	if err := compare(&rep.comparison, kw, items); err != nil {
		return err
	}
	if o.oauth {
		if err := benchOAuth(ctx, o, rep, baseURL, token, keys[:o.warmKeys], bare, compare, progress); err != nil {
			return err
		}
	}
	rep.summarise()
	return nil
}

// coldPhase sends each body once to t, conc at a time, closes t's connections, and checks
// the phase under name. The phase is returned even when ctx ended, with ctx's cause.
func coldPhase(ctx context.Context, rep *report, name string, t *target, bodies [][]byte, conc int) (*phase, error) {
	p := once(ctx, t, bodies, conc)
	t.close()
	if ctx.Err() != nil {
		return &p, context.Cause(ctx)
	}
	rep.check(name, p)
	return &p, nil
}

// keywardFlags are the flags the harness gives keyward serve after its own: with -nginx,
// nginx (on loopback) is a trusted proxy, as docs/integrations.md configures it; then
// -server-flag's, which win.
func (o options) keywardFlags() []string {
	if o.nginx {
		return append([]string{"--trusted-proxies=127.0.0.1"}, o.serverFlags...)
	}
	return o.serverFlags
}

// secrets are the keys the -nginx and -proxy rounds send as bearer tokens: the seeded keys,
// or those of -keys-file, the first -warm-keys of them.
func secrets(bodies [][]byte, keys []seededKey, o options) [][]byte {
	out := make([][]byte, 0, o.warmKeys)
	if o.fileKeys != nil {
		for _, k := range o.fileKeys[:o.warmKeys] {
			out = append(out, []byte(k))
		}
		return out
	}
	for _, k := range keys[:o.warmKeys] {
		out = append(out, []byte(k.secret))
	}
	return out
}

// redactURLs hides the password of any URL in a server flag, such as a database URL.
func redactURLs(flags []string) []string {
	out := make([]string, len(flags))
	for i, f := range flags {
		out[i] = f
		name, value, hasName := strings.Cut(f, "=")
		if !hasName || !strings.HasPrefix(name, "-") {
			name, value = "", f
		}
		if u, err := url.Parse(value); err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				if name != "" {
					out[i] = name + "=" + u.Redacted()
				} else {
					out[i] = u.Redacted()
				}
			}
		}
	}
	return out
}
