package httpapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"

	"github.com/keyward/keyward/internal/authn"
	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/verify"
)

// problemFor is the problem for err, through httpwire's one table.
func problemFor(log *slog.Logger, err error) *httpwire.Problem { return httpwire.ProblemFor(log, err) }

// refused is the problem for a refused authentication: for a good key over its limits, with
// the headers that say where it stands, from the verdict on it.
func refused(log *slog.Logger, a authn.Authentication, err error) *httpwire.Problem {
	p := problemFor(log, err)
	if a.Verdict != nil {
		httpwire.SetRefusalHeaders(p.Header(), refusalOf(a.Verdict))
	}
	return p
}

// refusalOf is what httpwire needs of a verdict to describe a limit.
func refusalOf(v *verify.Result) httpwire.Refusal {
	return httpwire.Refusal{Code: v.Code, Key: v.Key, Limited: v.Limited, Policy: v.Policy, Decision: v.RateLimit}
}

var useProblemsOnce sync.Once

// useProblems makes huma raise its own errors (malformed JSON, schema violations, oversized
// bodies) as Keyward's problems. huma v2.37.2 offers no per-API error constructor, only the
// package variables NewError and NewErrorWithContext (the latter calls the former), so this
// sets NewError once per process; every Server sets the same value. It runs before the first
// huma.Register, which reads NewError to name the error schema in the OpenAPI document.
func useProblems() {
	useProblemsOnce.Do(func() {
		huma.NewError = humaProblem
		// Lists are sent as [] when empty, never null: the document says so (the same once
		// per process: huma reads the variable as it derives each schema).
		huma.DefaultArrayNullable = false
	})
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

// jsonFormats are huma's JSON formats with an unmarshaller that refuses invalid UTF-8
// instead of replacing it: a name sent with a bad byte is an error, not a different name;
// and a marshaller that sends an empty list as [] even when Go holds it as nil, as the
// document declares every list.
var jsonFormats = map[string]huma.Format{
	"application/json": {Marshal: marshalJSON, Unmarshal: httpwire.UnmarshalJSON},
	"json":             {Marshal: marshalJSON, Unmarshal: httpwire.UnmarshalJSON},
}

// marshalOptions are encoding/json's behaviour (as huma's own format: no HTML escaping)
// except for nil slices.
var marshalOptions = jsonv2.JoinOptions(jsonv1.DefaultOptionsV1(), jsontext.EscapeForHTML(false), jsonv2.FormatNilSliceAsNull(false))

func marshalJSON(w io.Writer, v any) error {
	if err := jsonv2.MarshalWrite(w, v, marshalOptions); err != nil {
		return err
	}
	_, err := w.Write([]byte("\n"))
	return err
}
