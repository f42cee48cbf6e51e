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
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxJSONBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	var tooBig *http.MaxBytesError
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case errors.As(err, &tooBig):
		return keyward.Errorf(keyward.ETooLarge, "the body is larger than 64 KiB")
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
