package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// latency summarises a phase's latencies.
type latency struct {
	P50, P99, P999, Max, Mean time.Duration
}

// MarshalJSON writes the latencies in microseconds.
func (l latency) MarshalJSON() ([]byte, error) {
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	return json.Marshal(struct {
		P50  float64 `json:"p50_us"`
		P99  float64 `json:"p99_us"`
		P999 float64 `json:"p999_us"`
		Max  float64 `json:"max_us"`
		Mean float64 `json:"mean_us"`
	}{us(l.P50), us(l.P99), us(l.P999), us(l.Max), us(l.Mean)})
}

// phase is what one measured stretch of requests gave.
type phase struct {
	Requests  uint64  `json:"requests"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"requests_per_second"`
	Latency   latency `json:"latency"`
	// Errors are requests that got no answer: refused connections, timeouts, bad bodies.
	Errors uint64 `json:"errors"`
	// Non200 are answers with another status than 200.
	Non200 uint64 `json:"non_200"`
	// NotValid are 200 answers whose verdict was not VALID.
	NotValid uint64 `json:"not_valid"`
	// ErrorSamples are the first few failures, for a reader to see what went wrong.
	ErrorSamples []string `json:"error_samples,omitempty"`
	// CPU is the processor time spent during the measured stretch, when it could be read.
	CPU *cpuUse `json:"cpu,omitempty"`
	// ServerCPUPerRequest is the server process's processor time per request recorded, in
	// microseconds, when it could be read.
	ServerCPUPerRequest float64 `json:"server_cpu_us_per_request,omitempty"`
}

// failures counts the requests that did not get a VALID answer.
func (p phase) failures() uint64 { return p.Errors + p.Non200 + p.NotValid }

// target is an endpoint the harness sends requests to: Keyward's POST /v1/keys/verify (or
// one of its OAuth endpoints), or the bare baseline; or, with bearerGET, an API behind nginx
// (-nginx) or behind a proxy (-proxy).
type target struct {
	name string
	url  string
	// contentType is the requests' Content-Type; auth, when set, their Authorization.
	contentType, auth string
	// want are the byte strings every 200 answer must hold to count as a success.
	want [][]byte
	// wantDesc names what was wanted, for failure samples.
	wantDesc string
	// bearer: each request is a GET without a body whose Authorization is "Bearer " and the
	// item given, as a caller of an API behind a front door (-nginx) or a proxy (-proxy)
	// sends its key; else a POST whose body is the item.
	bearer bool
	client *http.Client
}

// newTarget returns a target whose client keeps up to conns connections alive and bounds
// every request by timeout. Each target has its own transport, so the keep-alive
// connections of one are never used for the other.
func newTarget(name, url string, wantCode bool, conns int, timeout time.Duration) *target {
	tr := &http.Transport{
		Proxy: nil, // loopback: never through a proxy from the environment
		DialContext: (&net.Dialer{
			Timeout:   timeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          2 * conns,
		MaxIdleConnsPerHost:   conns,
		MaxConnsPerHost:       conns,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		DisableCompression:    true,
	}
	return &target{name: name, url: url, contentType: "application/json", want: verifyWants(wantCode), wantDesc: "a VALID verdict",
		client: &http.Client{Transport: tr, Timeout: timeout}}
}

// posting makes t send form bodies (or whatever contentType says) with an Authorization
// header (none when auth is ""), and count an answer holding every one of want as a success.
func (t *target) posting(contentType, auth, wantDesc string, want ...string) *target {
	t.contentType, t.auth, t.wantDesc, t.want = contentType, auth, wantDesc, nil
	for _, w := range want {
		t.want = append(t.want, []byte(w))
	}
	return t
}

// bearerGET makes t send each key it is given as Authorization: Bearer on a GET without a
// body, and count an answer holding every one of want as a success.
func (t *target) bearerGET(wantDesc string, want ...string) *target {
	t.bearer, t.contentType, t.auth, t.wantDesc, t.want = true, "", "", wantDesc, nil
	for _, w := range want {
		t.want = append(t.want, []byte(w))
	}
	return t
}

// upstreamAnswer describes what a bearerGET target wants through nginx (-nginx) or a proxy
// (-proxy): the bare server's answer, from behind it.
const upstreamAnswer = `the upstream's {"valid":true}`

// verifyWants is what a verification answer must hold: "valid":true, and with wantCode
// "code":"VALID" too (the bare baseline answers {"valid":true} only).
func verifyWants(wantCode bool) [][]byte {
	want := [][]byte{[]byte(`"valid":true`)}
	if wantCode {
		want = append(want, []byte(`"code":"VALID"`))
	}
	return want
}

// close drops the target's idle connections.
func (t *target) close() { t.client.CloseIdleConnections() }

type outcome int

const (
	outcomeValid outcome = iota
	outcomeError
	outcomeNon200
	outcomeNotValid
)

var errBodyTooLarge = errors.New("answer larger than the read buffer")

// verify sends one request with item (the body, or with bearer the key) and reads the
// answer into buf. detail describes a failure; it never holds the key, which a problem
// document could echo back.
func (t *target) verify(ctx context.Context, item, buf []byte) (outcome, string) {
	var req *http.Request
	var err error
	if t.bearer {
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
		if err == nil {
			req.Header["Authorization"] = []string{"Bearer " + string(item)}
		}
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(item))
	}
	if err != nil {
		return outcomeError, err.Error()
	}
	if t.contentType != "" {
		req.Header.Set("Content-Type", t.contentType)
	}
	if t.auth != "" {
		req.Header.Set("Authorization", t.auth)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return outcomeError, err.Error()
	}
	got, err := readBody(resp.Body, buf)
	resp.Body.Close()
	if err != nil {
		return outcomeError, fmt.Sprintf("reading the answer: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return outcomeNon200, fmt.Sprintf("status %d, code %q", resp.StatusCode, answerCode(got))
	}
	if !holdsAll(got, t.want) {
		return outcomeNotValid, fmt.Sprintf("not %s: code %q", t.wantDesc, answerCode(got))
	}
	return outcomeValid, ""
}

// isValid reports whether a verification answer says the key is valid. It looks for the
// fields' bytes instead of decoding the JSON, so that the client spends as little of the
// shared CPU as it can, and the same on both targets. A server that formatted its JSON
// differently would fail the run, not pass it.
func isValid(answer []byte, wantCode bool) bool { return holdsAll(answer, verifyWants(wantCode)) }

// holdsAll reports whether answer holds every one of want.
func holdsAll(answer []byte, want [][]byte) bool {
	for _, w := range want {
		if !bytes.Contains(answer, w) {
			return false
		}
	}
	return true
}

// answerCode picks the code out of a verification answer or a problem document (or the
// error of an OAuth error answer).
func answerCode(answer []byte) string {
	var a struct {
		Code  string `json:"code"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		return "(not JSON)"
	}
	if a.Code == "" {
		return a.Error
	}
	return a.Code
}

// readBody reads r into buf and drains what does not fit, so the connection can be reused.
func readBody(r io.Reader, buf []byte) ([]byte, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err == io.EOF {
			return buf[:n], nil
		}
		if err != nil {
			return buf[:n], err
		}
	}
	if k, err := io.Copy(io.Discard, r); err != nil || k > 0 {
		return buf[:n], errBodyTooLarge
	}
	return buf[:n], nil
}

// tally is one worker's record of its requests.
type tally struct {
	hist                     *histogram
	errors, non200, notValid uint64
	samples                  []string
	buf                      []byte
}

const maxSamples = 5

func newTally() *tally {
	return &tally{hist: newHistogram(), buf: make([]byte, 64<<10)}
}

func (t *tally) add(o outcome, detail string, d time.Duration) {
	t.hist.record(d)
	switch o {
	case outcomeError:
		t.errors++
	case outcomeNon200:
		t.non200++
	case outcomeNotValid:
		t.notValid++
	}
	if o != outcomeValid && len(t.samples) < maxSamples {
		t.samples = append(t.samples, detail)
	}
}

// collect merges the workers' tallies into a phase measured over elapsed.
func collect(tallies []*tally, elapsed time.Duration) phase {
	h := newHistogram()
	var p phase
	for _, t := range tallies {
		h.merge(t.hist)
		p.Errors += t.errors
		p.Non200 += t.non200
		p.NotValid += t.notValid
		for _, s := range t.samples {
			if len(p.ErrorSamples) < maxSamples {
				p.ErrorSamples = append(p.ErrorSamples, s)
			}
		}
	}
	p.Requests = h.total
	p.Seconds = max(elapsed.Seconds(), 0)
	if p.Seconds > 0 {
		p.PerSecond = float64(p.Requests) / p.Seconds
	}
	p.Latency = h.summary()
	return p
}

// stopFlag is set when ctx ends. Workers poll it between requests: it is cheaper than
// ctx.Err, which takes a lock that every worker would contend for.
func stopFlag(ctx context.Context) (*atomic.Bool, func()) {
	var stop atomic.Bool
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		<-ctx.Done()
		stop.Store(true)
	}()
	return &stop, cancel
}

// load drives t with conc workers, each sending one request at a time over its kept-alive
// connection and cycling through bodies, for warmup and then for dur. Only requests started
// after the warm-up are recorded; the rate is over the time from the end of the warm-up
// until the last worker has its last answer. probe, when not nil, reads CPU times at both
// ends of the measured stretch.
func load(ctx context.Context, t *target, bodies [][]byte, conc int, warmup, dur time.Duration, probe func() cpuSample) phase {
	stop, cancel := stopFlag(ctx)
	defer cancel()
	measureFrom := time.Now().Add(warmup)
	end := measureFrom.Add(dur)

	var before cpuSample
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		select {
		case <-time.After(time.Until(measureFrom)):
			if probe != nil {
				before = probe()
			}
		case <-ctx.Done():
		}
	}()

	tallies := make([]*tally, conc)
	var wg sync.WaitGroup
	for w := range conc {
		tl := newTally()
		tallies[w] = tl
		wg.Go(func() {
			for i := w % len(bodies); !stop.Load(); i = (i + conc) % len(bodies) {
				start := time.Now()
				if !start.Before(end) {
					return
				}
				o, detail := t.verify(ctx, bodies[i], tl.buf)
				d := time.Since(start)
				if o == outcomeError && ctx.Err() != nil {
					return // interrupted: not the server's failure
				}
				if start.Before(measureFrom) {
					continue
				}
				tl.add(o, detail, d)
			}
		})
	}
	wg.Wait()
	finished := time.Now()
	<-probed
	p := collect(tallies, finished.Sub(measureFrom))
	if probe != nil && before.ok {
		p.CPU = probe().since(before)
		if c := p.CPU; c != nil && c.Server != nil && p.Requests > 0 {
			p.ServerCPUPerRequest = *c.Server * c.WallSeconds / float64(p.Requests) * 1e6
		}
	}
	return p
}

// once verifies every body exactly once, conc at a time, and records each latency.
func once(ctx context.Context, t *target, bodies [][]byte, conc int) phase {
	stop, cancel := stopFlag(ctx)
	defer cancel()
	var next atomic.Int64
	tallies := make([]*tally, conc)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		tl := newTally()
		tallies[w] = tl
		wg.Go(func() {
			for !stop.Load() {
				i := next.Add(1) - 1
				if i >= int64(len(bodies)) {
					return
				}
				began := time.Now()
				o, detail := t.verify(ctx, bodies[i], tl.buf)
				if o == outcomeError && ctx.Err() != nil {
					return
				}
				tl.add(o, detail, time.Since(began))
			}
		})
	}
	wg.Wait()
	return collect(tallies, time.Since(start))
}
