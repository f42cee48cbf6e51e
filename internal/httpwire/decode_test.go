package httpwire_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
)

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Name string `json:"name"`
	}
	for _, tc := range []struct {
		name, body string
		code       keyward.Code
		message    string
		want       string
	}{
		{"object", `{"name":"ci"}`, "", "", "ci"},
		{"empty body is {}", ``, "", "", ""},
		{"trailing white space", "{\"name\":\"ci\"}\n", "", "", "ci"},
		{"unknown field", `{"nme":"ci"}`, keyward.EValidation, `body: unknown field "nme"`, ""},
		{"trailing data", `{"name":"ci"} {}`, keyward.EInvalid, "body has data after the JSON object", "ci"},
		{"not JSON", `name=ci`, keyward.EInvalid, "body is not the expected JSON object: invalid character 'a' in literal null (expecting 'u')", ""},
		{"wrong type", `{"name":1}`, keyward.EInvalid, "body is not the expected JSON object: json: cannot unmarshal number into Go struct field body.name of type string", ""},
		{"too large", `{"name":"` + strings.Repeat("x", httpwire.MaxJSONBody) + `"}`, keyward.ETooLarge, "the body is larger than 64 KiB", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got body
			err := httpwire.DecodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(tc.body)), &got)
			if code := keyward.ErrorCode(err); code != tc.code {
				t.Fatalf("code = %q (%v), want %q", code, err, tc.code)
			}
			if msg := keyward.ErrorMessage(err); msg != tc.message {
				t.Errorf("message = %q, want %q", msg, tc.message)
			}
			if got.Name != tc.want {
				t.Errorf("name = %q, want %q", got.Name, tc.want)
			}
		})
	}
}
