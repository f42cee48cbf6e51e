package postgres

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyward/keyward/internal/keyward"
)

// Cross-node cache invalidation.
//
// Every node caches verified keys. When one node revokes, rotates or updates a key, or
// changes what keys stand for, its Notifier drops the change from its own cache and sends a
// NOTIFY on Channel; every node's Listener holds a session LISTENing on Channel and drops
// what each notice names from its cache. A notice is sent after the change is committed, so
// a node that drops a key on hearing of it reads the change when it next looks the key up.
//
// NOTIFY delivers only to sessions listening when it is sent: a notice sent while a node's
// listener is disconnected is lost to that node. So whenever the listener (re)connects, once
// its LISTEN is in place, it drops that node's whole cache; whatever it missed is read afresh.
// The cache's TTL remains the last line of defence, for a notice that could not be sent.

// Channel is the notification channel on which nodes tell one another what to drop from their
// verification caches. A notice's payload is the hex of a changed key's hash, or
// "identity:" and an account id when what keys stand for may have changed.
const Channel = "keyward_invalidate"

// identityNotice starts the payload of a notice that drops every cached key of an account
// (every key at all when no account follows).
const identityNotice = "identity:"

// importNotice is the payload that tells every node keys were imported: each reloads its
// filter of imported keys.
const importNotice = "imported"

// keyNotice starts the payload of a notice about one key: "key:HASH:KEY_ID:ACCOUNT_ID", the
// hash in hex. A payload of the hash alone is an older node's, and is still understood.
const keyNotice = "key:"

// Cache is the local verification cache that notices act on; *verify.Verifier is one.
type Cache interface {
	keyward.KeyEvents
	keyward.IdentityEvents
}

// notifyTimeout bounds the sending of one notice.
const notifyTimeout = 5 * time.Second

// Notifier tells the node's own cache of every change at once, and every node (itself
// included) through NOTIFY. It implements keyward.KeyEvents and keyward.IdentityEvents, for
// keyward.WithKeyEvents and keyward.WithIdentityEvents.
type Notifier struct {
	store *Store
	local Cache
	log   *slog.Logger
}

var (
	_ keyward.KeyEvents      = (*Notifier)(nil)
	_ keyward.IdentityEvents = (*Notifier)(nil)
)

// NewNotifier returns a Notifier that drops changes from local and sends its notices through
// s's connections. log receives the notices that could not be sent (default slog.Default()).
func NewNotifier(s *Store, local Cache, log *slog.Logger) *Notifier {
	if log == nil {
		log = slog.Default()
	}
	return &Notifier{store: s, local: local, log: log}
}

// KeyChanged drops k from the local cache and tells every node to drop it from theirs.
func (n *Notifier) KeyChanged(ctx context.Context, k *keyward.Key) {
	n.local.KeyChanged(ctx, k)
	if len(k.Hash) == 0 {
		return
	}
	n.notify(ctx, keyNotice+hex.EncodeToString(k.Hash)+":"+k.ID+":"+k.AccountID, "key_id", k.ID)
}

// IdentityChanged drops what the local cache holds for the account and tells every node to
// do the same.
func (n *Notifier) IdentityChanged(ctx context.Context, accountID string) {
	n.local.IdentityChanged(ctx, accountID)
	n.notify(ctx, identityNotice+accountID, "account_id", accountID)
}

// KeysImported tells the local cache at once that keys were imported, and every node through
// NOTIFY; a node that misses the notice finds them at its next reload of the imported keys
// (verify.ImportReloadEvery).
func (n *Notifier) KeysImported(ctx context.Context) {
	if ie, ok := n.local.(keyward.ImportEvents); ok {
		ie.KeysImported(ctx)
	}
	n.notify(ctx, importNotice)
}

// notify sends one notice. It runs after the change is committed, so the notice must go out
// even when the request that made the change has gone: ctx's cancellation is not followed.
func (n *Notifier) notify(ctx context.Context, payload string, attrs ...any) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), notifyTimeout)
	defer cancel()
	if _, err := n.store.pool.Exec(ctx, "SELECT pg_notify($1, $2)", Channel, payload); err != nil {
		n.log.Error("postgres: could not tell the other nodes of a change; their caches keep the old state until it ages out (cache TTL) or their listener reconnects",
			append(attrs, "err", err)...)
	}
}

// ListenerConfig tunes a Listener. Zero values take the defaults.
type ListenerConfig struct {
	// ApplicationName names the listener's session in pg_stat_activity (default: the
	// connection string's application_name, or "keyward", followed by "-listener").
	ApplicationName string
	// MinBackoff is the wait before the first attempt to reconnect (default 100 ms); each
	// failed attempt doubles it, up to MaxBackoff (default 10 s). Each wait is jittered, so
	// that nodes that lost the database together do not return to it in step.
	MinBackoff, MaxBackoff time.Duration
	// IdleCheck is how long the session may stay silent before it is pinged (default 15 s):
	// a session whose network went away without a word would otherwise wait for notices
	// forever.
	IdleCheck time.Duration
	// Logger receives reconnections, at warn (default slog.Default()).
	Logger *slog.Logger
}

// Timeouts of the listener's own round trips.
const (
	connectTimeout = 15 * time.Second
	pingTimeout    = 5 * time.Second
)

// Listener holds a session LISTENing on Channel and applies each notice to the local cache.
// Run keeps it connected; Connected and Ready say whether it is.
type Listener struct {
	config *pgx.ConnConfig
	cache  Cache
	cfg    ListenerConfig
	log    *slog.Logger

	// listening is closed once the first LISTEN is in place.
	listening     chan struct{}
	listeningOnce sync.Once

	mu        sync.Mutex
	connected bool
	listened  bool      // connected at least once
	since     time.Time // when connected last changed
	lastErr   error     // why the session was last lost, or could not be opened
}

// NewListener returns a Listener that will connect to the database dsn names (as Open takes
// it) and apply notices to cache. It does not connect: Run does.
func NewListener(dsn string, cache Cache, cfg ListenerConfig) (*Listener, error) {
	config, err := pgx.ParseConfig(dsn)
	if err != nil {
		// The error may quote the DSN, password included.
		return nil, errors.New("postgres: the connection string cannot be parsed")
	}
	if cfg.ApplicationName == "" {
		name := config.RuntimeParams["application_name"]
		if name == "" {
			name = "keyward"
		}
		cfg.ApplicationName = name + "-listener"
	}
	config.RuntimeParams["application_name"] = cfg.ApplicationName
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 10 * time.Second
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.IdleCheck <= 0 {
		cfg.IdleCheck = 15 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Listener{
		config:    config,
		cache:     cache,
		cfg:       cfg,
		log:       cfg.Logger,
		listening: make(chan struct{}),
		since:     time.Now(),
	}, nil
}

// Run listens until ctx is done. Whenever the session is lost or cannot be opened, it waits
// (with backoff) and opens another; whenever a LISTEN is in place, on the first connection
// and on every reconnection, it drops the whole local cache, since notices sent while it was
// not listening are lost.
func (l *Listener) Run(ctx context.Context) {
	failures := 0
	for {
		listened, err := l.session(ctx)
		l.setConnected(false, err)
		if ctx.Err() != nil {
			return
		}
		if listened {
			failures = 0
		}
		failures++
		delay := l.backoff(failures)
		if listened {
			l.log.Warn("postgres: lost the session listening for cache invalidations; reconnecting",
				"err", err, "in", delay.Round(time.Millisecond))
		} else {
			l.log.Warn("postgres: cannot listen for cache invalidations; trying again",
				"err", err, "attempt", failures, "in", delay.Round(time.Millisecond))
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// backoff is the wait before attempt n (from 1) to reconnect: MinBackoff doubled for each
// earlier failure, at most MaxBackoff, of which a random part up to a half is taken off.
func (l *Listener) backoff(n int) time.Duration {
	d := l.cfg.MinBackoff
	for i := 1; i < n && d < l.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, l.cfg.MaxBackoff)
	return d - rand.N(d/2+1)
}

// session opens a session, LISTENs, drops the local cache and applies notices until the
// session fails or ctx is done. listened says whether the LISTEN was in place.
func (l *Listener) session(ctx context.Context) (listened bool, err error) {
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	conn, err := pgx.ConnectConfig(cctx, l.config)
	cancel()
	if err != nil {
		// pgx's connect errors name the host, user and database, never the password.
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	// Only now that notices reach this session can the cache be trusted again: dropping it
	// earlier would let a key read between the drop and the LISTEN miss its notice.
	l.cache.IdentityChanged(ctx, "")
	reconnected := l.setConnected(true, nil)
	if reconnected {
		l.log.Warn("postgres: listening for cache invalidations again; dropped the verification cache, since notices sent meanwhile are lost")
	}
	l.listeningOnce.Do(func() { close(l.listening) })

	for {
		wctx, cancel := context.WithTimeout(ctx, l.cfg.IdleCheck)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if n != nil {
			l.apply(ctx, n.Payload)
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return true, ctx.Err()
		case pgconn.Timeout(err) && !conn.IsClosed():
			// Silence: make sure the session is still there.
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err := conn.Ping(pctx)
			cancel()
			if err != nil && ctx.Err() == nil {
				return true, fmt.Errorf("ping: %w", err)
			}
		default:
			return true, err
		}
	}
}

// apply drops from the local cache what the notice names.
func (l *Listener) apply(ctx context.Context, payload string) {
	if payload == importNotice {
		if ie, ok := l.cache.(keyward.ImportEvents); ok {
			ie.KeysImported(ctx)
		}
		return
	}
	if accountID, ok := strings.CutPrefix(payload, identityNotice); ok {
		l.cache.IdentityChanged(ctx, accountID)
		return
	}
	k, ok := parseKeyNotice(payload)
	if !ok {
		// Perhaps a newer node's notice: whatever it says, dropping everything is safe.
		l.log.Warn("postgres: a cache invalidation notice not understood; dropped the whole verification cache", "payload_len", len(payload))
		l.cache.IdentityChanged(ctx, "")
		return
	}
	l.cache.KeyChanged(ctx, k)
}

// setConnected records the session's state and reports whether it is a reconnection: a
// connection after an earlier one was lost.
func (l *Listener) setConnected(connected bool, err error) (reconnected bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	reconnected = connected && l.listened
	if l.connected != connected {
		l.since = time.Now()
	}
	l.connected = connected
	if connected {
		l.listened = true
	} else {
		l.lastErr = err
	}
	return reconnected
}

// Listening returns a channel closed once the listener has first been listening, for a
// start-up that should not serve before notices reach it.
func (l *Listener) Listening() <-chan struct{} { return l.listening }

// Connected reports whether notices reach this node now.
func (l *Listener) Connected() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.connected
}

// Ready returns nil while notices reach this node, and otherwise an error saying since when
// and why they do not, for readiness checks: meanwhile, changes made on other nodes reach
// this node's cache only when the listener reconnects or the cached keys age out.
func (l *Listener) Ready() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.connected:
		return nil
	case l.lastErr == nil:
		return errors.New("postgres: not yet listening for cache invalidations")
	}
	return fmt.Errorf("postgres: not listening for cache invalidations since %s: %w", l.since.UTC().Format(time.RFC3339), l.lastErr)
}

// parseKeyNotice reads a key notice: "key:HASH:KEY_ID:ACCOUNT_ID", or an older node's bare
// hash.
func parseKeyNotice(payload string) (*keyward.Key, bool) {
	rest, isKey := strings.CutPrefix(payload, keyNotice)
	if !isKey {
		hash, err := hex.DecodeString(payload)
		return &keyward.Key{Hash: hash}, err == nil && len(hash) > 0
	}
	parts := strings.Split(rest, ":")
	if len(parts) != 3 {
		return nil, false
	}
	hash, err := hex.DecodeString(parts[0])
	if err != nil || len(hash) == 0 {
		return nil, false
	}
	return &keyward.Key{Hash: hash, ID: parts[1], AccountID: parts[2]}, true
}
