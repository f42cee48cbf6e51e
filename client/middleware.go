package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MiddlewareOptions configures Client.Middleware.
type MiddlewareOptions struct {
	// Header is where callers put their key. "" (or "Authorization") means the
	// "Authorization: Bearer <key>" scheme; any other name, such as "X-API-Key", is read as
	// the bare key.
	Header string
	// RequiredScopes must all be among the key's scopes; a key lacking one gets 403.
	RequiredScopes []string
	// OnError, when set, writes the refusal instead of the default problem+json answer. status
	// is 401, 403, 429 or 503; result is nil when no verdict was reached (missing key,
	// Keyward unreachable) and err is non-nil only in the latter case. The WWW-Authenticate
	// header is already set for 401 and 403.
	OnError func(w http.ResponseWriter, r *http.Request, status int, result *VerifyResult, err error)
	// LocalVerify verifies in-process after a key's first request: the middleware keeps
	// Keyward's valid verdicts (keyed by the SHA-256 of the key, in a cache bounded by
	// WithLocalCacheSize and shared by the Client's middlewares), follows Keyward's event
	// stream to drop those a change makes stale (a revocation is refused within about a
	// second), holds each key to its own rate limit in-process, and reports the uses it
	// decided once a second so that they count in usage and last_used_at. Whenever the
	// stream is down it keeps nothing and asks Keyward about every request: it never
	// accepts on a stale verdict. It needs the Client's token to be a credential with
	// api_keys.read in the account of the keys it protects; other accounts' keys, access
	// tokens and keys with usage credits (spent exactly, by Keyward) are always verified
	// remotely. Call Client.Close at the end to send the last report.
	//
	// The trade-off is the rate limit: each process holds a key to it on its own, so N
	// processes may let through up to N times the rate (and the quota), and uses decided
	// in-process do not spend the key's limit on Keyward. False (the default) asks Keyward
	// about every request, for limits shared exactly.
	LocalVerify bool
}

type verifyResultKey struct{}

// ContextWithVerifyResult returns a copy of ctx that carries res, as the middleware does. It
// is useful for testing handlers that sit behind the middleware.
func ContextWithVerifyResult(ctx context.Context, res *VerifyResult) context.Context {
	return context.WithValue(ctx, verifyResultKey{}, res)
}

// VerifyResultFrom returns the verdict the middleware stored in a request's context, and
// whether there is one. A verdict answered from a LocalVerify cache is shared by every
// request it answers: do not modify it. Its RateLimit is nil.
func VerifyResultFrom(ctx context.Context) (*VerifyResult, bool) {
	res, ok := ctx.Value(verifyResultKey{}).(*VerifyResult)
	return res, ok && res != nil
}

// Middleware returns net/http middleware that lets a request through only with a valid
// Keyward API key, verified by the server on every request, or, with LocalVerify, on a
// key's first request and then in-process. The handler then finds the verdict with
// VerifyResultFrom(r.Context()).
//
// It answers 401 with WWW-Authenticate: Bearer for a missing, malformed, unknown, revoked or
// expired key; 403 when a required scope is missing or a network rule refuses the key; 429
// when the key's rate limit (with Retry-After) or its usage credits are spent; and 503 when
// Keyward cannot be asked, so that
// an outage never opens the door. Keys are never logged or echoed.
func (c *Client) Middleware(opts MiddlewareOptions) func(http.Handler) http.Handler {
	header := http.CanonicalHeaderKey(opts.Header)
	if header == "" {
		header = "Authorization"
	}
	scopes := append([]string(nil), opts.RequiredScopes...)
	refuse := opts.OnError
	if refuse == nil {
		refuse = writeRefusal
	}
	var local *localVerifier
	if opts.LocalVerify {
		local = c.localVerifier()
	}

	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			key := presentedKey(r, header)
			if key == "" || len(key) > maxPresentedKeyLen {
				w.Header().Set("WWW-Authenticate", "Bearer")
				refuse(w, r, http.StatusUnauthorized, nil, nil)
				return
			}
			var ticket uint64
			if local != nil {
				v, allowed, wait, limit, ok := local.decide(key, scopes)
				if ok && allowed {
					next.ServeHTTP(w, r.WithContext(ContextWithVerifyResult(r.Context(), v.res)))
					return
				}
				if ok {
					refuse(w, r, http.StatusTooManyRequests, limitedResult(v.res, wait, limit), nil)
					return
				}
				ticket = local.ticket()
			}
			res, err := c.VerifyKey(r.Context(), VerifyKeyParams{Key: key, RequiredScopes: scopes})
			if err != nil {
				// The server refusing the request itself as malformed means the key is bad;
				// anything else means no verdict, and no verdict means no entry.
				if IsValidation(err) {
					w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
					refuse(w, r, http.StatusUnauthorized, nil, nil)
					return
				}
				refuse(w, r, http.StatusServiceUnavailable, nil, err)
				return
			}
			if !res.Valid {
				status := refusalStatus(res.Code)
				switch status {
				case http.StatusUnauthorized:
					w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
				case http.StatusForbidden:
					if res.Code == VerifyInsufficientScope {
						w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+strings.Join(scopes, " ")+`"`)
					}
				}
				refuse(w, r, status, res, nil)
				return
			}
			if local != nil {
				local.install(key, res, ticket)
			}
			next.ServeHTTP(w, r.WithContext(ContextWithVerifyResult(r.Context(), res)))
		})
	}
}

// limitedResult is the verdict on a valid key that its rate limit refused in-process: wait
// is how long until it would allow, limit the size of the policy that refused.
func limitedResult(valid *VerifyResult, wait time.Duration, limit int64) *VerifyResult {
	res := *valid
	res.Valid, res.Code = false, VerifyRateLimited
	res.RateLimit = &RateLimitState{Limit: limit, Remaining: 0, Reset: time.Now().Add(wait)}
	return &res
}

// maxPresentedKeyLen is far above any real key, Keyward's or an imported one; a longer value
// is refused here rather than sent to Keyward, so garbage costs the caller nothing.
const maxPresentedKeyLen = 1024

// presentedKey reads the caller's key from header, "" when there is none.
func presentedKey(r *http.Request, header string) string {
	v := strings.TrimSpace(r.Header.Get(header))
	if header != "Authorization" {
		return v
	}
	scheme, token, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// refusalStatus maps an unusable key's verdict to the answer's status. Unknown codes count as
// an invalid key: the middleware fails closed.
func refusalStatus(code VerifyCode) int {
	switch code {
	case VerifyInsufficientScope, VerifyForbidden:
		return http.StatusForbidden
	case VerifyRateLimited, VerifyUsageExceeded:
		return http.StatusTooManyRequests
	}
	return http.StatusUnauthorized
}

// writeRefusal is the default refusal: problem+json in Keyward's own shape. It says why the
// key was refused but never repeats the key, and hides the cause of an outage.
func writeRefusal(w http.ResponseWriter, _ *http.Request, status int, res *VerifyResult, err error) {
	p := Error{Status: status, Title: http.StatusText(status), Type: "about:blank"}
	switch status {
	case http.StatusUnauthorized:
		p.Code = CodeUnauthenticated
		p.Detail = "a valid API key is required"
	case http.StatusForbidden:
		p.Code = CodeForbidden
		p.Detail = "the API key may not do this"
	case http.StatusTooManyRequests:
		p.Code = CodeRateLimited
		p.Detail = "the API key's rate limit is exhausted"
		if res != nil && res.Code == VerifyUsageExceeded {
			p.Code, p.Detail = CodeUsageExceeded, "the API key's usage credits are spent"
		}
		// Keyward says when the key's limit is whole again; a client may come back then.
		if res != nil && res.RateLimit != nil && res.Code == VerifyRateLimited {
			wait := max(time.Until(res.RateLimit.Reset), time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
		}
	default:
		p.Code = CodeServiceUnavailable
		p.Detail = "the API key cannot be verified right now"
		var e *Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Round(time.Second)/time.Second)))
		}
	}
	if res != nil && res.Code != "" {
		p.Detail += " (" + string(res.Code) + ")"
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}
