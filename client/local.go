package client

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultLocalCacheSize is how many verdicts a Client's middlewares with LocalVerify keep,
// unless WithLocalCacheSize says otherwise.
const DefaultLocalCacheSize = 10_000

// WithLocalCacheSize bounds how many keys' verdicts the Client's middlewares with
// LocalVerify keep in-process (default DefaultLocalCacheSize). The least recently used go
// first; each costs a few hundred bytes beside its verdict.
func WithLocalCacheSize(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.localCacheSize = n
		}
	}
}

// localVerifier keeps valid verdicts in-process for the middlewares of one Client that
// verify locally, and keeps them true: it follows Keyward's event stream (GET /v1/events)
// and drops what a change makes stale, drops everything whenever the stream is not
// connected (its middlewares then ask Keyward about every request), and reports the uses
// it decided (POST /v1/keys/usage) once a second.
type localVerifier struct {
	c      *Client
	stream *http.Client // c's, without the timeout that would end every stream
	cache  *verdictCache
	uses   useList

	// Fixed at start; tests shorten them.
	maxAge                 time.Duration // how long a verdict is trusted at most
	idleTimeout            time.Duration // a stream silent this long is taken for dead
	minBackoff, maxBackoff time.Duration // between reconnections
	reportEvery            time.Duration

	// mu orders invalidations and installs, so that a verdict Keyward gave before an
	// invalidation is not installed after it: gen counts invalidations, and an install
	// happens only if gen has not moved since the verdict was asked for.
	mu      sync.Mutex
	gen     atomic.Uint64
	up      atomic.Bool // the stream is connected: verdicts may be served and installed
	account string      // the credential's account, once known

	lastID string // the last event id seen; follow's own

	pendingMu sync.Mutex
	pending   []ReportedKeyUse // what a failed report keeps for the next

	cancel context.CancelFunc
	done   sync.WaitGroup
}

// Defaults of the local verifier's timing.
const (
	// localMaxAge matches Keyward's own cache TTL: a change that sends no event (a restore
	// of the database) reaches a verdict no later than it reaches Keyward's cache.
	localMaxAge = 30 * time.Second
	// localIdleTimeout is over two of the server's 15 s heartbeats.
	localIdleTimeout = 40 * time.Second
	// Reconnections wait a random time up to the backoff, which doubles from the minimum up
	// to the maximum and starts over after a stream that lasted.
	localMinBackoff = 250 * time.Millisecond
	localMaxBackoff = 10 * time.Second
	// localReportEvery is how often uses are reported.
	localReportEvery = time.Second
	// maxPendingUses bounds what is kept while reports fail.
	maxPendingUses = 100_000
)

func newLocalVerifier(c *Client, size int) *localVerifier {
	stream := *c.httpClient
	stream.Timeout = 0 // the stream lives on; the idle timeout watches it
	return &localVerifier{
		c: c, stream: &stream, cache: newVerdictCache(size),
		maxAge: localMaxAge, idleTimeout: localIdleTimeout,
		minBackoff: localMinBackoff, maxBackoff: localMaxBackoff, reportEvery: localReportEvery,
	}
}

// start runs the stream and the reports in the background until close.
func (l *localVerifier) start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	l.done.Add(2)
	go func() {
		defer l.done.Done()
		l.follow(ctx)
	}()
	go func() {
		defer l.done.Done()
		l.reportLoop(ctx)
	}()
}

// close stops the background work and sends the last report within ctx.
func (l *localVerifier) close(ctx context.Context) error {
	l.cancel()
	l.done.Wait()
	return l.report(ctx)
}

// hashKey is the cache's key for a presented key: its SHA-256, computed without an
// allocation (the middleware refuses keys longer than the buffer before this). Keys are
// short: a small buffer spares the hot path clearing a large one.
func hashKey(key string) [32]byte {
	if len(key) <= 128 {
		var buf [128]byte
		return sha256.Sum256(buf[:copy(buf[:], key)])
	}
	var buf [maxPresentedKeyLen]byte
	return sha256.Sum256(buf[:copy(buf[:], key)])
}

// cacheable reports whether a presented credential's verdicts may be kept: API keys, not
// access tokens (JWTs, which hold dots that keys never do), whose revocation sends no event.
func cacheable(key string) bool { return strings.IndexByte(key, '.') < 0 }

// decide answers a request presenting key, with every scope in scopes required, from the
// verdicts kept: ok is false when there is none to use and Keyward must be asked. Otherwise
// the key was valid; allowed says whether its rate limit lets this request through, and if
// not, wait is how long until it would, and limit the size of the policy that refused. The
// use is recorded for the next report.
func (l *localVerifier) decide(key string, scopes []string) (v *verdict, allowed bool, wait time.Duration, limit int64, ok bool) {
	if !l.up.Load() || !cacheable(key) {
		return nil, false, 0, 0, false
	}
	sum := hashKey(key)
	e := l.cache.get(&sum)
	if e == nil {
		return nil, false, 0, 0, false
	}
	if v = e.verdict.Load(); v == nil {
		return nil, false, 0, 0, false
	}
	now := time.Now().UnixNano()
	if now >= v.expires || !hasScopes(v.res.Scopes, scopes) {
		return nil, false, 0, 0, false
	}
	allowed = true
	if p := v.limit; p != nil {
		e.mu.Lock()
		allowed, wait, limit = e.bucket.take(p, now)
		e.mu.Unlock()
	}
	l.uses.record(e, allowed, now)
	return v, allowed, wait, limit, true
}

// hasScopes reports whether every one of required is among held.
func hasScopes(held, required []string) bool {
	for _, s := range required {
		if !slices.Contains(held, s) {
			return false
		}
	}
	return true
}

// ticket is taken before asking Keyward about a key, for install.
func (l *localVerifier) ticket() uint64 { return l.gen.Load() }

// install keeps Keyward's verdict res on key, asked for with ticket gen, if it is one to
// keep: valid, of a key (not an access token) of the credential's account, without usage
// credits (they must be spent exactly, so every use asks Keyward), not expired, and given
// while the stream was connected with no invalidation since.
func (l *localVerifier) install(key string, res *VerifyResult, gen uint64) {
	if !res.Valid || res.Code != VerifyValid || res.Remaining != nil || res.KeyID == "" || !cacheable(key) {
		return
	}
	now := time.Now()
	expires := now.Add(l.maxAge)
	if res.ExpiresAt != nil {
		if !res.ExpiresAt.After(now) {
			return
		}
		if res.ExpiresAt.Before(expires) {
			expires = *res.ExpiresAt
		}
	}
	shared := *res
	shared.RateLimit = nil
	v := &verdict{res: &shared, accountID: res.AccountID, expires: expires.UnixNano()}
	if res.RateLimitPolicy != nil {
		p := paramsOf(res.RateLimitPolicy)
		v.limit = &p
	}
	sum := hashKey(key)

	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.up.Load() || l.gen.Load() != gen || res.AccountID != l.account {
		return
	}
	e := l.cache.entryFor(&sum, res.KeyID)
	if v.limit != nil {
		e.mu.Lock()
		e.bucket.seed(v.limit, res.RateLimit, now.UnixNano())
		e.mu.Unlock()
	}
	e.verdict.Store(v)
}

// invalidate drops the verdicts that match (all when match is nil).
func (l *localVerifier) invalidate(match func(*entry, *verdict) bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen.Add(1)
	l.cache.drop(match)
}

// setUp says whether the stream is connected. Either way what is kept is dropped: on
// connecting, a verdict asked for before must not be installed; on breaking, nothing is
// known to be true any more.
func (l *localVerifier) setUp(up bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen.Add(1)
	l.up.Store(up)
	l.cache.drop(nil)
}

// follow keeps the event stream connected until ctx ends, reconnecting with backoff.
func (l *localVerifier) follow(ctx context.Context) {
	backoff := l.minBackoff
	for {
		start := time.Now()
		connected := l.streamOnce(ctx)
		l.setUp(false)
		if connected && time.Since(start) >= l.maxBackoff {
			backoff = l.minBackoff
		}
		t := time.NewTimer(rand.N(backoff) + 1)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, l.maxBackoff)
	}
}

// streamOnce connects to the event stream and follows it until it breaks. It reports
// whether it got as far as connecting.
func (l *localVerifier) streamOnce(ctx context.Context) (connected bool) {
	if l.c.baseErr != nil {
		return false
	}
	l.mu.Lock()
	known := l.account != ""
	l.mu.Unlock()
	if !known {
		w, err := l.c.Whoami(ctx)
		if err != nil {
			return false
		}
		l.mu.Lock()
		l.account = w.Account.ID
		l.mu.Unlock()
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, l.c.base+"/v1/events", nil)
	if err != nil {
		return false
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("User-Agent", l.c.userAgent)
	if l.c.token != "" {
		req.Header.Set("Authorization", "Bearer "+l.c.token)
	}
	if l.lastID != "" {
		req.Header.Set("Last-Event-ID", l.lastID)
	}
	resp, err := l.stream.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return false
	}
	// The server subscribed before it answered: from here on no change is missed.
	l.setUp(true)
	watchdog := time.AfterFunc(l.idleTimeout, cancel)
	defer watchdog.Stop()
	_ = readEvents(resp.Body, func() { watchdog.Reset(l.idleTimeout) }, l.handle)
	return true
}

// eventData is the data of an event of the stream.
type eventData struct {
	KeyID     string `json:"key_id"`
	AccountID string `json:"account_id"`
}

// handle applies one event. Anything it does not understand drops everything: a newer
// server's event may stand for a change this client cannot place.
func (l *localVerifier) handle(ev sseEvent) error {
	var d eventData
	if ev.kind == "key_changed" || ev.kind == "account_changed" {
		if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
			return err // ends the stream, which drops everything
		}
	}
	switch {
	case ev.kind == "key_changed" && d.KeyID != "":
		l.invalidate(func(e *entry, _ *verdict) bool { return e.keyID == d.KeyID })
	case ev.kind == "account_changed" && d.AccountID != "":
		l.invalidate(func(_ *entry, v *verdict) bool { return v.accountID == d.AccountID })
	default:
		l.invalidate(nil)
	}
	if ev.hasID {
		l.lastID = ev.id
	}
	return nil
}

// reportLoop reports the uses decided here every reportEvery until ctx ends.
func (l *localVerifier) reportLoop(ctx context.Context) {
	t := time.NewTicker(l.reportEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_ = l.report(rctx)
			cancel()
		}
	}
}

// report sends the uses decided since the last report, with those a failed one kept.
func (l *localVerifier) report(ctx context.Context) error {
	l.pendingMu.Lock()
	defer l.pendingMu.Unlock()
	uses := append(l.pending, l.uses.drain()...)
	l.pending = nil
	if len(uses) == 0 {
		return nil
	}
	res, err := l.c.ReportKeyUsage(ctx, uses)
	if err != nil {
		// Each request that succeeded accounted for all of its entries.
		uses = uses[res.Recorded+res.Skipped:]
		if over := len(uses) - maxPendingUses; over > 0 {
			uses = uses[over:]
		}
		l.pending = uses
	}
	return err
}
