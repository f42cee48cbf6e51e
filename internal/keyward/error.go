package keyward

import "fmt"

// Code is a stable, machine-readable error code. Clients branch on it; its wording never
// changes once released. Adapters map codes to their transport (HTTP status, CLI exit code).
type Code string

// Error codes returned by the domain and its stores.
const (
	EInvalid         Code = "invalid_request"     // malformed input: bad id, bad JSON, unknown field
	ETooLarge        Code = "request_too_large"   // a body larger than the route takes
	EValidation      Code = "validation_failed"   // well-formed input that breaks a rule
	EUnauthenticated Code = "unauthenticated"     // no credential, or one that is not valid
	EForbidden       Code = "forbidden"           // a valid credential that may not do this
	ENotFound        Code = "not_found"           // absent, or belongs to another account
	EConflict        Code = "conflict"            // the object's state forbids the change
	ERateLimited     Code = "rate_limited"        // too many requests
	EUsageExceeded   Code = "usage_exceeded"      // the calling key's usage credits are spent
	EUnavailable     Code = "service_unavailable" // a dependency is down; retry later
	EInternal        Code = "internal_error"      // a bug or an unexpected failure; details hidden
)

// Error is the one error type the domain returns to its adapters. Message is safe to show to
// the caller; Cause is for logs only and never leaves the process.
type Error struct {
	Code    Code
	Message string
	Cause   error
}

func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error with the given code and a formatted public message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EUnavailable for a store's
// outage (see RegisterOutage), EInternal for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	if e := errorOf(err); e != nil {
		return e.Code
	}
	if outage(err) {
		return EUnavailable
	}
	return EInternal
}

// ErrorMessage returns the public message of the first *Error in err's chain, and a generic
// message for any other error so that internal details never reach a caller.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	if e := errorOf(err); e != nil {
		return e.Message
	}
	if outage(err) {
		return errOutageMessage
	}
	return "an internal error occurred"
}
