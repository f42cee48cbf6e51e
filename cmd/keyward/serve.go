package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/connlimit"
	"github.com/keyward/keyward/internal/delivery"
	"github.com/keyward/keyward/internal/events"
	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/httpapi"
	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/jobs"
	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/oauth"
	"github.com/keyward/keyward/internal/postgres"
	"github.com/keyward/keyward/internal/secretscan"
	"github.com/keyward/keyward/internal/sqlite"
	"github.com/keyward/keyward/internal/verify"
	"github.com/keyward/keyward/internal/webhook"
)

// Main is a running Keyward server: everything `keyward serve` wires together. A test can
// run one on 127.0.0.1:0 with Run and stop it with Close.
type Main struct {
	Config config.Config
	// Stderr receives the bootstrap admin key and the logs.
	Stderr io.Writer
	// Now replaces time.Now (tests).
	Now func() time.Time

	log      *slog.Logger
	store    keyward.Store
	pg       *postgres.Store // the store, when it is PostgreSQL
	secrets  []keyformat.Secret
	hasher   *keyformat.Hasher
	verifier *verify.Verifier
	service  *keyward.Service
	auth     *authn.Authenticator
	tokens   *oauth.Tokens
	proxies  httpwire.Proxies
	gateway  *gateway.Gateway
	extAuthz *extAuthz // Envoy's ext_authz gRPC service, when configured
	// resolverMemo remembers for a second what the verifier's cache misses of different
	// keys share (accounts, tiers, roles, users); it hears identity changes with the cache.
	resolverMemo *keyward.CachingResolverStore
	// events hears every change this node's cache hears, for the event stream.
	events *events.Hub
	limits *limits
	jobs   *jobs.Runner
	// deliverer sends the outbox's webhooks; webhookOpts are its client's rules.
	deliverer   *delivery.Deliverer
	webhookOpts webhook.Options
	// scanning verifies GitHub's secret scanning alerts; nil when they are off.
	scanning *secretscan.Verifier
	listener net.Listener
	// conns caps the API listener's connections (--max-connections).
	conns  *connlimit.Listener
	http   *http.Server
	served chan error
	// metricsServer serves /metrics on --metrics-addr; metricsServed has its end.
	metricsServer *http.Server
	metricsServed chan error
	// proxy is the keyed reverse proxy, when --proxy-addr is set; proxyServed has its end.
	proxy       *http.Server
	proxyServed chan error
	proxyConns  *connlimit.Listener

	// invalidations hears, with PostgreSQL, of the changes other nodes make, for the cache.
	invalidations *postgres.Listener
	stopListening context.CancelFunc
	listenerDone  chan struct{}
}

// listenTimeout bounds the wait at start for the first LISTEN on the database.
const listenTimeout = 30 * time.Second

// Run opens the store, bootstraps it if it is new, and starts serving. It returns once the
// server is listening; Close stops it.
func (m *Main) Run(ctx context.Context) (err error) {
	if err := m.setUp(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			m.Close(context.WithoutCancel(ctx)) // nothing was served: nothing waits
		}
	}()
	for _, step := range []func(context.Context) error{
		m.openStore,
		m.openListener, // before the tokens: their issuer defaults to its address
		m.startTokens,
		m.startLimits,
		m.startVerifier,
		m.startService,
		// Before the bootstrap: a wrong OIDC issuer must stop the first start before the
		// root admin key is made, since it is printed only once.
		m.startAuthenticator,
		m.startGateway,
		m.startExtAuthz,
		m.startProxy,
		m.bootstrap,
		m.startJobs,
		m.serve,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// setUp checks the configuration and makes the logger.
func (m *Main) setUp() error {
	if err := m.Config.Validate(); err != nil {
		return err
	}
	proxies, _ := m.Config.Proxies() // Validate checked them
	m.proxies = proxies
	if m.Stderr == nil {
		m.Stderr = os.Stderr
	}
	if m.Now == nil {
		m.Now = testClock()
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	level, _ := m.Config.Level()
	opts := &slog.HandlerOptions{Level: level}
	if m.Config.LogFormat == "json" {
		m.log = slog.New(slog.NewJSONHandler(m.Stderr, opts))
	} else {
		m.log = slog.New(slog.NewTextHandler(m.Stderr, opts))
	}
	return nil
}

// openStore opens the store the configuration names, with its server secret.
func (m *Main) openStore(ctx context.Context) error {
	s, err := openStore(ctx, &m.Config, true)
	if err != nil {
		return err
	}
	m.store, m.pg, m.secrets, m.hasher = s.store, s.pg, s.secrets, s.hasher
	return nil
}

// startVerifier builds the verifier, whose resolver reads the store directly: it and the
// service are built from the store, not from each other. With PostgreSQL it also starts
// hearing other nodes' changes, and waits until it does.
func (m *Main) startVerifier(ctx context.Context) error {
	m.events = events.NewHub(0)
	m.resolverMemo = keyward.NewCachingResolverStore(m.store, keyward.DefaultResolverMemoTTL, m.Now)
	m.verifier = verify.New(m.store, m.hasher, verify.Config{
		Limiter:            m.limits.limiter,
		Resolver:           keyward.NewResolver(m.resolverMemo),
		Tokens:             m.tokens,
		CacheSize:          m.Config.CacheSize,
		TTL:                m.Config.CacheTTL,
		Refresh:            m.Config.CacheRefresh,
		StaleBound:         m.Config.CacheStaleBound,
		LastUsedResolution: m.Config.LastUsedResolution,
		UsageWriteEvery:    m.Config.UsageWriteEvery,
		// The service is built after the verifier and hears of spent keys through this
		// hook only once it serves (a key runs out only in a verification).
		Exhausted: func(ctx context.Context, k *keyward.Key) error {
			_, err := m.service.KeyExhausted(ctx, k.AccountID, k.ID)
			return err
		},
		Now:    m.Now,
		Logger: m.log,
	})
	if err := m.verifier.LoadImported(ctx); err != nil {
		return fmt.Errorf("reading the imported keys: %w", err)
	}
	if m.pg == nil {
		return nil
	}
	return m.listen(ctx)
}

// startService builds the service. With one SQLite file there is one node, whose cache hears
// of its own changes. With PostgreSQL every node must hear of every node's: changes go out as
// notices too.
func (m *Main) startService(context.Context) error {
	var changes interface {
		keyward.KeyEvents
		keyward.IdentityEvents
	} = m.caches()
	if m.pg != nil {
		changes = postgres.NewNotifier(m.pg, m.caches(), m.log)
	}
	hooks, err := m.webhookHooks()
	if err != nil {
		return err
	}
	m.service = keyward.NewService(m.store, m.hasher, append(hooks, keyward.WithClock(m.Now), keyward.WithLogger(m.log),
		keyward.WithKeyEvents(changes), keyward.WithIdentityEvents(changes), keyward.WithCheckpoint(checkpoint()))...)
	m.deliverer = delivery.New(delivery.Config{
		Store: m.store, Secrets: m.service, Sender: webhook.NewSender(m.webhookOpts),
		Owner: nodeName(), Now: m.Now, Logger: m.log, Checkpoint: checkpoint(),
	})
	return nil
}

// caches are what hear of every change on this node: the resolver's memo, the verifier's
// cache, and the event stream's hub. The memo forgets first: a cache miss that begins once
// the cache is dropped must not resolve its key from what the memo knew before the change.
func (m *Main) caches() events.Fanout {
	return events.Fanout{m.resolverMemo, m.verifier, m.events}
}

// startGateway reads the route policy and builds the gateway that the front doors' endpoints
// answer through. A policy with mistakes stops the start, with every mistake listed.
func (m *Main) startGateway(context.Context) error {
	var err error
	var policy *gateway.Policy
	if m.Config.GatewayPolicy != "" {
		if policy, err = gateway.LoadPolicy(m.Config.GatewayPolicy); err != nil {
			return err
		}
		m.log.Info("gateway policy loaded", "file", m.Config.GatewayPolicy, "routes", len(policy.Routes), "upstreams", len(policy.Upstreams))
	}
	m.gateway = gateway.New(gateway.Config{Verdicts: m.verifier, Policy: policy, Proxies: m.proxies, Logger: m.log, Now: m.Now})
	return nil
}

func (m *Main) openListener(context.Context) error {
	ln, err := net.Listen("tcp", m.Config.Addr)
	if err != nil {
		return err
	}
	m.conns = connlimit.New(ln, m.maxConnections())
	m.listener = m.conns
	return nil
}

// maxConnections is the cap on each listener's connections: --max-connections, or three
// quarters of the descriptor limit, halved when the keyed proxy takes its own share.
func (m *Main) maxConnections() int {
	if m.Config.MaxConnections > 0 {
		return m.Config.MaxConnections
	}
	n := connlimit.ForFileLimit(connlimit.FileLimit())
	if m.Config.ProxyAddr != "" {
		n = max(n/2, 1)
	}
	return n
}

// startTokens loads the OAuth signing keys and the token deny-list.
func (m *Main) startTokens(ctx context.Context) error {
	issuer := m.Config.PublicURL
	if issuer == "" {
		issuer = m.URL()
	}
	var err error
	if m.tokens, err = oauth.New(ctx, oauth.Config{
		Store: m.store, Secrets: m.secrets, Issuer: issuer, Algorithm: m.Config.SigningAlg,
		Lifetime: m.Config.TokenLifetime, Rotation: m.Config.SigningKeyRotation, Now: m.Now, Logger: m.log,
	}); err != nil {
		return fmt.Errorf("OAuth tokens: %w", err)
	}
	return nil
}

// bootstrap creates the root admin key of an empty store and prints it once.
func (m *Main) bootstrap(ctx context.Context) error {
	secret, err := m.service.Bootstrap(ctx)
	if err != nil {
		return fmt.Errorf("bootstrapping: %w", err)
	}
	if secret != "" {
		printBootstrapKey(m.Stderr, secret)
	}
	return nil
}

// startJobs starts the background work: every node's, and, on the node that holds the lease,
// the deployment's.
func (m *Main) startJobs(ctx context.Context) error {
	var lease jobs.Lease = jobs.Solo{}
	if m.pg != nil {
		lease = postgres.NewLease(m.Config.Database, jobsLeaseKey)
	}
	m.jobs = jobs.New(jobs.Config{Lease: lease, Logger: m.log})
	m.jobs.Add(jobs.Task{Name: "flush-key-use", Every: verify.FlushEvery, Timeout: 10 * time.Second, Run: m.verifier.FlushDue})
	m.jobs.Add(jobs.Task{Name: "sync-token-denials", Every: oauth.SyncEvery, Timeout: 10 * time.Second, Run: m.tokens.SyncDenials})
	m.jobs.Add(jobs.Task{Name: "maintain-signing-keys", Every: oauth.KeyRefreshEvery, Run: m.tokens.MaintainKeys})
	m.jobs.Add(jobs.Task{Name: "prune-token-denials", Every: oauth.KeyRefreshEvery, LeaderOnly: true, Run: m.tokens.PruneDenials})
	if m.Config.UsageRetention > 0 {
		m.jobs.Add(jobs.Task{Name: "prune-usage", Every: pruneUsageEvery, LeaderOnly: true, AtStart: true, Run: m.pruneUsage})
	}
	// Audit records that waited out a store outage in memory (keyward/auditbacklog.go).
	m.jobs.Add(jobs.Task{Name: "write-audit-backlog", Every: time.Second, Timeout: 10 * time.Second, Run: m.writeAuditBacklog})
	m.addWebhookJobs()
	m.addSessionJobs()
	m.jobs.Start(ctx)
	return nil
}

// jobsLeaseKey is the PostgreSQL advisory lock that the node leading the jobs holds. Any
// fixed number would do; this one spells "kwjobs" in ASCII.
const jobsLeaseKey = 0x6b776a6f6273

// pruneUsageEvery is how often usage counts older than the retention are deleted.
const pruneUsageEvery = time.Hour

func (m *Main) pruneUsage(ctx context.Context) error {
	n, err := m.store.PruneUsage(ctx, m.Now().Add(-m.Config.UsageRetention))
	if err == nil && n > 0 {
		m.log.Info("pruned usage counts", "rows", n, "older_than", m.Config.UsageRetention)
	}
	return err
}

// serve starts answering requests.
func (m *Main) serve(context.Context) error {
	server := httpapi.New(httpapi.Config{
		Service:          m.service,
		Verifier:         m.verifier,
		Authenticator:    m.auth,
		Logger:           m.log,
		Version:          currentBuild().Version,
		Commit:           currentBuild().Commit,
		BuildDate:        currentBuild().Date,
		Ready:            m.ready,
		Tokens:           m.tokens,
		TrustedProxies:   m.proxies,
		Gateway:          m.gateway,
		Events:           m.events,
		SecretScanning:   m.scanning,
		HealthChecks:     m.healthChecks(),
		Collectors:       m.connCollectors(),
		MetricsElsewhere: m.Config.MetricsAddr != "",
	})
	handler, err := m.withDashboard(server)
	if err != nil {
		return err
	}
	if err := m.startMetrics(server.MetricsHandler()); err != nil {
		return err
	}
	m.http = &http.Server{
		// Every request's body is bounded in time (a slow one cannot hold an answer or a
		// connection), and the connection cap knows which connections are answering.
		Handler:           connlimit.Track(httpwire.BodyDeadline(handler, m.Config.BodyTimeout)),
		ConnContext:       m.conns.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
	}
	m.served = make(chan error, 1)
	if m.Config.TLSCert != "" {
		m.http.TLSConfig = serverTLS()
		m.http.Handler = hsts(m.http.Handler)
		go func() { m.served <- m.http.ServeTLS(m.listener, m.Config.TLSCert, m.Config.TLSKey) }()
	} else {
		go func() { m.served <- m.http.Serve(m.listener) }()
	}
	if m.pg != nil {
		m.log.Info("keyward is listening", "url", m.URL(), "database", m.Config.RedactedDatabase(), "version", currentBuild().Version, "commit", currentBuild().Commit, "built", currentBuild().Date)
	} else {
		m.log.Info("keyward is listening", "url", m.URL(), "data", m.Config.DataDir, "version", currentBuild().Version, "commit", currentBuild().Commit, "built", currentBuild().Date)
	}
	return nil
}

// listen starts the listener for other nodes' cache invalidations and waits until it is
// listening: a key this node cached before then could miss its revocation. The listener
// runs until Close, past the end of ctx, so that requests finishing during a graceful
// shutdown still hear of revocations.
func (m *Main) listen(ctx context.Context) error {
	l, err := postgres.NewListener(m.Config.Database, m.caches(), postgres.ListenerConfig{Logger: m.log})
	if err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	m.invalidations, m.stopListening, m.listenerDone = l, cancel, make(chan struct{})
	go func() {
		defer close(m.listenerDone)
		l.Run(lctx)
	}()
	timeout := time.NewTimer(listenTimeout)
	defer timeout.Stop()
	select {
	case <-l.Listening():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout.C:
		return fmt.Errorf("cannot listen for other nodes' cache invalidations within %s: %w", listenTimeout, l.Ready())
	}
}

// ready reports whether this node hears other nodes' cache invalidations. A node that does
// not could serve a revoked key until its cache entry ages out, so it leaves the load
// balancer's rotation until it hears them again (and has flushed its cache).
func (m *Main) ready(context.Context) error {
	if m.invalidations == nil {
		return nil
	}
	return m.invalidations.Ready()
}

// stopListener stops the invalidation listener, if there is one, and waits for it.
func (m *Main) stopListener() {
	if m.stopListening == nil {
		return
	}
	m.stopListening()
	<-m.listenerDone
	m.stopListening = nil
}

// startAuthenticator accepts admin keys, API keys, Keyward's access tokens and, when an
// issuer is configured, its OIDC access tokens. Discovery runs once here, so a wrong issuer
// stops the start.
func (m *Main) startAuthenticator(ctx context.Context) error {
	cfg := authn.Config{
		Service: m.service,
		Keys:    m.verifier,
		Tokens:  m.tokens,
		SignIn: authn.SignInPolicy{
			DefaultAccount: m.Config.OIDCAccount,
			AccountClaim:   m.Config.OIDCAccountClaim,
			DefaultRole:    m.Config.OIDCRole,
		},
	}
	if m.Config.OIDCIssuer != "" {
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		v, err := authn.NewOIDCVerifier(dctx, authn.OIDCConfig{Issuer: m.Config.OIDCIssuer, Audience: m.Config.OIDCAudience, Now: m.Now})
		if err != nil {
			return fmt.Errorf("OIDC issuer %s: %w", m.Config.OIDCIssuer, err)
		}
		cfg.OIDC = v
		m.log.Info("OIDC sign-in enabled", "issuer", m.Config.OIDCIssuer, "audience", m.Config.OIDCAudience)
	}
	m.auth = authn.New(cfg)
	return nil
}

// URL is the base URL the server answers on.
func (m *Main) URL() string {
	if m.Config.TLSCert != "" {
		return "https://" + m.listener.Addr().String()
	}
	return "http://" + m.listener.Addr().String()
}

// Close stops accepting requests, lets those in flight finish, stops the background work,
// writes the key use still buffered, and closes the store. It undoes as much of Run as Run
// did, so Run calls it to clean up after a failed start.
func (m *Main) Close(ctx context.Context) error {
	var errs []error
	if m.http != nil {
		if err := m.http.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		if err := <-m.served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
		m.http = nil
	} else if m.listener != nil {
		m.listener.Close()
	}
	m.stopExtAuthz()
	if err := m.stopProxy(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := m.stopMetrics(ctx); err != nil {
		errs = append(errs, fmt.Errorf("metrics listener: %w", err))
	}
	if m.jobs != nil {
		if err := m.jobs.Stop(context.WithoutCancel(ctx)); err != nil {
			errs = append(errs, fmt.Errorf("stopping background jobs: %w", err))
		}
		m.jobs = nil
	}
	if m.service != nil {
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := m.writeAuditBacklog(flushCtx); err != nil {
			errs = append(errs, fmt.Errorf("audit records lost at shutdown: %d that waited for the store: %w", m.service.AuditBacklog(), err))
		}
	}
	if m.verifier != nil {
		// The flush gets its own deadline: requests that used up the shutdown timeout must
		// not cost the last-used times they recorded.
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := m.verifier.Close(flushCtx); err != nil {
			errs = append(errs, fmt.Errorf("flushing key use: %w", err))
		}
		m.verifier = nil
	}
	m.stopListener()
	m.stopLimits()
	errs = append(errs, m.closeStore())
	return errors.Join(errs...)
}

// writeAuditBacklog writes the audit records that waited for the store; an error leaves the
// rest for the next run.
func (m *Main) writeAuditBacklog(ctx context.Context) error {
	if m.service.AuditBacklog() == 0 {
		return nil
	}
	_, err := m.service.FlushAuditBacklog(ctx)
	return err
}

func (m *Main) closeStore() error {
	if m.store == nil {
		return nil
	}
	err := m.store.Close()
	m.store, m.pg = nil, nil
	return err
}

// Wait blocks until the server stops on its own (a listener failure) or ctx is done.
func (m *Main) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-m.served:
		m.served <- err // Close reads it again
		return err
	}
}

func printBootstrapKey(w io.Writer, secret string) {
	fmt.Fprintf(w, `
  Keyward created the root admin key for account %q.
  It is shown only this once. Store it now:

      %s

  Use it as the bearer of management requests, e.g.
      export KEYWARD_TOKEN=%s

`, keyward.DefaultAccountName, secret, secret)
}

// loadConfig builds the configuration from defaults and the environment, and binds the
// command's flags on top: every setting for serve, only the store's for the others.
func loadConfig(cmd *cobra.Command, allFlags bool) *config.Config {
	cfg := config.Default()
	if err := cfg.FromEnv(os.Getenv); err != nil {
		// A bad variable is reported here and its default kept; Validate catches the rest.
		cmd.PrintErrln("keyward:", err)
	}
	if allFlags {
		cfg.BindFlags(cmd.Flags())
	} else {
		cfg.BindStoreFlags(cmd.Flags())
	}
	hideSecretDefaults(cmd)
	return &cfg
}

// hideSecretDefaults keeps --help from printing, as a flag's default, a secret that came from
// the environment: the server secret, or a database URL with its password.
// storeConfig is loadConfig for a command that opens the store itself (migrate, admin):
// the store flags, --database, and no secret shown as a default.
func storeConfig(cmd *cobra.Command) *config.Config {
	cfg := loadConfig(cmd, false)
	cfg.BindDatabaseFlag(cmd.Flags())
	hideSecretDefaults(cmd)
	return cfg
}

func hideSecretDefaults(cmd *cobra.Command) {
	for _, name := range []string{"server-secret", "database", "redis", "oidc-client-secret"} {
		if f := cmd.Flags().Lookup(name); f != nil {
			f.DefValue = ""
		}
	}
}

func newServeCmd() *cobra.Command {
	var cfg *config.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Keyward service",
		Long: `Run the Keyward service on an embedded SQLite database in the data directory, or, with
--database, on a PostgreSQL database that any number of nodes share. Nodes sharing one
database must share one --server-secret; each tells the others through the database of every
revocation and change, so that no node's cache keeps serving a revoked key.

On the first start with an empty store it creates the root admin key and prints it once to
stderr. It stops gracefully on SIGINT or SIGTERM: requests in flight finish and buffered
last-used times are written.`,
		Example: `  keyward serve
  keyward serve --addr 127.0.0.1:9090 --data /var/lib/keyward
  KEYWARD_ADDR=0.0.0.0:8080 keyward serve
  KEYWARD_DATABASE_URL_FILE=/run/secrets/database-url KEYWARD_SERVER_SECRET_FILE=/run/secrets/server-secret \
    keyward serve --addr 0.0.0.0:8080`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m := &Main{Config: *cfg, Stderr: cmd.ErrOrStderr()}
			ctx := cmd.Context()
			if err := m.Run(ctx); err != nil {
				return err
			}
			waitErr := m.Wait(ctx)
			m.log.Info("shutting down")
			shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			return errors.Join(waitErr, m.Close(shutdownCtx))
		},
	}
	cfg = loadConfig(cmd, true)
	return cmd
}

func newMigrateCmd() *cobra.Command {
	var cfg *config.Config
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema, then exit",
		Long:  "Apply every pending migration to the database: SQLite in the data directory, or the PostgreSQL database --database names. 'keyward serve' does this on start too.",
		Example: `  keyward migrate --data ./keyward-data
  KEYWARD_DATABASE_URL_FILE=/run/secrets/database-url keyward migrate`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.UsesPostgres() {
				if err := postgres.Migrate(cmd.Context(), cfg.Database); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is up to date\n", cfg.RedactedDatabase())
				return nil
			}
			if err := sqlite.Migrate(cmd.Context(), cfg.DatabasePath()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is up to date\n", cfg.DatabasePath())
			return nil
		},
	}
	cfg = storeConfig(cmd)
	return cmd
}

func newAdminCmd() *cobra.Command {
	admin := &cobra.Command{
		Use:   "admin",
		Short: "Create, list and revoke admin keys, and seed keys (works on the store directly)",
	}
	var cfg *config.Config
	var account, name string
	create := &cobra.Command{
		Use:   "create-key",
		Short: "Create an admin key and print it once",
		Long: `Create an admin key for an account, creating the account if it does not exist, and print
the key once to stdout. It works on the database directly, so it can recover access when
every admin key is lost: run it where the data directory is, or with the --database and
--server-secret of the running servers.`,
		Example: `  keyward admin create-key --name ci
  keyward admin create-key --account acme --name acme-root --data /var/lib/keyward`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, svc, err := openServerStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			k, secret, err := svc.CreateAdminKey(cmd.Context(), account, name)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Admin key %s (%s) for account %q. Store it now; it will not be shown again:\n\n%s\n", k.ID, name, account, secret)
			return nil
		},
	}
	cfg = storeConfig(create)
	create.Flags().StringVar(&account, "account", keyward.DefaultAccountName, "account the key manages (created if new)")
	create.Flags().StringVar(&name, "name", "admin", "a name to recognise the key by")
	admin.AddCommand(create, newAdminListKeysCmd(), newAdminRevokeKeyCmd(), newSeedKeysCmd())
	return admin
}

// openServerStore opens the store a server with cfg serves, for the admin commands that work
// on it directly, and a service over it with the server's secret.
func openServerStore(ctx context.Context, cfg *config.Config) (keyward.Store, *keyward.Service, error) {
	s, err := openStore(ctx, cfg, false)
	if err != nil {
		return nil, nil, err
	}
	_, hooks, err := webhookServiceOptions(cfg, s.secrets)
	if err != nil {
		s.store.Close()
		return nil, nil, err
	}
	return s.store, keyward.NewService(s.store, s.hasher, hooks...), nil
}
