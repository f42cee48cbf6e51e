package httpwire

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

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

// Decode reads one JSON object into v, as DecodeJSON does.
func (d Decoding) Decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, d.Limit))
	if !d.AllowUnknownFields {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooBig):
		return keyward.Errorf(keyward.ETooLarge, "the body is larger than %d KiB", d.Limit>>10)
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
