package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/internal/keyward"
)

// Policy is what the gateway asks of requests to the API it protects: per route, the scopes,
// permission query and cost a key needs, or that the route is public; the names of the
// identity headers it sends upstream; where the keyed proxy forwards; and how the Hasura
// webhook names roles. It is read from one YAML or JSON file (--gateway-policy).
type Policy struct {
	// Routes are matched as Go's http.ServeMux matches patterns: the most specific pattern
	// wins, whatever the order. A request no route matches needs a valid key and nothing
	// more (or what Default says).
	Routes []Rule `yaml:"routes"`
	// Default applies to requests no route matches.
	Default *Rule `yaml:"default"`
	// Headers renames the identity headers sent upstream.
	Headers HeaderNames `yaml:"headers"`
	// KeyHeader is a header to read keys from besides Authorization: Bearer and X-API-Key.
	KeyHeader string `yaml:"key_header"`
	// Upstreams are where the keyed reverse proxy forwards, by host and path prefix.
	Upstreams []Upstream `yaml:"upstreams"`
	// Hasura configures the Hasura auth webhook.
	Hasura HasuraPolicy `yaml:"hasura"`

	mux *http.ServeMux
}

// Rule is what one route needs.
type Rule struct {
	// Method is the HTTP method ("" for any); Path a ServeMux path pattern: {name}
	// wildcards, {name...} for the rest, a trailing slash for every path below.
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
	// Public routes need no key at all: requests pass without one (a key sent anyway is
	// not checked, and no identity headers are sent).
	Public bool `yaml:"public"`
	// Scopes must all be among the key's.
	Scopes []string `yaml:"scopes"`
	// Permissions is a query the key's permissions must satisfy ("orders.write AND
	// projects.p1.read").
	Permissions string `yaml:"permissions"`
	// Cost is the usage credits a request spends when the key has credits (default 1).
	Cost *int64 `yaml:"cost"`

	query keyward.PermissionQuery
}

// HeaderNames are the identity headers sent upstream on an allowed request. Empty fields take
// the defaults, X-Keyward-Key-Id and so on.
type HeaderNames struct {
	KeyID         string `yaml:"key_id"`
	AccountID     string `yaml:"account_id"`
	ProjectID     string `yaml:"project_id"`
	EnvironmentID string `yaml:"environment_id"`
	UserID        string `yaml:"user_id"`
	Role          string `yaml:"role"`
	Scopes        string `yaml:"scopes"`
}

// Upstream is one API the keyed proxy forwards to: requests for Host (any host when "")
// whose path starts with PathPrefix ("/" when "").
type Upstream struct {
	Host       string `yaml:"host"`
	PathPrefix string `yaml:"path_prefix"`
	URL        string `yaml:"url"`
	// KeepCredential forwards the key to the upstream too; by default it is removed.
	KeepCredential bool `yaml:"keep_credential"`

	target *url.URL
}

// Target is the upstream's URL, parsed.
func (u Upstream) Target() *url.URL { return u.target }

// HasuraPolicy says how the Hasura webhook answers.
type HasuraPolicy struct {
	// Roles maps a key's role slug to the Hasura role it acts as; a slug not mapped is used
	// as it is.
	Roles map[string]string `yaml:"roles"`
	// DefaultRole is the Hasura role of a key without a role (default "user").
	DefaultRole string `yaml:"default_role"`
	// MaxAge is how long Hasura may cache an answer (default 60s, never past the key's own
	// end; 0 turns caching off): a revoked key is refused by Hasura once its cached answer
	// ages out. It is written as a duration, "90s" or "5m"; read it with CacheFor.
	MaxAge string `yaml:"max_age"`

	maxAge time.Duration
}

// CacheFor is how long Hasura may cache an answer, before the key's own end is considered.
func (h HasuraPolicy) CacheFor() time.Duration { return h.maxAge }

// Default header names.
const (
	DefaultKeyIDHeader         = "X-Keyward-Key-Id"
	DefaultAccountIDHeader     = "X-Keyward-Account-Id"
	DefaultProjectIDHeader     = "X-Keyward-Project-Id"
	DefaultEnvironmentIDHeader = "X-Keyward-Environment-Id"
	DefaultUserIDHeader        = "X-Keyward-User-Id"
	DefaultRoleHeader          = "X-Keyward-Role"
	DefaultScopesHeader        = "X-Keyward-Scopes"
)

// LoadPolicy reads and checks a policy file (YAML; JSON is YAML too). Every problem is
// reported at once.
func LoadPolicy(file string) (*Policy, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("gateway policy: %w", err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("gateway policy %s: %w", file, err)
	}
	return p, nil
}

// ParsePolicy reads and checks a policy. An empty one needs a valid key on every route.
func ParsePolicy(b []byte) (*Policy, error) {
	p := &Policy{}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	// A *yaml.TypeError (an unknown field, a list where a string belongs) leaves the rest
	// decoded, so the checks still run and every mistake is reported at once.
	var typeErr *yaml.TypeError
	err := dec.Decode(p)
	if err != nil && !errors.Is(err, io.EOF) && !errors.As(err, &typeErr) {
		return nil, err
	}
	if typeErr == nil {
		err = nil
	}
	if err := errors.Join(err, p.check()); err != nil {
		return nil, err
	}
	return p, nil
}

// check validates every rule, upstream and name, builds the route table, and reports every
// problem at once.
func (p *Policy) check() error {
	var errs []error
	p.mux = http.NewServeMux()
	for i := range p.Routes {
		r := &p.Routes[i]
		where := fmt.Sprintf("routes[%d]", i)
		errs = append(errs, r.check(where)...)
		pattern := r.Path
		if r.Method != "" {
			pattern = r.Method + " " + r.Path
		}
		if r.Path == "" || !strings.HasPrefix(r.Path, "/") {
			errs = append(errs, fmt.Errorf("%s: path must start with /, not %q", where, r.Path))
			continue
		}
		if err := register(p.mux, pattern, i); err != nil {
			errs = append(errs, fmt.Errorf("%s: %v", where, err))
		}
	}
	if p.Default != nil {
		if p.Default.Method != "" || p.Default.Path != "" {
			errs = append(errs, errors.New("default: takes no method or path: it is what no route matches"))
		}
		errs = append(errs, p.Default.check("default")...)
	}
	for field, name := range map[string]string{
		"headers.key_id": p.Headers.KeyID, "headers.account_id": p.Headers.AccountID, "headers.project_id": p.Headers.ProjectID,
		"headers.environment_id": p.Headers.EnvironmentID, "headers.user_id": p.Headers.UserID, "headers.role": p.Headers.Role,
		"headers.scopes": p.Headers.Scopes, "key_header": p.KeyHeader,
	} {
		if name != "" && !validHeaderName(name) {
			errs = append(errs, fmt.Errorf("%s: %q is not a header name", field, name))
		}
	}
	p.Headers.fill()
	for i := range p.Upstreams {
		u := &p.Upstreams[i]
		where := fmt.Sprintf("upstreams[%d]", i)
		target, err := url.Parse(u.URL)
		if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
			errs = append(errs, fmt.Errorf("%s: url %q is not an http or https URL", where, u.URL))
		}
		u.target = target
		if u.PathPrefix == "" {
			u.PathPrefix = "/"
		}
		if !strings.HasPrefix(u.PathPrefix, "/") {
			errs = append(errs, fmt.Errorf("%s: path_prefix must start with /, not %q", where, u.PathPrefix))
		}
	}
	// The most specific upstream first: a longer prefix, then one that names a host.
	slices.SortStableFunc(p.Upstreams, func(a, b Upstream) int {
		if len(a.PathPrefix) != len(b.PathPrefix) {
			return len(b.PathPrefix) - len(a.PathPrefix)
		}
		return len(b.Host) - len(a.Host)
	})
	if p.Hasura.DefaultRole == "" {
		p.Hasura.DefaultRole = "user"
	}
	p.Hasura.maxAge = time.Minute
	if s := p.Hasura.MaxAge; s != "" {
		d, err := time.ParseDuration(s)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("hasura.max_age: %q is not a duration such as 60s", s))
		case d < 0:
			errs = append(errs, errors.New("hasura.max_age must not be negative"))
		}
		p.Hasura.maxAge = d
	}
	return errors.Join(errs...)
}

func (r *Rule) check(where string) []error {
	var errs []error
	if r.Public && (len(r.Scopes) > 0 || r.Permissions != "" || r.Cost != nil) {
		errs = append(errs, fmt.Errorf("%s: a public route needs no key, so it takes no scopes, permissions or cost", where))
	}
	for _, s := range r.Scopes {
		if !keyward.ScopePattern.MatchString(s) || len(s) > keyward.MaxScopeLen {
			errs = append(errs, fmt.Errorf("%s: scope %q is not a scope", where, s))
		}
	}
	if r.Permissions != "" {
		q, err := keyward.ParsePermissionQuery(r.Permissions)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s", where, keyward.ErrorMessage(err)))
		}
		r.query = q
	}
	if r.Cost != nil && (*r.Cost < 0 || *r.Cost > keyward.MaxCredits) {
		errs = append(errs, fmt.Errorf("%s: cost must be between 0 and %d", where, int64(keyward.MaxCredits)))
	}
	if r.Method != "" && r.Method != strings.ToUpper(r.Method) {
		errs = append(errs, fmt.Errorf("%s: method %q must be upper case, as GET", where, r.Method))
	}
	return errs
}

// register adds pattern to mux, turning ServeMux's panic on a bad or conflicting pattern
// into an error.
func register(mux *http.ServeMux, pattern string, index int) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%v", v)
		}
	}()
	mux.Handle(pattern, ruleHandler(index))
	return nil
}

// ruleHandler is the route table's entry: it is never served, only looked up.
type ruleHandler int

func (ruleHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

func (h *HeaderNames) fill() {
	for _, f := range []struct {
		name *string
		def  string
	}{
		{&h.KeyID, DefaultKeyIDHeader}, {&h.AccountID, DefaultAccountIDHeader}, {&h.ProjectID, DefaultProjectIDHeader},
		{&h.EnvironmentID, DefaultEnvironmentIDHeader}, {&h.UserID, DefaultUserIDHeader}, {&h.Role, DefaultRoleHeader},
		{&h.Scopes, DefaultScopesHeader},
	} {
		if *f.name == "" {
			*f.name = f.def
		}
		*f.name = textproto.CanonicalMIMEHeaderKey(*f.name)
	}
}

// all lists every identity header name, for stripping them from requests.
func (h HeaderNames) all() []string {
	return []string{h.KeyID, h.AccountID, h.ProjectID, h.EnvironmentID, h.UserID, h.Role, h.Scopes}
}

func validHeaderName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return s != ""
}

// defaultRule is what a route no rule matches needs: a valid key.
var defaultRule = Rule{}

// Match returns the rule for a request's method and path: the most specific route pattern
// that matches, or the default.
func (p *Policy) Match(method, rawPath string) *Rule {
	def := &defaultRule
	if p == nil {
		return def
	}
	if p.Default != nil {
		def = p.Default
	}
	if p.mux == nil || len(p.Routes) == 0 {
		return def // nothing to match: no need to build a request for the mux
	}
	r := &http.Request{Method: method, URL: &url.URL{Path: cleanPath(rawPath)}}
	if h, pattern := p.mux.Handler(r); pattern != "" {
		if i, ok := h.(ruleHandler); ok {
			return &p.Routes[i]
		}
	}
	return def
}

// cleanPath is a request path as routes match it: absolute, without dot segments or doubled
// slashes, keeping a trailing slash. A path the upstream would clean to another route
// cannot slip past the rule for that route.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	cleaned := path.Clean(p)
	if strings.HasSuffix(p, "/") && cleaned != "/" {
		cleaned += "/"
	}
	return cleaned
}
