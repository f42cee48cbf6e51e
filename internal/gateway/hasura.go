package gateway

import (
	"encoding/json"
	"net/http"
	"net/textproto"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/httpwire"
)

// Hasura's auth webhook (https://hasura.io/docs/latest/auth/authentication/webhook/): Hasura
// asks, for each GraphQL request, who the client is. In GET mode the client's headers arrive
// as the webhook request's own; in POST mode they arrive in a JSON body,
// {"headers": {…}, "request": {"query": …}}. The answer is 200 with the session variables,
// every value a string, and "Cache-Control" inside the body; or 401, which Hasura turns into
// an error for the client.
//
// A request that carries X-Hasura-Admin-Secret is never answered as a key's: an admin secret
// is Hasura's own business, and a key must not be a way to pose as one.

// hasuraBody is POST mode's request.
type hasuraBody struct {
	Headers map[string]string `json:"headers"`
	Request json.RawMessage   `json:"request"`
}

// maxHasuraBody bounds POST mode's body: headers and a GraphQL request.
const maxHasuraBody = 256 << 10

// Hasura answers the webhook in both modes. The auth URL's query may set the requirements,
// as for the other front doors; the route policy is not consulted, since every GraphQL
// request goes to one path.
func (g *Gateway) Hasura() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header
		if r.Method == http.MethodPost {
			var body hasuraBody
			if err := (httpwire.Decoding{Limit: maxHasuraBody, AllowUnknownFields: true}).Decode(w, r, &body); err != nil {
				httpwire.WriteProblem(w, httpwire.ProblemFor(g.log, err))
				return
			}
			h = http.Header{}
			for k, v := range body.Headers {
				h.Set(textproto.CanonicalMIMEHeaderKey(k), v)
			}
		}
		if h.Get("X-Hasura-Admin-Secret") != "" {
			writeHasuraDenied(w)
			return
		}
		d := g.Decide(r.Context(), Request{
			Method: http.MethodPost, Path: "/", Header: h, ClientIP: g.proxies.ClientIPOf(r.RemoteAddr, h.Values("X-Forwarded-For")),
			Override: r.URL.Query(),
		})
		if !d.Allowed() || d.Public {
			writeHasuraDenied(w)
			return
		}
		vars := g.sessionVariables(d)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store") // this answer; Hasura's own caching is in the body
		_ = json.NewEncoder(w).Encode(vars)
	})
}

// sessionVariables are the Hasura session of an allowed key: who it acts for, in which role,
// tenant and project, and how long Hasura may cache that.
func (g *Gateway) sessionVariables(d Decision) map[string]string {
	res := d.Verdict
	k := res.Key
	vars := map[string]string{"X-Hasura-Key-Id": k.ID, "X-Hasura-Tenant-Id": k.AccountID}
	user, project, role := k.UserID, k.ProjectID, ""
	if res.Identity != nil {
		role = res.Identity.RoleSlug()
	}
	if tok := res.Token; tok != nil {
		vars["X-Hasura-Key-Id"], user, project, role = tok.ClientID, tok.UserID, tok.ProjectID, tok.RoleSlug
	}
	if user != "" {
		vars["X-Hasura-User-Id"] = user
	}
	if project != "" {
		vars["X-Hasura-Project-Id"] = project
	}
	hp := g.policy.Hasura
	switch mapped, ok := hp.Roles[role]; {
	case ok:
		vars["X-Hasura-Role"] = mapped
	case role != "":
		vars["X-Hasura-Role"] = role
	default:
		vars["X-Hasura-Role"] = hp.DefaultRole
	}
	maxAge := min(hp.CacheFor(), g.remaining(d))
	vars["Cache-Control"] = "max-age=" + strconv.Itoa(int(maxAge/time.Second))
	return vars
}

func writeHasuraDenied(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"error":"unauthorized"}` + "\n"))
}
