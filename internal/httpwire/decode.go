package httpwire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/keyward"
)

// MaxJSONBody bounds every body DecodeJSON reads.
const MaxJSONBody = 64 << 10

// DecodeJSON reads a JSON object of at most 64 KiB into v, refusing unknown fields and
// trailing data, with errors in the domain's codes: ETooLarge (413) for a larger body,
// EValidation (422) for an unknown field, EInvalid (400) for anything else that is not the
// one expected object. An empty body decodes as {}. The plain net/http routes read their
// bodies with it; huma reads the others.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	return Decoding{Limit: MaxJSONBody}.Decode(w, r, v)
}

// Decoding is how a body is read: at most Limit bytes, and whether fields the target does
// not know are allowed (for another program's document, which may grow: Hasura's webhook
// body).
type Decoding struct {
	Limit              int64
	AllowUnknownFields bool
}

// Decode reads one JSON object into v, as DecodeJSON does. A body sent as anything but JSON
// (a Content-Type other than application/json or a +json type) is refused with 415 (a
// request without a body may carry any), and a
// body that is not valid UTF-8 with 400: encoding/json would quietly turn each bad byte into
// U+FFFD, storing a name or metadata other than the one sent.
func (d Decoding) Decode(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := d.ReadBody(w, r, nil)
	if err != nil {
		return err
	}
	return d.DecodeBody(body, v)
}

// ReadBody reads the body of a JSON request, appended to buf (which may be nil, or a
// buffer the caller reuses), with Decode's errors for a body that is not JSON, too large,
// late or unreadable. DecodeBody then decodes it.
func (d Decoding) ReadBody(w http.ResponseWriter, r *http.Request, buf []byte) ([]byte, error) {
	if r.ContentLength != 0 && !IsJSON(r.Header.Get("Content-Type")) {
		return buf, NewProblem(http.StatusUnsupportedMediaType, "send the body as application/json")
	}
	body, err := readAppend(buf, http.MaxBytesReader(w, r.Body, d.Limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return body, keyward.Errorf(keyward.ETooLarge, "the body is larger than %d KiB", d.Limit>>10)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return body, NewProblem(http.StatusRequestTimeout, "the body did not arrive in time")
	case err != nil:
		return body, keyward.Errorf(keyward.EInvalid, "the body could not be read")
	}
	return body, nil
}

// readAppend is io.ReadAll appending to buf.
func readAppend(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)] // grow
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// DecodeBody decodes body, read by ReadBody, into v, as Decode does.
func (d Decoding) DecodeBody(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !utf8.Valid(body) {
		return keyward.Errorf(keyward.EInvalid, "body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if !d.AllowUnknownFields {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	switch {
	case err != nil && strings.HasPrefix(err.Error(), "json: unknown field"):
		return keyward.Errorf(keyward.EValidation, "body: %s", strings.TrimPrefix(err.Error(), "json: "))
	case err != nil:
		return keyward.Errorf(keyward.EInvalid, "body is not the expected JSON object: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return keyward.Errorf(keyward.EInvalid, "body has data after the JSON object")
	}
	return nil
}

// IsJSON reports whether a Content-Type names JSON: application/json or a structured
// syntax suffix type (application/merge-patch+json), with any parameters. No Content-Type at
// all counts as JSON, for clients that leave it out.
func IsJSON(contentType string) bool {
	if contentType == "" || contentType == "application/json" {
		return true // what nearly every client sends: no parse, which allocates
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// UnmarshalJSON is json.Unmarshal refusing invalid UTF-8 rather than replacing it with
// U+FFFD, for the routes huma decodes.
func UnmarshalJSON(data []byte, v any) error {
	if !utf8.Valid(data) {
		return errors.New("body is not valid UTF-8")
	}
	return json.Unmarshal(data, v)
}
