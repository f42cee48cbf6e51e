// Package httpapi serves Keyward's REST API: the management routes under /v1, the verify
// route on the hot path, health checks, and the OpenAPI document that describes them all.
//
// Management handlers are registered through huma, so that the OpenAPI document is derived
// from the handlers' own types and cannot drift from them. The verify route is a plain
// net/http handler, because it runs on every request of every customer's API; it is described
// in the same document by hand, and a test walks the route table to keep both true.
package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/events"
	"github.com/keyward/keyward/internal/gateway"
	"github.com/keyward/keyward/internal/httpapi/compat"
	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/oauth"
	"github.com/keyward/keyward/internal/secretscan"
	"github.com/keyward/keyward/internal/verify"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// Config is what a Server needs.
type Config struct {
	Service       *keyward.Service
	Verifier      *verify.Verifier
	Authenticator *authn.Authenticator
	Logger        *slog.Logger
	// Version is reported in the OpenAPI document and, with Commit and BuildDate, in the
	// keyward_build_info metric; the command passes what 'keyward version' prints.
	Version string
	// Commit is the VCS revision the binary was built from; "" is reported as unknown.
	Commit string
	// BuildDate is when the binary was built (or its commit's time); "" is unknown.
	BuildDate string
	// Tokens, when set, serves the OAuth routes and lets access tokens stand in for keys.
	Tokens *oauth.Tokens
	// Ready, when set, is asked by /readyz after the store answers: for example whether this
	// node hears other nodes' cache invalidations.
	Ready func(context.Context) error
	// TrustedProxies are the reverse proxies whose X-Forwarded-For says where a request came
	// from (--trusted-proxies); none by default.
	TrustedProxies httpwire.Proxies
	// Gateway, when set, serves the front doors' endpoints under /gateway/.
	Gateway *gateway.Gateway
	// SecretScanning, when set, serves POST /v1/secret-scanning/github with these keys;
	// without it the route answers 404.
	SecretScanning *secretscan.Verifier
	// Events, when set, serves GET /v1/events: the changes the node's cache hears, for
	// caches of verdicts outside it (the Go middleware). Without it the route answers 503.
	Events *events.Hub
	// HealthChecks are the dependencies /metrics reports as keyward_up{component}.
	HealthChecks []HealthCheck
	// Collectors are more metrics to serve with the server's own (the connection cap's).
	Collectors []prometheus.Collector
	// MetricsElsewhere leaves /metrics off this handler: it is served on a listener of its
	// own, from MetricsHandler.
	MetricsElsewhere bool
}

// Route is one method and path the server answers, as registered on its router.
type Route struct {
	Method string
	Path   string
}

// Server is Keyward's HTTP handler.
type Server struct {
	svc      *keyward.Service
	verifier *verify.Verifier
	authn    *authn.Authenticator
	log      *slog.Logger
	ready    func(context.Context) error
	tokens   *oauth.Tokens
	proxies  httpwire.Proxies
	// clients authenticates OAuth clients (keys) and slows down guessing their secrets.
	clients *oauth.Clients
	metrics *metrics
	// metricsElsewhere: /metrics is served on its own listener, not here.
	metricsElsewhere bool
	events           *events.Hub
	// scanning verifies GitHub's secret scanning alerts; nil turns them off.
	scanning *secretscan.Verifier
	// heartbeat is how often an idle event stream gets a comment line (heartbeatEvery).
	heartbeat time.Duration
	shutdowns shutdowns
	// docs is the OpenAPI document as served, marshalled on first request.
	docs documents

	mux    *http.ServeMux
	api    huma.API
	routes []Route
}

// New returns a Server with every route registered.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Version == "" {
		cfg.Version = "dev"
	}
	s := &Server{
		svc:              cfg.Service,
		verifier:         cfg.Verifier,
		authn:            cfg.Authenticator,
		log:              cfg.Logger,
		ready:            cfg.Ready,
		tokens:           cfg.Tokens,
		proxies:          cfg.TrustedProxies,
		mux:              http.NewServeMux(),
		metrics:          newMetrics(cfg.Verifier, buildLabels{cfg.Version, cfg.Commit, cfg.BuildDate}, cfg.HealthChecks, append(cfg.Collectors[:len(cfg.Collectors):len(cfg.Collectors)], auditBacklogGauge(cfg.Service))),
		metricsElsewhere: cfg.MetricsElsewhere,
		clients:          oauth.NewClients(cfg.Verifier, nil),
		events:           cfg.Events,
		scanning:         cfg.SecretScanning,
		heartbeat:        heartbeatEvery,
	}
	useProblems()
	s.api = humago.New(s.mux, apiConfig(cfg.Version))
	s.registerRoutes()
	s.registerGateway(cfg.Gateway)
	s.registerDocuments()
	s.registerReference()
	s.finishDocument()
	s.registerFallbacks()
	return s
}

func apiConfig(version string) huma.Config {
	// Not huma.DefaultConfig: its link transformer adds a $schema field to every body, which
	// would change the shapes the seed documents fix; and its docs page loads from a CDN.
	registry := huma.NewMapRegistry(schemaPrefix, schemaNamer)
	return huma.Config{
		OpenAPI: &huma.OpenAPI{
			OpenAPI: "3.1.0",
			Info: &huma.Info{
				Title:       "Keyward",
				Version:     version,
				Description: "Self-hosted API key service: issue, verify, rotate and revoke API keys.",
			},
			Components: &huma.Components{
				Schemas: registry,
				SecuritySchemes: map[string]*huma.SecurityScheme{
					"bearer": {Type: "http", Scheme: "bearer", Description: "One of: an OIDC access token from the configured issuer (a user); a Keyward API key, acting with its role's permissions; or an admin key (kwadmin_…), printed once by `keyward serve` on first start or made by `keyward admin create-key`."},
					"apiKey": {Type: "apiKey", In: "header", Name: "X-API-Key", Description: "A Keyward API key, as seed 003 sends it."},
				},
			},
		},
		// Served by registerDocuments, which finishes the 3.0 form huma leaves half 3.1.
		OpenAPIPath:   "",
		Formats:       jsonFormats,
		DefaultFormat: "application/json",
	}
}

// Routes lists every route registered on the router, in registration order.
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }

// OpenAPI returns the server's OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
			httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusInternalServerError, "an internal error occurred"))
		}
	}()
	h := w.Header()
	h["X-Content-Type-Options"] = nosniff
	h["Cache-Control"] = noStore
	start := time.Now()
	sw := statusWriters.Get().(*statusWriter)
	*sw = statusWriter{ResponseWriter: w, status: http.StatusOK}
	defer func() {
		*sw = statusWriter{}
		statusWriters.Put(sw)
	}()
	if r.Method == http.MethodPost && r.URL.Path == verifyPath {
		// The hottest route skips the router's pattern match (0.7 µs of a verification's
		// 40 µs of server CPU in a profile of bench/load); the router would choose it for
		// exactly these requests (TestVerifyFastPathIsTheRoutersChoice).
		r.Pattern = verifyPattern
		s.verifyKey(sw, r)
	} else {
		s.mux.ServeHTTP(sw, r)
	}
	took := time.Since(start)
	// The router has set r.Pattern to the route it chose.
	s.metrics.observe(r.Pattern, sw.status, took)
	if !s.log.Enabled(r.Context(), slog.LevelDebug) {
		return
	}
	// The access log is for debugging, so the hot path pays for it only when asked. It
	// records the path but never the query, body or headers, where credentials travel.
	s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", took, "remote", r.RemoteAddr)
}

// Header values set on the hottest answers, shared rather than built per request
// (Header.Set allocates a slice each time). Nothing modifies a value slice once it is set:
// a handler that sets the header again replaces it.
var (
	nosniff         = []string{"nosniff"}
	noStore         = []string{"no-store"}
	jsonContentType = []string{"application/json"}
)

// statusWriters are reused: every request gets one, and the verify path counts its
// allocations.
var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

// statusWriter remembers the status a handler wrote, for the metrics and the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// register registers a huma operation and records its route.
func register[I, O any](s *Server, op huma.Operation, handler func(context.Context, *I) (*O, error)) {
	s.routes = append(s.routes, Route{Method: op.Method, Path: op.Path})
	if op.MaxBodyBytes == 0 {
		op.MaxBodyBytes = MaxBodyBytes
	}
	op.Errors = append(op.Errors, http.StatusBadRequest, http.StatusUnprocessableEntity)
	huma.Register(s.api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := handler(ctx, in)
		if err != nil {
			return nil, problemFor(s.log, err)
		}
		return out, nil
	})
}

// route is one operation of a resource's route table: its description and its handler, a
// method of *Server.
type route struct {
	op  huma.Operation
	add func(*Server, huma.Operation)
}

// operation pairs op with its handler for a route table. huma.Register is generic in the
// handler's input and output, so the route keeps the typed call until it is added.
func operation[I, O any](op huma.Operation, handler func(context.Context, *I) (*O, error)) route {
	return route{op: op, add: func(s *Server, op huma.Operation) { register(s, op, handler) }}
}

// managed marks op as a management operation: it needs a credential, and its handler finds
// the principal with principal(ctx). The service audits what it changes (and what it
// refuses to change); the route only says who asks and from where.
func (s *Server) managed(op huma.Operation) huma.Operation {
	op.Security = []map[string][]string{{"bearer": {}}, {"apiKey": {}}}
	// 503: the credential or the operation needed the store and it was away (with
	// Retry-After); see docs/operations.md, When the database goes away.
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusServiceUnavailable)
	op.Middlewares = append(op.Middlewares, s.requireAuth)
	return op
}

// actionOf is the audit action a management operation performs: the canonical routes are
// named as the domain names its actions; reads change nothing and are not audited.
func actionOf(op *huma.Operation) string {
	if op.Method == http.MethodGet {
		return ""
	}
	return op.OperationID
}

// requestInfo puts what the domain needs of a request into its context: where it came from
// (behind trusted proxies, the client they name), for the audit log and keys' networks, and
// the action the route performs.
func (s *Server) requestInfo(ctx context.Context, remoteAddr string, forwardedFor []string, action string) context.Context {
	addr := ""
	if ip := s.proxies.ClientIPOf(remoteAddr, forwardedFor); ip.IsValid() {
		addr = ip.String()
	}
	return keyward.WithRequestInfo(ctx, keyward.RequestInfo{RemoteAddr: addr, Action: action})
}

func (s *Server) requireAuth(ctx huma.Context, next func(huma.Context)) {
	var forwardedFor []string
	ctx.EachHeader(func(name, value string) {
		if strings.EqualFold(name, "X-Forwarded-For") {
			forwardedFor = append(forwardedFor, value)
		}
	})
	c := s.requestInfo(ctx.Context(), ctx.RemoteAddr(), forwardedFor, actionOf(ctx.Operation()))
	a, err := s.authn.Authenticate(c, headerOf(ctx))
	if err != nil {
		prob := refused(s.log, a, err)
		for k, vs := range prob.GetHeaders() {
			for _, v := range vs {
				ctx.AppendHeader(k, v)
			}
		}
		// Written as it is, not through huma.WriteErr, which would rebuild the problem from
		// its status and lose its code (usage_exceeded is a 429 like rate_limited).
		ctx.SetHeader("Content-Type", "application/problem+json")
		ctx.SetStatus(prob.Status)
		_ = json.NewEncoder(ctx.BodyWriter()).Encode(prob)
		return
	}
	next(huma.WithContext(ctx, authn.NewContext(c, a.Principal)))
}

// headerOf exposes the headers authentication reads; huma.Context has no http.Header.
func headerOf(ctx huma.Context) http.Header {
	h := http.Header{}
	for _, name := range []string{"Authorization", authn.APIKeyHeader} {
		if v := ctx.Header(name); v != "" {
			h.Set(name, v)
		}
	}
	return h
}

func principal(ctx context.Context) keyward.Principal {
	p, ok := authn.FromContext(ctx)
	if !ok {
		// requireAuth runs before every managed handler; reaching here is a wiring bug.
		panic("httpapi: managed handler ran without a principal")
	}
	return p
}

// principalWith is principal(ctx) when it may do perm account-wide: for the routes that
// serve the account's keys as a whole (their events, their reported use), which no service
// method guards.
func principalWith(ctx context.Context, perm string) (keyward.Principal, error) {
	p := principal(ctx)
	if !p.Can(perm, "") {
		return p, keyward.Errorf(keyward.EForbidden, "this needs the %s permission", perm)
	}
	return p, nil
}

// handle registers a plain net/http handler and records its route. doc, if not nil,
// describes it in the OpenAPI document.
func (s *Server) handle(method, path string, h http.HandlerFunc, doc *huma.Operation) {
	s.routes = append(s.routes, Route{Method: method, Path: path})
	s.mux.HandleFunc(method+" "+path, h)
	if doc != nil {
		doc.Method, doc.Path = method, path
		s.api.OpenAPI().AddOperation(doc)
	}
}

// audited gives a plain handler's requests the domain's request information: where they
// came from and the route's action.
func (s *Server) audited(action string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r.WithContext(s.requestInfo(r.Context(), r.RemoteAddr, r.Header.Values("X-Forwarded-For"), action)))
	}
}

// tryHandle registers h for pattern, and reports false instead of panicking when the
// pattern conflicts with one already registered.
func (s *Server) tryHandle(pattern string, h http.HandlerFunc) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	s.mux.HandleFunc(pattern, h)
	return true
}

// registerFallbacks answers unknown paths and wrong methods with problem documents instead of
// the router's plain-text defaults.
func (s *Server) registerFallbacks() {
	allowed := map[string][]string{}
	for _, r := range s.routes {
		if r.Method == AnyMethod {
			continue // answers every method itself
		}
		allowed[r.Path] = append(allowed[r.Path], r.Method)
	}
	for path, methods := range allowed {
		if slices.Contains(methods, http.MethodGet) {
			methods = append(methods, http.MethodHead)
		}
		allow := strings.Join(methods, ", ")
		notAllowed := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusMethodNotAllowed, r.Method+" is not allowed here; allowed: "+allow))
		}
		if !s.tryHandle(path, notAllowed) {
			// A literal path beside a wildcard one (POST /v1/api-keys/import beside GET
			// /v1/api-keys/{keyID}) cannot take every method: name the others one by one.
			for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
				if !slices.Contains(methods, m) {
					s.tryHandle(m+" "+path, notAllowed)
				}
			}
		}
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusNotFound, "no route for "+r.Method+" "+r.URL.Path))
	})
}

func (s *Server) registerRoutes() {
	s.registerHealth()
	s.registerVerify()
	// The management API: one route table per resource, each in its own file. The order is
	// the order of Routes() and of the methods in each path's Allow header.
	for _, routes := range [][]route{
		s.projectRoutes(), s.environmentRoutes(), s.keyRoutes(),
		s.tierRoutes(), s.tierRequestRoutes(), s.usageRoutes(), s.usageReportRoutes(), s.eventRoutes(),
		s.whoamiRoutes(), s.accountRoutes(), s.userRoutes(), s.roleRoutes(), s.memberRoutes(),
		s.auditRoutes(), s.webhookRoutes(), s.importRoutes(),
	} {
		for _, rt := range routes {
			rt.add(s, s.managed(rt.op))
		}
	}
	for _, rt := range s.leakRoutes() {
		rt.add(s, rt.op)
	}
	s.registerSecretScanning()
	s.registerOAuth()
	for _, rt := range compat.Routes(compat.Config{
		Service:       s.svc,
		Authenticator: s.authn,
		Logger:        s.log,
	}, s.api.OpenAPI().Components.Schemas) {
		s.handle(rt.Method, rt.Path, s.audited(rt.Action, rt.Handler), rt.Doc)
	}
}

func (s *Server) registerHealth() {
	if !s.metricsElsewhere {
		s.registerMetrics()
	}
	s.handle(http.MethodGet, "/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	}, &huma.Operation{OperationID: "healthz", Description: "Answers 200 while the process serves; it asks nothing of the store. For a liveness probe.", Summary: "Liveness: the process is serving", Tags: []string{"Health"},
		Responses: map[string]*huma.Response{"200": {Description: "The process is up."}}})

	s.handle(http.MethodGet, "/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := s.svc.Ping(ctx); err != nil {
			s.log.Warn("readiness check failed", "err", err)
			httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusServiceUnavailable, "the store is not answering"))
			return
		}
		if s.ready != nil {
			if err := s.ready(ctx); err != nil {
				s.log.Warn("readiness check failed", "err", err)
				httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusServiceUnavailable, "this node is not ready: it does not hear other nodes' cache invalidations"))
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ready"}` + "\n"))
	}, &huma.Operation{OperationID: "readyz", Description: "200 when the store answers (and, with several nodes, this node hears the others' cache invalidations); 503 otherwise. For a readiness probe or a load balancer's health check.", Summary: "Readiness: the store answers", Tags: []string{"Health"},
		Responses: map[string]*huma.Response{"200": {Description: "Ready to serve."}, "503": {Description: "The store is not answering."}}})
}
