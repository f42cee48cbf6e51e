package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Code is the stable, machine-readable code of an API error. Branch on it, not on messages.
type Code string

// Error codes the server answers with, and the HTTP status each comes with.
const (
	CodeInvalidRequest     Code = "invalid_request"     // 400: malformed input
	CodeUnauthenticated    Code = "unauthenticated"     // 401: missing or invalid admin key
	CodeForbidden          Code = "forbidden"           // 403: the key may not do this
	CodeNotFound           Code = "not_found"           // 404: absent, or another account's
	CodeConflict           Code = "conflict"            // 409: the object's state forbids it
	CodeValidationFailed   Code = "validation_failed"   // 422: well-formed input breaking a rule
	CodeRateLimited        Code = "rate_limited"        // 429: slow down, see RetryAfter
	CodeUsageExceeded      Code = "usage_exceeded"      // 429: the calling key's usage credits are spent
	CodeInternal           Code = "internal_error"      // 500: a server fault
	CodeServiceUnavailable Code = "service_unavailable" // 503: a server dependency is down
)

// codeForStatus names the code of an error answer that carries none (a proxy's error page,
// say), so that callers can branch on Code whatever answered.
func codeForStatus(status int) Code {
	switch status {
	case http.StatusBadRequest:
		return CodeInvalidRequest
	case http.StatusUnauthorized:
		return CodeUnauthenticated
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusConflict:
		return CodeConflict
	case http.StatusUnprocessableEntity:
		return CodeValidationFailed
	case http.StatusTooManyRequests:
		return CodeRateLimited
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return CodeServiceUnavailable
	}
	if status >= 500 {
		return CodeInternal
	}
	return CodeInvalidRequest
}

// Error is an error answer from the server, decoded from its RFC 9457 problem+json body.
type Error struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Code is the stable error code; it is derived from Status when the body carries none.
	Code Code `json:"code"`
	// Type is the problem type URI, often "about:blank".
	Type string `json:"type,omitempty"`
	// Title is a short summary of the problem type.
	Title string `json:"title"`
	// Detail explains this occurrence.
	Detail string `json:"detail,omitempty"`
	// Errors lists the invalid parts of the request, for validation errors.
	Errors []ErrorDetail `json:"errors,omitempty"`
	// RetryAfter is how long to wait before retrying, from the Retry-After header; 0 if absent.
	RetryAfter time.Duration `json:"-"`
}

// ErrorDetail is one invalid part of a request.
type ErrorDetail struct {
	// Location names the part, such as "body.name" or "query.limit".
	Location string `json:"location,omitempty"`
	// Message says what is wrong with it.
	Message string `json:"message,omitempty"`
	// Value is the offending value as the server saw it.
	Value any `json:"value,omitempty"`
}

// Error returns a one-line description: the detail (or title), the code, the status, and the
// invalid locations. Values are left out because they may hold data the caller sent.
func (e *Error) Error() string {
	var b strings.Builder
	msg := e.Message()
	b.WriteString("keyward: ")
	b.WriteString(msg)
	fmt.Fprintf(&b, " (%s, HTTP %d)", e.Code, e.Status)
	sep := ": "
	for _, d := range e.Errors {
		part := d.Message
		if d.Location != "" {
			part = d.Location + ": " + d.Message
		}
		if d.Message == "" || strings.Contains(msg, part) {
			continue // servers often repeat a lone field error as the detail
		}
		b.WriteString(sep)
		b.WriteString(part)
		sep = "; "
	}
	return oneLine(b.String())
}

// Message is the most specific human-readable text of the error: Detail, else Title, else
// the status text.
func (e *Error) Message() string {
	switch {
	case e.Detail != "":
		return e.Detail
	case e.Title != "":
		return e.Title
	case http.StatusText(e.Status) != "":
		return http.StatusText(e.Status)
	}
	return "HTTP " + strconv.Itoa(e.Status)
}

// maxPlainDetail bounds how much of a non-JSON error body becomes Error.Detail.
const maxPlainDetail = 200

// decodeError turns an error answer into an *Error. Bodies that are not problem+json (a
// reverse proxy's page, a plain-text 404) still yield a usable Error.
func decodeError(resp *http.Response, body []byte) *Error {
	e := &Error{}
	mediaType, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch {
	case mediaType == "application/problem+json" || mediaType == "application/json":
		if err := json.Unmarshal(body, e); err != nil {
			*e = Error{}
		}
	case strings.HasPrefix(mediaType, "text/plain"):
		e.Detail = truncate(strings.TrimSpace(string(body)), maxPlainDetail)
	}
	// The transport's status is the truth; a body may disagree or be absent.
	e.Status = resp.StatusCode
	if e.Code == "" {
		e.Code = codeForStatus(resp.StatusCode)
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	e.RetryAfter = retryAfter(resp.Header)
	return e
}

// retryAfter reads a Retry-After header, in seconds or as an HTTP date; 0 when absent or
// unreadable.
func retryAfter(h http.Header) time.Duration {
	s := h.Get("Retry-After")
	if s == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(s); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// ErrorCode returns the Code of the first *Error in err's chain, and "" when there is none
// (nil, or an error that never reached the server such as a refused connection).
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// IsNotFound reports whether err is a not_found answer: the object does not exist or belongs
// to another account.
func IsNotFound(err error) bool { return ErrorCode(err) == CodeNotFound }

// IsUnauthenticated reports whether err is an unauthenticated answer: the admin key is
// missing, unknown or revoked.
func IsUnauthenticated(err error) bool { return ErrorCode(err) == CodeUnauthenticated }

// IsForbidden reports whether err is a forbidden answer: the admin key may not do this.
func IsForbidden(err error) bool { return ErrorCode(err) == CodeForbidden }

// IsConflict reports whether err is a conflict answer: the object's state forbids the change.
func IsConflict(err error) bool { return ErrorCode(err) == CodeConflict }

// IsValidation reports whether err is a validation_failed or invalid_request answer: the
// request itself is wrong and retrying it unchanged will not help.
func IsValidation(err error) bool {
	c := ErrorCode(err)
	return c == CodeValidationFailed || c == CodeInvalidRequest
}

func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}
