package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/authn"
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

// GetHeaders implements huma.HeadersError, carrying WWW-Authenticate on a 401.
func (p *Problem) GetHeaders() http.Header { return p.headers }

// ContentType implements huma.ContentTypeFilter.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

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
	http.StatusRequestEntityTooLarge: "request_too_large",
	http.StatusUnsupportedMediaType:  "unsupported_media_type",
	http.StatusUnprocessableEntity:   string(keyward.EValidation),
	http.StatusTooManyRequests:       string(keyward.ERateLimited),
	http.StatusServiceUnavailable:    string(keyward.EUnavailable),
}

func newProblem(status int, detail string) *Problem {
	code, ok := codeOfStatus[status]
	if !ok {
		code = string(keyward.EInternal)
		if status < 500 {
			code = string(keyward.EInvalid)
		}
	}
	p := &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
	// RFC 6750 §3: a request without a credential gets the bare challenge; a bad credential
	// (see problemFor) invalid_token; a credential that may not do this insufficient_scope.
	switch status {
	case http.StatusUnauthorized:
		p.headers = http.Header{"WWW-Authenticate": {authn.Challenge}}
	case http.StatusForbidden:
		p.headers = http.Header{"WWW-Authenticate": {authn.Challenge + `, error="insufficient_scope"`}}
	}
	return p
}

func init() {
	// huma raises its own errors (malformed JSON, schema violations, oversized bodies)
	// through NewError; route them into the same problem shape as ours.
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		if status == http.StatusInternalServerError {
			return newProblem(status, "an internal error occurred")
		}
		p := newProblem(status, msg)
		for _, err := range errs {
			if err == nil {
				continue
			}
			var d huma.ErrorDetailer
			if errors.As(err, &d) {
				p.Errors = append(p.Errors, trimValue(d.ErrorDetail()))
			} else {
				p.Errors = append(p.Errors, &huma.ErrorDetail{Message: err.Error()})
			}
		}
		if len(p.Errors) == 1 && (msg == "validation failed" || msg == "") {
			p.Detail = describe(p.Errors[0])
		}
		return p
	}
}

// maxEchoedValue bounds the offending value an error detail repeats back. Beyond it, or for
// an object or array (which may be the whole request body), the location and message say
// enough.
const maxEchoedValue = 256

func trimValue(d *huma.ErrorDetail) *huma.ErrorDetail {
	switch v := d.Value.(type) {
	case string:
		if len(v) > maxEchoedValue {
			d.Value = nil
		}
	case map[string]any, []any:
		d.Value = nil
	}
	return d
}

func describe(d *huma.ErrorDetail) string {
	if d.Location == "" {
		return d.Message
	}
	return d.Location + ": " + d.Message
}

// problemFor converts an error from the domain into the problem to send. An error that is not
// a domain error is a bug or an outage: it is logged here, once, with its cause, and the
// caller sees only a generic message.
func problemFor(log *slog.Logger, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	code := keyward.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		log.Error("request failed", "code", code, "err", err)
	}
	pr := newProblem(status, keyward.ErrorMessage(err))
	pr.Code = string(code)
	if status == http.StatusUnauthorized && !errors.Is(err, authn.ErrNoCredential) {
		pr.headers = http.Header{"WWW-Authenticate": {authn.Challenge + `, error="invalid_token"`}}
	}
	return pr
}

// writeProblem writes p outside huma (the plain handlers and the router's fallbacks).
func writeProblem(w http.ResponseWriter, p *Problem) {
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
