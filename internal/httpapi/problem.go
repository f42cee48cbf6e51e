package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
)

// problemFor is httpwire.ProblemFor told what only authn's errors say: a good key refused by
// its limits is a 429 with the RateLimit headers, and a credential that was presented and
// failed gets the invalid_token challenge, where a missing one gets the bare challenge.
func problemFor(log *slog.Logger, err error) *httpwire.Problem {
	var limited *authn.LimitError
	if errors.As(err, &limited) {
		r := limited.Result
		return httpwire.RefusalProblem(limited.Error(), httpwire.Refusal{Code: r.Code, Key: r.Key, Limited: r.Limited, Policy: r.Policy, Decision: r.RateLimit})
	}
	p := httpwire.ProblemFor(log, err)
	if keyward.ErrorCode(err) == keyward.EUnauthenticated && !errors.Is(err, authn.ErrNoCredential) {
		p.InvalidToken()
	}
	return p
}

var useProblemsOnce sync.Once

// useProblems makes huma raise its own errors (malformed JSON, schema violations, oversized
// bodies) as Keyward's problems. huma v2.37.2 offers no per-API error constructor, only the
// package variables NewError and NewErrorWithContext (the latter calls the former), so this
// sets NewError once per process; every Server sets the same value. It runs before the first
// huma.Register, which reads NewError to name the error schema in the OpenAPI document.
func useProblems() {
	useProblemsOnce.Do(func() { huma.NewError = humaProblem })
}

// humaProblem is the problem for an error huma raises.
func humaProblem(status int, msg string, errs ...error) huma.StatusError {
	if status == http.StatusInternalServerError {
		return httpwire.NewProblem(status, "an internal error occurred")
	}
	p := httpwire.NewProblem(status, msg)
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
