// Package config is Keyward's one configuration struct: documented defaults, overridden by
// KEYWARD_* environment variables, overridden by command-line flags, with a *_FILE variant
// for every secret so that it need not sit in the environment. Validate reports every problem
// at once.
package config

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/keyformat"
)

// Config is everything `keyward serve` can be told.
type Config struct {
	// Addr is the address to listen on.
	Addr string
	// DataDir holds the SQLite database and the generated server secret. It is not used
	// when Database is set.
	DataDir string
	// Database, when set, is a postgres:// or postgresql:// URL: the data is kept in that
	// PostgreSQL database, which any number of nodes may share. Empty: SQLite in DataDir. It
	// may hold a password, so it is never logged or quoted in an error as it is.
	Database string
	// ServerSecret is the key-hashing secret ("pepper"): "VERSION:BASE64" entries separated
	// by commas, or one bare base64 value (version 1). Empty: read or create
	// DataDir/server-secret. Several nodes sharing a database must share it, so it is
	// required with Database.
	ServerSecret string
	// CacheSize bounds the verification cache, in keys. Its memory is not reserved: it grows
	// as the cache fills, by about 1 KB a key (500 bytes beside the key itself).
	CacheSize int
	// CacheTTL is the most a cached key may be older than its last read and still be
	// judged (outside an outage: see CacheStaleBound).
	CacheTTL time.Duration
	// CacheRefresh is the age from which a cached key in use is read again in the
	// background, still answering meanwhile; 0 takes a fifth of CacheTTL.
	CacheRefresh time.Duration
	// CacheStaleBound is how long after it was read a cached key is still judged while the
	// store is unavailable, past CacheTTL; 0 serves nothing stale.
	CacheStaleBound time.Duration
	// LastUsedResolution is how far a key's last use must move before it is written again.
	LastUsedResolution time.Duration
	// TLSCert and TLSKey are PEM files; when both are set the server speaks HTTPS only.
	TLSCert, TLSKey string
	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout time.Duration
	// MaxConnections caps the connections each listener (the API's, the keyed proxy's) holds
	// open; 0 sizes the cap to the file-descriptor limit.
	MaxConnections int
	// BodyTimeout bounds how long a request may take to send its body, on every route.
	BodyTimeout time.Duration
	// MetricsAddr, when set, serves /metrics (and, with Pprof, /debug/pprof/) on a listener
	// of its own instead of /metrics on the API's.
	MetricsAddr string
	// Pprof serves Go's profiler on MetricsAddr.
	Pprof bool
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// LogFormat is text or json.
	LogFormat string

	// OIDCIssuer, when set, lets users sign in with access tokens from this OIDC issuer
	// (exactly as its tokens' iss claim reads, e.g. https://TENANT.auth0.com/).
	OIDCIssuer string
	// OIDCAudience is the aud the tokens must carry (an Auth0 API identifier).
	OIDCAudience string
	// OIDCAccount is the account a user joins on first sign-in.
	OIDCAccount string
	// OIDCAccountClaim, when set, names a claim whose value is the account to join instead.
	OIDCAccountClaim string
	// OIDCRole is the role (slug or id) a user gets on first sign-in.
	OIDCRole string
	// OIDCClientID and OIDCClientSecret let people sign in to the dashboard through the OIDC
	// issuer (Authorization Code with PKCE); the redirect URL is PublicURL/ui/callback.
	OIDCClientID     string
	OIDCClientSecret string

	// PublicURL is the URL clients reach the server at: the issuer (iss) and audience (aud)
	// of its access tokens, and the base of the URLs its OAuth metadata gives. Empty: the
	// listen address, as http(s)://ADDR. Nodes behind one load balancer must share it.
	PublicURL string
	// TokenLifetime is an access token's lifetime, never past its key's expiry.
	TokenLifetime time.Duration
	// SigningAlg is the algorithm of the keys that sign access tokens: EdDSA, ES256 or RS256.
	SigningAlg string
	// SigningKeyRotation is how long a signing key signs before the next takes over.
	SigningKeyRotation time.Duration

	// Redis, when set, is a redis:// or rediss:// URL: rate-limit state and usage credits
	// are kept there, shared by every node. Empty: rate limits are counted in each node's
	// memory and credits in the database. It may hold a password, so it is never logged.
	Redis string
	// RateLimits is on or off: off verifies keys without holding them to their tiers
	// (credits are still spent), for a deployment that limits elsewhere.
	RateLimits string
	// UsageRetention is how long per-minute usage counts are kept; 0 keeps them forever.
	UsageRetention time.Duration
	// UsageWriteEvery is how long usage counts are summed in memory before they are written
	// (verify.Config.UsageWriteEvery); 0 writes them every second.
	UsageWriteEvery time.Duration

	// TrustedProxies are the reverse proxies, as comma-separated IP addresses and CIDR
	// ranges, whose X-Forwarded-For Keyward believes when it decides where a request came
	// from (audit records, keys' networks, the gateway). Empty: none, the TCP peer is the
	// client.
	TrustedProxies string
	// GatewayPolicy is the file (YAML or JSON) of route rules the gateway endpoints apply:
	// which scopes, permissions and cost each route of the protected API needs.
	GatewayPolicy string
	// ProxyAddr, with ProxyUpstream, is where the keyed reverse proxy listens.
	ProxyAddr string
	// ProxyUpstream is the URL of the API the keyed reverse proxy protects; the policy file
	// may name more upstreams, by host and path prefix.
	ProxyUpstream string
	// ExtAuthzGRPCAddr, when set, serves Envoy's ext_authz gRPC Authorization service there.
	ExtAuthzGRPCAddr string

	// WebhookAllowPrivate lets webhooks reach loopback, private, link-local and other
	// non-public addresses (development, or receivers on Keyward's own network).
	WebhookAllowPrivate bool
	// WebhookCAFile is a PEM file of extra certificate authorities trusted for webhook
	// receivers (a private CA); the system's are trusted too.
	WebhookCAFile string
	// ScheduleEvery is how often scheduled rotation and expiry notices look for due keys.
	ScheduleEvery time.Duration
	// ExpiryNotice is how long before a key expires (or its grace ends) api_key.expiring is
	// sent.
	ExpiryNotice time.Duration
	// SecretScanningKeysURL is where GitHub's secret scanning public keys are fetched from;
	// "off" turns POST /v1/secret-scanning/github off.
	SecretScanningKeysURL string
	// Dashboard is on or off: the web UI under /ui/.
	Dashboard string
}

// DefaultSecretScanningKeysURL is GitHub's published secret scanning keys.
const DefaultSecretScanningKeysURL = "https://api.github.com/meta/public_keys/secret_scanning"

// Default returns the configuration with every default filled in.
func Default() Config {
	return Config{
		Addr:               "127.0.0.1:8080",
		DataDir:            "./keyward-data",
		CacheSize:          1_000_000,
		CacheTTL:           10 * time.Minute,
		CacheStaleBound:    30 * time.Minute,
		LastUsedResolution: time.Minute,
		ShutdownTimeout:    15 * time.Second,
		BodyTimeout:        10 * time.Second,
		LogLevel:           "info",
		LogFormat:          "text",
		OIDCAccount:        "default",
		OIDCRole:           "member",

		TokenLifetime:      time.Hour,
		SigningAlg:         "EdDSA",
		SigningKeyRotation: 30 * 24 * time.Hour,

		RateLimits:      "on",
		UsageRetention:  90 * 24 * time.Hour,
		UsageWriteEvery: time.Minute,

		ScheduleEvery:         time.Minute,
		ExpiryNotice:          7 * 24 * time.Hour,
		SecretScanningKeysURL: DefaultSecretScanningKeysURL,
		Dashboard:             "on",
	}
}

// Var describes one setting, for flags, the environment and the README's table.
type Var struct {
	Flag, Env, Usage string
}

// Vars lists every setting: the flag, its environment variable and what it does.
var Vars = []Var{
	{"addr", "KEYWARD_ADDR", "address to listen on"},
	{"data", "KEYWARD_DATA", "data directory: SQLite database and generated server secret (unused with --database)"},
	{"database", "KEYWARD_DATABASE_URL", "PostgreSQL URL (postgres://…) to keep the data in, shared by any number of nodes, instead of SQLite in --data; needs --server-secret (also KEYWARD_DATABASE_URL_FILE)"},
	{"server-secret", "KEYWARD_SERVER_SECRET", "key-hashing secret, VERSION:BASE64[,…] (also KEYWARD_SERVER_SECRET_FILE); default: DATA/server-secret, created on first start; required with --database"},
	{"cache-size", "KEYWARD_CACHE_SIZE", "verification cache size, in keys"},
	{"cache-ttl", "KEYWARD_CACHE_TTL", "the most a cached key may be older than its last read from the database and still verify: the last line of defence behind change events"},
	{"cache-refresh", "KEYWARD_CACHE_REFRESH", "the age from which a cached key in use is read again in the background, answering meanwhile (0: a fifth of --cache-ttl)"},
	{"cache-stale-bound", "KEYWARD_CACHE_STALE_BOUND", "while the database is unavailable, how long after it was read a cached key still verifies, past --cache-ttl (0: none)"},
	{"last-used-resolution", "KEYWARD_LAST_USED_RESOLUTION", "how far a key's last use must move before last_used_at is written again (0: every second)"},
	{"shutdown-timeout", "KEYWARD_SHUTDOWN_TIMEOUT", "how long a graceful shutdown may take"},
	{"max-connections", "KEYWARD_MAX_CONNECTIONS", "connections each listener holds open at most; past it a new one replaces the longest idle or slowest-to-send (0: three quarters of the file-descriptor limit, shared with the keyed proxy)"},
	{"body-timeout", "KEYWARD_BODY_TIMEOUT", "how long a request may take to send its body, on every route"},
	{"metrics-addr", "KEYWARD_METRICS_ADDR", "serve /metrics on this address instead of on the API's (default: on the API's)"},
	{"pprof", "KEYWARD_PPROF", "also serve Go's profiler under /debug/pprof/ on --metrics-addr (default: off)"},
	{"tls-cert", "KEYWARD_TLS_CERT", "serve HTTPS with this certificate (PEM file); needs --tls-key"},
	{"tls-key", "KEYWARD_TLS_KEY", "the private key (PEM file) of --tls-cert"},
	{"log-level", "KEYWARD_LOG_LEVEL", "debug, info, warn or error"},
	{"log-format", "KEYWARD_LOG_FORMAT", "text or json"},
	{"oidc-issuer", "KEYWARD_OIDC_ISSUER", "accept OIDC access tokens from this issuer (as its tokens' iss reads); needs --oidc-audience"},
	{"oidc-audience", "KEYWARD_OIDC_AUDIENCE", "the aud OIDC access tokens must carry (an Auth0 API identifier)"},
	{"oidc-account", "KEYWARD_OIDC_ACCOUNT", "the account a user joins on first sign-in"},
	{"oidc-account-claim", "KEYWARD_OIDC_ACCOUNT_CLAIM", "a token claim naming the account to join instead of --oidc-account"},
	{"oidc-role", "KEYWARD_OIDC_ROLE", "the role (slug or id) a user gets on first sign-in"},
	{"oidc-client-id", "KEYWARD_OIDC_CLIENT_ID", "the dashboard's client id at the OIDC issuer: people sign in there (Authorization Code with PKCE), redirected back to PUBLIC_URL/ui/callback"},
	{"oidc-client-secret", "KEYWARD_OIDC_CLIENT_SECRET", "the client secret of --oidc-client-id (also KEYWARD_OIDC_CLIENT_SECRET_FILE)"},
	{"public-url", "KEYWARD_PUBLIC_URL", "the URL clients reach Keyward at: the issuer and audience of its OAuth access tokens; default http(s)://ADDR, which only suits one node"},
	{"token-lifetime", "KEYWARD_TOKEN_LIFETIME", "lifetime of OAuth access tokens (1m to 24h), never past their key's expiry"},
	{"signing-alg", "KEYWARD_SIGNING_ALG", "algorithm of the keys that sign access tokens: EdDSA, ES256 or RS256"},
	{"signing-key-rotation", "KEYWARD_SIGNING_KEY_ROTATION", "how long a token-signing key signs before the next takes over (at least 1h)"},
	{"redis", "KEYWARD_REDIS_URL", "Redis URL (redis://…) to keep rate-limit state and usage credits in, shared by every node (also KEYWARD_REDIS_URL_FILE); default: each node's memory, credits in the database"},
	{"rate-limits", "KEYWARD_RATE_LIMITS", "on or off: off stops holding keys to their rate-limit tiers (usage credits still apply)"},
	{"usage-retention", "KEYWARD_USAGE_RETENTION", "how long per-minute usage counts are kept (0: forever)"},
	{"usage-write-every", "KEYWARD_USAGE_WRITE_EVERY", "how long usage counts are summed in memory before they are written, on the period's end (0: every second)"},
	{"trusted-proxies", "KEYWARD_TRUSTED_PROXIES", "comma-separated IPs and CIDR ranges of reverse proxies whose X-Forwarded-For is believed (default: none)"},
	{"gateway-policy", "KEYWARD_GATEWAY_POLICY", "YAML or JSON file of route rules for the gateway endpoints and the proxy: scopes, permissions and cost per method and path"},
	{"proxy-addr", "KEYWARD_PROXY_ADDR", "address the keyed reverse proxy listens on (with --proxy-upstream or the policy's upstreams)"},
	{"proxy-upstream", "KEYWARD_PROXY_UPSTREAM", "URL of the API the keyed reverse proxy forwards verified requests to"},
	{"ext-authz-grpc-addr", "KEYWARD_EXT_AUTHZ_GRPC_ADDR", "address to serve Envoy's ext_authz gRPC service on (default: off)"},
	{"webhook-allow-private", "KEYWARD_WEBHOOK_ALLOW_PRIVATE", "let webhooks reach loopback, private, link-local and metadata addresses (default: public addresses only)"},
	{"webhook-ca-file", "KEYWARD_WEBHOOK_CA_FILE", "PEM file of extra certificate authorities trusted for webhook receivers"},
	{"schedule-every", "KEYWARD_SCHEDULE_EVERY", "how often scheduled rotations and expiry notices look for due keys"},
	{"expiry-notice", "KEYWARD_EXPIRY_NOTICE", "how long before a key expires (or its grace ends) api_key.expiring is sent"},
	{"secret-scanning-keys-url", "KEYWARD_SECRET_SCANNING_KEYS_URL", "where GitHub's secret scanning public keys are fetched from; off turns POST /v1/secret-scanning/github off"},
	{"dashboard", "KEYWARD_DASHBOARD", "on or off: the web dashboard under /ui/"},
}

// FromEnv applies KEYWARD_* variables (and *_FILE for secrets) on top of c, using getenv.
func (c *Config) FromEnv(getenv func(string) string) error {
	var errs []error
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	num := func(name string, dst *int) {
		if v := getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a whole number", name, v))
				return
			}
			*dst = n
		}
	}
	dur := func(name string, dst *time.Duration) {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not a duration such as 30s", name, v))
				return
			}
			*dst = d
		}
	}
	// A secret's file, when given, wins over the variable itself.
	secret := func(name string, dst *string) {
		str(name, dst)
		if path := getenv(name + "_FILE"); path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s_FILE: %w", name, err))
			} else {
				*dst = strings.TrimSpace(string(b))
			}
		}
	}
	str("KEYWARD_ADDR", &c.Addr)
	str("KEYWARD_DATA", &c.DataDir)
	secret("KEYWARD_DATABASE_URL", &c.Database)
	secret("KEYWARD_SERVER_SECRET", &c.ServerSecret)
	num("KEYWARD_CACHE_SIZE", &c.CacheSize)
	dur("KEYWARD_CACHE_TTL", &c.CacheTTL)
	dur("KEYWARD_CACHE_REFRESH", &c.CacheRefresh)
	dur("KEYWARD_CACHE_STALE_BOUND", &c.CacheStaleBound)
	dur("KEYWARD_LAST_USED_RESOLUTION", &c.LastUsedResolution)
	dur("KEYWARD_SHUTDOWN_TIMEOUT", &c.ShutdownTimeout)
	num("KEYWARD_MAX_CONNECTIONS", &c.MaxConnections)
	dur("KEYWARD_BODY_TIMEOUT", &c.BodyTimeout)
	str("KEYWARD_METRICS_ADDR", &c.MetricsAddr)
	if v := getenv("KEYWARD_PPROF"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("KEYWARD_PPROF: %q is not true or false", v))
		}
		c.Pprof = b
	}
	str("KEYWARD_TLS_CERT", &c.TLSCert)
	str("KEYWARD_TLS_KEY", &c.TLSKey)
	str("KEYWARD_LOG_LEVEL", &c.LogLevel)
	str("KEYWARD_LOG_FORMAT", &c.LogFormat)
	str("KEYWARD_OIDC_ISSUER", &c.OIDCIssuer)
	str("KEYWARD_OIDC_AUDIENCE", &c.OIDCAudience)
	str("KEYWARD_OIDC_ACCOUNT", &c.OIDCAccount)
	str("KEYWARD_OIDC_ACCOUNT_CLAIM", &c.OIDCAccountClaim)
	str("KEYWARD_OIDC_ROLE", &c.OIDCRole)
	str("KEYWARD_OIDC_CLIENT_ID", &c.OIDCClientID)
	secret("KEYWARD_OIDC_CLIENT_SECRET", &c.OIDCClientSecret)
	str("KEYWARD_PUBLIC_URL", &c.PublicURL)
	dur("KEYWARD_TOKEN_LIFETIME", &c.TokenLifetime)
	str("KEYWARD_SIGNING_ALG", &c.SigningAlg)
	dur("KEYWARD_SIGNING_KEY_ROTATION", &c.SigningKeyRotation)
	secret("KEYWARD_REDIS_URL", &c.Redis)
	str("KEYWARD_RATE_LIMITS", &c.RateLimits)
	dur("KEYWARD_USAGE_RETENTION", &c.UsageRetention)
	dur("KEYWARD_USAGE_WRITE_EVERY", &c.UsageWriteEvery)
	str("KEYWARD_TRUSTED_PROXIES", &c.TrustedProxies)
	str("KEYWARD_GATEWAY_POLICY", &c.GatewayPolicy)
	str("KEYWARD_PROXY_ADDR", &c.ProxyAddr)
	str("KEYWARD_PROXY_UPSTREAM", &c.ProxyUpstream)
	str("KEYWARD_EXT_AUTHZ_GRPC_ADDR", &c.ExtAuthzGRPCAddr)
	if v := getenv("KEYWARD_WEBHOOK_ALLOW_PRIVATE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("KEYWARD_WEBHOOK_ALLOW_PRIVATE: %q is not true or false", v))
		}
		c.WebhookAllowPrivate = b
	}
	str("KEYWARD_WEBHOOK_CA_FILE", &c.WebhookCAFile)
	dur("KEYWARD_SCHEDULE_EVERY", &c.ScheduleEvery)
	dur("KEYWARD_EXPIRY_NOTICE", &c.ExpiryNotice)
	str("KEYWARD_SECRET_SCANNING_KEYS_URL", &c.SecretScanningKeysURL)
	str("KEYWARD_DASHBOARD", &c.Dashboard)
	return errors.Join(errs...)
}

// FlagSet is the subset of *pflag.FlagSet / *flag.FlagSet that BindFlags needs.
type FlagSet interface {
	StringVar(p *string, name, value, usage string)
	IntVar(p *int, name string, value int, usage string)
	DurationVar(p *time.Duration, name string, value time.Duration, usage string)
	BoolVar(p *bool, name string, value bool, usage string)
}

var _ FlagSet = (*flag.FlagSet)(nil)

// BindFlags registers a flag for every setting, defaulting to c's current values (so call it
// after FromEnv: flags win over the environment, which wins over defaults).
func (c *Config) BindFlags(fs FlagSet) {
	usage := func(name string) string {
		for _, v := range Vars {
			if v.Flag == name {
				return v.Usage + " (" + v.Env + ")"
			}
		}
		return ""
	}
	fs.StringVar(&c.Addr, "addr", c.Addr, usage("addr"))
	fs.StringVar(&c.DataDir, "data", c.DataDir, usage("data"))
	fs.StringVar(&c.Database, "database", c.Database, usage("database"))
	fs.StringVar(&c.ServerSecret, "server-secret", c.ServerSecret, usage("server-secret"))
	fs.IntVar(&c.CacheSize, "cache-size", c.CacheSize, usage("cache-size"))
	fs.DurationVar(&c.CacheTTL, "cache-ttl", c.CacheTTL, usage("cache-ttl"))
	fs.DurationVar(&c.CacheRefresh, "cache-refresh", c.CacheRefresh, usage("cache-refresh"))
	fs.DurationVar(&c.CacheStaleBound, "cache-stale-bound", c.CacheStaleBound, usage("cache-stale-bound"))
	fs.DurationVar(&c.LastUsedResolution, "last-used-resolution", c.LastUsedResolution, usage("last-used-resolution"))
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, usage("shutdown-timeout"))
	fs.IntVar(&c.MaxConnections, "max-connections", c.MaxConnections, usage("max-connections"))
	fs.DurationVar(&c.BodyTimeout, "body-timeout", c.BodyTimeout, usage("body-timeout"))
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, usage("metrics-addr"))
	fs.BoolVar(&c.Pprof, "pprof", c.Pprof, usage("pprof"))
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, usage("tls-cert"))
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, usage("tls-key"))
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, usage("log-level"))
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, usage("log-format"))
	fs.StringVar(&c.OIDCIssuer, "oidc-issuer", c.OIDCIssuer, usage("oidc-issuer"))
	fs.StringVar(&c.OIDCAudience, "oidc-audience", c.OIDCAudience, usage("oidc-audience"))
	fs.StringVar(&c.OIDCAccount, "oidc-account", c.OIDCAccount, usage("oidc-account"))
	fs.StringVar(&c.OIDCAccountClaim, "oidc-account-claim", c.OIDCAccountClaim, usage("oidc-account-claim"))
	fs.StringVar(&c.OIDCRole, "oidc-role", c.OIDCRole, usage("oidc-role"))
	fs.StringVar(&c.OIDCClientID, "oidc-client-id", c.OIDCClientID, usage("oidc-client-id"))
	fs.StringVar(&c.OIDCClientSecret, "oidc-client-secret", c.OIDCClientSecret, usage("oidc-client-secret"))
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, usage("public-url"))
	fs.DurationVar(&c.TokenLifetime, "token-lifetime", c.TokenLifetime, usage("token-lifetime"))
	fs.StringVar(&c.SigningAlg, "signing-alg", c.SigningAlg, usage("signing-alg"))
	fs.DurationVar(&c.SigningKeyRotation, "signing-key-rotation", c.SigningKeyRotation, usage("signing-key-rotation"))
	fs.StringVar(&c.Redis, "redis", c.Redis, usage("redis"))
	fs.StringVar(&c.RateLimits, "rate-limits", c.RateLimits, usage("rate-limits"))
	fs.DurationVar(&c.UsageRetention, "usage-retention", c.UsageRetention, usage("usage-retention"))
	fs.DurationVar(&c.UsageWriteEvery, "usage-write-every", c.UsageWriteEvery, usage("usage-write-every"))
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", c.TrustedProxies, usage("trusted-proxies"))
	fs.StringVar(&c.GatewayPolicy, "gateway-policy", c.GatewayPolicy, usage("gateway-policy"))
	fs.StringVar(&c.ProxyAddr, "proxy-addr", c.ProxyAddr, usage("proxy-addr"))
	fs.StringVar(&c.ProxyUpstream, "proxy-upstream", c.ProxyUpstream, usage("proxy-upstream"))
	fs.StringVar(&c.ExtAuthzGRPCAddr, "ext-authz-grpc-addr", c.ExtAuthzGRPCAddr, usage("ext-authz-grpc-addr"))
	fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", c.WebhookAllowPrivate, usage("webhook-allow-private"))
	fs.StringVar(&c.WebhookCAFile, "webhook-ca-file", c.WebhookCAFile, usage("webhook-ca-file"))
	fs.DurationVar(&c.ScheduleEvery, "schedule-every", c.ScheduleEvery, usage("schedule-every"))
	fs.DurationVar(&c.ExpiryNotice, "expiry-notice", c.ExpiryNotice, usage("expiry-notice"))
	fs.StringVar(&c.SecretScanningKeysURL, "secret-scanning-keys-url", c.SecretScanningKeysURL, usage("secret-scanning-keys-url"))
	fs.StringVar(&c.Dashboard, "dashboard", c.Dashboard, usage("dashboard"))
}

// BindDatabaseFlag registers only --database, for commands that work on the store without
// serving.
func (c *Config) BindDatabaseFlag(fs FlagSet) {
	for _, v := range Vars {
		if v.Flag == "database" {
			fs.StringVar(&c.Database, v.Flag, c.Database, v.Usage+" ("+v.Env+")")
		}
	}
}

// BindStoreFlags registers only the flags that locate the store and its secret, for commands
// that work on the data directory without serving (migrate, admin).
func (c *Config) BindStoreFlags(fs FlagSet) {
	for _, v := range Vars {
		switch v.Flag {
		case "data":
			fs.StringVar(&c.DataDir, v.Flag, c.DataDir, v.Usage+" ("+v.Env+")")
		case "server-secret":
			fs.StringVar(&c.ServerSecret, v.Flag, c.ServerSecret, v.Usage+" ("+v.Env+")")
		}
	}
}

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q is not host:port", c.Addr))
	}
	if c.Database == "" && c.DataDir == "" {
		errs = append(errs, errors.New("data directory must not be empty"))
	}
	if c.Database != "" {
		if err := checkDatabaseURL(c.Database); err != nil {
			errs = append(errs, err)
		}
		if c.ServerSecret == "" {
			errs = append(errs, ErrSharedSecretRequired)
		}
	}
	if c.ServerSecret != "" {
		if _, err := ParseSecrets(c.ServerSecret); err != nil {
			errs = append(errs, fmt.Errorf("server secret: %w", err))
		}
	}
	if c.CacheSize < 1 {
		errs = append(errs, fmt.Errorf("cache size must be at least 1, not %d", c.CacheSize))
	}
	if c.LastUsedResolution < 0 || c.LastUsedResolution > 24*time.Hour {
		errs = append(errs, fmt.Errorf("last-used resolution must be between 0 and 24h, not %s", c.LastUsedResolution))
	}
	if c.CacheTTL <= 0 {
		errs = append(errs, fmt.Errorf("cache TTL must be positive, not %s", c.CacheTTL))
	}
	if c.CacheRefresh < 0 || (c.CacheTTL > 0 && c.CacheRefresh >= c.CacheTTL) {
		errs = append(errs, fmt.Errorf("cache refresh must be 0 (a fifth of the cache TTL) or between 0 and the cache TTL (%s), not %s", c.CacheTTL, c.CacheRefresh))
	}
	if c.CacheStaleBound < 0 {
		errs = append(errs, fmt.Errorf("cache stale bound must not be negative, not %s", c.CacheStaleBound))
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("shutdown timeout must be positive, not %s", c.ShutdownTimeout))
	}
	if c.MaxConnections < 0 {
		errs = append(errs, fmt.Errorf("max connections must be 0 (sized to the descriptor limit) or more, not %d", c.MaxConnections))
	}
	if c.BodyTimeout <= 0 {
		errs = append(errs, fmt.Errorf("body timeout must be positive, not %s", c.BodyTimeout))
	}
	if c.Pprof && c.MetricsAddr == "" {
		errs = append(errs, errors.New("--pprof needs --metrics-addr: the profiler is never served on the API's listener"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("TLS needs both a certificate and a key"))
	} else if c.TLSCert != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey); err != nil {
			errs = append(errs, fmt.Errorf("TLS certificate and key: %w", err))
		}
	}
	if _, err := c.Level(); err != nil {
		errs = append(errs, err)
	}
	if c.OIDCIssuer != "" {
		if u, err := url.Parse(c.OIDCIssuer); err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
			errs = append(errs, fmt.Errorf("OIDC issuer %q must be an https URL (http only to a loopback host)", c.OIDCIssuer))
		}
		if c.OIDCAudience == "" {
			errs = append(errs, errors.New("OIDC needs an audience (--oidc-audience): without one, any token the issuer signs for any API would be accepted"))
		}
		if c.OIDCAccount == "" {
			errs = append(errs, errors.New("OIDC needs an account for first sign-ins (--oidc-account)"))
		}
	}
	if c.PublicURL != "" {
		if u, err := url.Parse(c.PublicURL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.RawQuery != "" || u.Fragment != "" {
			errs = append(errs, fmt.Errorf("public URL %q must be an http or https URL without query or fragment", c.PublicURL))
		}
	}
	if c.TokenLifetime < time.Minute || c.TokenLifetime > 24*time.Hour {
		errs = append(errs, fmt.Errorf("token lifetime must be between 1m and 24h, not %s", c.TokenLifetime))
	}
	switch c.SigningAlg {
	case "EdDSA", "ES256", "RS256":
	default:
		errs = append(errs, fmt.Errorf("signing algorithm must be EdDSA, ES256 or RS256, not %q", c.SigningAlg))
	}
	if c.Redis != "" {
		if u, err := url.Parse(c.Redis); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			// The URL may hold a password: the error does not quote it.
			errs = append(errs, errors.New("redis must be a redis:// or rediss:// URL with a host"))
		}
	}
	if c.RateLimits != "on" && c.RateLimits != "off" {
		errs = append(errs, fmt.Errorf("rate-limits must be on or off, not %q", c.RateLimits))
	}
	if _, err := c.Proxies(); err != nil {
		errs = append(errs, err)
	}
	for name, addr := range map[string]string{"proxy-addr": c.ProxyAddr, "ext-authz-grpc-addr": c.ExtAuthzGRPCAddr} {
		if _, _, err := net.SplitHostPort(addr); addr != "" && err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not host:port", name, addr))
		}
	}
	if c.ProxyUpstream != "" {
		if u, err := url.Parse(c.ProxyUpstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("proxy-upstream %q is not an http or https URL", c.ProxyUpstream))
		}
		if c.ProxyAddr == "" {
			errs = append(errs, errors.New("proxy-upstream needs proxy-addr: the address the proxy listens on"))
		}
	}
	if c.OIDCClientID != "" && c.OIDCIssuer == "" {
		errs = append(errs, errors.New("oidc-client-id needs oidc-issuer: the provider people sign in with"))
	}
	if c.Dashboard != "on" && c.Dashboard != "off" {
		errs = append(errs, fmt.Errorf("dashboard must be on or off, not %q", c.Dashboard))
	}
	if c.ScheduleEvery < time.Second {
		errs = append(errs, fmt.Errorf("schedule-every must be at least 1s, not %s", c.ScheduleEvery))
	}
	if c.ExpiryNotice < 0 {
		errs = append(errs, fmt.Errorf("expiry-notice must not be negative, not %s", c.ExpiryNotice))
	}
	if u := c.SecretScanningKeysURL; u != "off" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			errs = append(errs, fmt.Errorf("secret-scanning-keys-url %q is not an http or https URL, or off", u))
		}
	}
	if c.UsageRetention < 0 {
		errs = append(errs, fmt.Errorf("usage retention must not be negative, not %s", c.UsageRetention))
	}
	if c.UsageWriteEvery != 0 && (c.UsageWriteEvery < time.Second || c.UsageWriteEvery > time.Hour) {
		errs = append(errs, fmt.Errorf("usage write period must be 0 (every second) or between 1s and 1h, not %s", c.UsageWriteEvery))
	}
	if c.SigningKeyRotation < time.Hour {
		errs = append(errs, fmt.Errorf("signing-key rotation must be at least 1h, not %s", c.SigningKeyRotation))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("log format must be text or json, not %q", c.LogFormat))
	}
	return errors.Join(errs...)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Level is the configured log level.
func (c *Config) Level() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("log level must be debug, info, warn or error, not %q", c.LogLevel)
	}
	return l, nil
}

// DatabasePath is where the SQLite database lives.
func (c *Config) DatabasePath() string { return filepath.Join(c.DataDir, "keyward.db") }

// UsesPostgres reports whether the data is kept in PostgreSQL (Database is set) rather than
// in SQLite in the data directory.
func (c *Config) UsesPostgres() bool { return c.Database != "" }

// checkDatabaseURL reports whether dsn is a PostgreSQL URL. Its errors never quote dsn,
// which may hold a password.
func checkDatabaseURL(dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("database must be a postgres:// or postgresql:// URL (leave it empty for SQLite in the data directory)")
	}
	return nil
}

// RedactedDatabase is Database fit for a log: its password, in the user information or in a
// password query parameter, is replaced by "xxxxx".
func (c *Config) RedactedDatabase() string {
	u, err := url.Parse(c.Database)
	if err != nil {
		return "(a database URL that cannot be parsed)"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// ParseSecrets reads "VERSION:BASE64[,VERSION:BASE64…]", or one bare base64 value taken as
// version 1. Standard and URL-safe base64, padded or not, are accepted.
func ParseSecrets(s string) ([]keyformat.Secret, error) {
	var out []keyformat.Secret
	for part := range strings.SplitSeq(strings.TrimSpace(s), ",") {
		part = strings.TrimSpace(part)
		version, encoded := 1, part
		if v, rest, ok := strings.Cut(part, ":"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("version %q must be a positive whole number", v)
			}
			version, encoded = n, rest
		}
		value, err := decodeBase64(encoded)
		if err != nil {
			return nil, fmt.Errorf("version %d is not base64", version)
		}
		if len(value) < keyformat.SecretMinLen {
			return nil, fmt.Errorf("version %d is %d bytes; at least %d are needed", version, len(value), keyformat.SecretMinLen)
		}
		out = append(out, keyformat.Secret{Version: version, Value: value})
	}
	return out, nil
}

func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// Proxies returns the trusted proxies' networks: each entry a CIDR range or a single address.
func (c *Config) Proxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(c.TrustedProxies, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted-proxies: %q is neither an IP address nor a CIDR range", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}
