package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestBodiesAreJSONAndUTF8 checks the two rules every body obeys, on the huma routes, on
// verify and on the seed routes alike: a body sent as another media type is refused with
// 415, and a JSON string holding invalid UTF-8 with 400, never stored with U+FFFD in place of
// the bytes sent.
func TestBodiesAreJSONAndUTF8(t *testing.T) {
	e := newEnv(t)
	routes := []struct{ name, path, body string }{
		{"management", "/v1/projects", `{"name":"p-%s"}`},
		{"verify", "/v1/keys/verify", `{"key":"kw_%s"}`},
		{"seed 000", "/apikey/create", `{"name":"k-%s"}`},
	}
	send := func(path, contentType, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		req.Header.Set("Authorization", "Bearer "+e.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, rt := range routes {
		t.Run(rt.name, func(t *testing.T) {
			for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "not a media type"} {
				status, body := send(rt.path, ct, strings.Replace(rt.body, "%s", "a", 1))
				if status != http.StatusUnsupportedMediaType || !strings.Contains(body, `"code":"unsupported_media_type"`) {
					t.Errorf("Content-Type %q = %d %s, want 415 unsupported_media_type", ct, status, body)
				}
			}
			for _, ct := range []string{"", "application/json", "application/json; charset=utf-8", "application/merge-patch+json"} {
				if status, body := send(rt.path, ct, strings.Replace(rt.body, "%s", strings.NewReplacer("/", "", ";", "", " ", "", "=", "", "+", "").Replace(ct)+"x", 1)); status == http.StatusUnsupportedMediaType {
					t.Errorf("Content-Type %q = 415 %s, want it read as JSON", ct, body)
				}
			}
			for _, bad := range []string{"\xff", "ok\xc3", "\xed\xa0\x80"} { // a stray byte, a cut sequence, a surrogate
				status, body := send(rt.path, "application/json", strings.Replace(rt.body, "%s", bad, 1))
				if status != http.StatusBadRequest || !strings.Contains(body, `"code":"invalid_request"`) {
					t.Errorf("a string holding %q = %d %s, want 400 invalid_request", bad, status, body)
				}
			}
		})
	}
}
