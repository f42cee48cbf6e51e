// Package httpwire is the HTTP plumbing every Keyward transport shares: RFC 9457 problem
// documents with Keyward's stable code, the one table from domain codes to HTTP statuses,
// bounded JSON decoding for plain net/http handlers, the IETF RateLimit headers, and the
// client's address.
//
// It is a leaf: it imports the domain and the standard library, and huma only for
// huma.ErrorDetail, the type of a problem's field-level errors, whose schema the OpenAPI
// document already publishes. What only another package knows (authn's missing credential,
// a key refused by its limits) its callers add with the helpers here.
package httpwire

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// Problem is an RFC 9457 problem document with Keyward's stable code. It is the only error
// body a management route writes.
type Problem struct {
	Type   string              `json:"type" doc:"Always about:blank: the code field identifies the problem."`
	Title  string              `json:"title" doc:"The HTTP status text."`
	Status int                 `json:"status"`
	Detail string              `json:"detail,omitempty" doc:"What went wrong, for people."`
	Code   string              `json:"code" doc:"Stable machine-readable error code." enum:"invalid_request,validation_failed,unauthenticated,forbidden,not_found,method_not_allowed,conflict,request_too_large,unsupported_media_type,rate_limited,usage_exceeded,service_unavailable,internal_error"`
	Errors []*huma.ErrorDetail `json:"errors,omitempty" doc:"Field-level validation problems."`

	headers http.Header
}

// Error implements error.
func (p *Problem) Error() string { return p.Code + ": " + p.Detail }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// GetHeaders implements huma.HeadersError: the headers the answer carries beside the body,
// as WWW-Authenticate on a 401 or Retry-After on a 429. It may be nil.
func (p *Problem) GetHeaders() http.Header { return p.headers }

// ContentType implements huma.ContentTypeFilter.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// Header returns the headers the answer carries beside the body, for changing them.
func (p *Problem) Header() http.Header {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	return p.headers
}

// Challenge is the WWW-Authenticate value sent with every 401 (RFC 6750 §3).
const Challenge = `Bearer realm="keyward"`

// ErrNoCredential is the cause of the error of a request that carries no credential at all,
// which RFC 6750 answers with the bare challenge; any other EUnauthenticated error is a
// credential that was presented and is not valid (error="invalid_token").
var ErrNoCredential = errors.New("no credential")

// StatusOf is the HTTP status of a domain code, from the one table of them: 500 for a code
// it does not know.
func StatusOf(code keyward.Code) int {
	if status, ok := statusOf[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// statusOf maps every domain code to its HTTP status: the one table of it.
var statusOf = map[keyward.Code]int{
	keyward.EInvalid:         http.StatusBadRequest,
	keyward.ETooLarge:        http.StatusRequestEntityTooLarge,
	keyward.EValidation:      http.StatusUnprocessableEntity,
	keyward.EUnauthenticated: http.StatusUnauthorized,
	keyward.EForbidden:       http.StatusForbidden,
	keyward.ENotFound:        http.StatusNotFound,
	keyward.EConflict:        http.StatusConflict,
	keyward.ERateLimited:     http.StatusTooManyRequests,
	keyward.EUsageExceeded:   http.StatusTooManyRequests,
	keyward.EUnavailable:     http.StatusServiceUnavailable,
	keyward.EInternal:        http.StatusInternalServerError,
}

// codeOfStatus names the problems that huma and net/http raise before a handler runs.
var codeOfStatus = map[int]string{
	http.StatusBadRequest:            string(keyward.EInvalid),
	http.StatusUnauthorized:          string(keyward.EUnauthenticated),
	http.StatusForbidden:             string(keyward.EForbidden),
	http.StatusNotFound:              string(keyward.ENotFound),
	http.StatusMethodNotAllowed:      "method_not_allowed",
	http.StatusConflict:              string(keyward.EConflict),
	http.StatusRequestEntityTooLarge: string(keyward.ETooLarge),
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusUnprocessableEntity:   string(keyward.EValidation),
	http.StatusTooManyRequests:       string(keyward.ERateLimited),
	http.StatusServiceUnavailable:    string(keyward.EUnavailable),
}

// CodeOfStatus returns the problem code of a status that huma or net/http raise before a
// handler runs, and whether the status has one of its own.
func CodeOfStatus(status int) (string, bool) {
	code, ok := codeOfStatus[status]
	return code, ok
}

// NewProblem returns the problem for status, its code the status's own (internal_error for
// another 5xx, invalid_request for another 4xx). A 401 carries the bare Bearer challenge and
// a 403 the insufficient_scope one (RFC 6750 §3), and a 503 Retry-After; a caller that knows
// the credential was presented and bad says so with InvalidToken.
func NewProblem(status int, detail string) *Problem {
	code, ok := codeOfStatus[status]
	if !ok {
		code = string(keyward.EInternal)
		if status < 500 {
			code = string(keyward.EInvalid)
		}
	}
	p := &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
	switch status {
	case http.StatusUnauthorized:
		p.Header().Set("WWW-Authenticate", Challenge)
	case http.StatusForbidden:
		p.Header().Set("WWW-Authenticate", Challenge+`, error="insufficient_scope"`)
	case http.StatusServiceUnavailable:
		p.Header().Set("Retry-After", RetryAfterOutage)
	}
	return p
}

// RetryAfterOutage is the Retry-After of every 503, in seconds: a dependency (the database,
// the signing keys) is away, and a client that comes back this much later finds it back or
// gets the same answer cheaply. Short, because a database restart takes seconds.
const RetryAfterOutage = "5"

// InvalidToken marks a 401 as one for a credential that was presented and is not valid: its
// challenge gets error="invalid_token" (RFC 6750 §3). It returns p.
func (p *Problem) InvalidToken() *Problem {
	if p.Status == http.StatusUnauthorized {
		p.Header().Set("WWW-Authenticate", Challenge+`, error="invalid_token"`)
	}
	return p
}

// ProblemFor converts an error into the problem to send: a *Problem as it is, a domain error
// by its code through the one table of statuses, a refused credential with its RFC 6750
// challenge. An error that is not a domain error is a bug or an outage: it is logged here,
// once, with its cause, and the caller sees only a generic message.
func ProblemFor(log *slog.Logger, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	code := keyward.ErrorCode(err)
	status := StatusOf(code)
	switch {
	case status >= 500 && errors.Is(err, context.Canceled):
		// The client went away (or the server is shutting down) while the request waited on
		// the store: no one reads this answer, and nothing is wrong with the service.
		log.Debug("request abandoned", "code", code, "err", err)
	case code == keyward.EUnavailable:
		// An outage fails every request alike: a warning each, not an error report of a bug.
		log.Warn("request refused: a dependency is unavailable", "err", err)
	case status >= 500:
		log.Error("request failed", "code", code, "err", err)
	}
	pr := NewProblem(status, keyward.ErrorMessage(err))
	pr.Code = string(code)
	if code == keyward.EUnauthenticated && !errors.Is(err, ErrNoCredential) {
		pr.InvalidToken()
	}
	return pr
}

// WriteProblem writes p as application/problem+json, for a plain net/http handler (huma
// writes the problems its handlers return by itself).
func WriteProblem(w http.ResponseWriter, p *Problem) {
	for k, vs := range p.headers {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}
