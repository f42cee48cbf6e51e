package client

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// verdictServer answers /v1/keys/verify with the verdict listed for the presented key, and
// fails the test if it is asked for anything else or with other scopes than wantScopes.
func verdictServer(t *testing.T, wantScopes []string, verdicts map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/keys/verify" {
			t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		}
		var req VerifyKeyParams
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("decoding verify request: %v", err)
		}
		if diff := cmp.Diff(wantScopes, req.RequiredScopes); diff != "" {
			t.Errorf("required scopes mismatch (-want +got):\n%s", diff)
		}
		body, ok := verdicts[req.Key]
		if !ok {
			body = `{"valid":false,"code":"NOT_FOUND"}`
		}
		if strings.HasPrefix(body, "!") { // a status line, for server failures
			w.Header().Set("Content-Type", "application/problem+json")
			switch body {
			case "!422":
				w.WriteHeader(http.StatusUnprocessableEntity)
				io.WriteString(w, `{"status":422,"code":"validation_failed","title":"Unprocessable Entity"}`)
			default:
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusInternalServerError)
				io.WriteString(w, `{"status":500,"code":"internal_error","title":"Internal Server Error"}`)
			}
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestMiddleware(t *testing.T) {
	scopes := []string{"invoices:read"}
	srv := verdictServer(t, scopes, map[string]string{
		"kw_good":    `{"valid":true,"code":"VALID","key_id":"key_1","account_id":"acc_1","project_id":"prj_1","environment_id":null,"name":"worker","scopes":["invoices:read"],"metadata":{"plan":"pro"},"expires_at":null}`,
		"kw_revoked": `{"valid":false,"code":"REVOKED","key_id":"key_2"}`,
		"kw_scope":   `{"valid":false,"code":"INSUFFICIENT_SCOPE","key_id":"key_3"}`,
		"kw_limited": `{"valid":false,"code":"RATE_LIMITED","key_id":"key_4","ratelimit":{"limit":30,"remaining":0,"reset":` + strconv.FormatInt(time.Now().Add(90*time.Second).UnixMilli(), 10) + `}}`,
		"kw_spent":   `{"valid":false,"code":"USAGE_EXCEEDED","key_id":"key_5"}`,
		"kw_odd":     `{"valid":false,"code":"SOMETHING_NEW"}`,
		"kw_broken":  "!500",
		"kw_toolong": "!422",
	})

	tests := []struct {
		name        string
		header      string // the option
		reqHeader   string
		reqValue    string
		closed      bool // Keyward is down
		wantStatus  int
		wantAuthHdr string
		wantCode    Code
	}{
		{name: "valid bearer key", reqHeader: "Authorization", reqValue: "Bearer kw_good", wantStatus: 200},
		{name: "lowercase scheme", reqHeader: "Authorization", reqValue: "bearer  kw_good ", wantStatus: 200},
		{name: "no key", wantStatus: 401, wantAuthHdr: "Bearer", wantCode: CodeUnauthenticated},
		{name: "basic scheme", reqHeader: "Authorization", reqValue: "Basic a3c6eA==", wantStatus: 401, wantAuthHdr: "Bearer", wantCode: CodeUnauthenticated},
		{name: "absurdly long key is not sent", reqHeader: "Authorization", reqValue: "Bearer " + strings.Repeat("k", 2000), wantStatus: 401, wantAuthHdr: "Bearer", wantCode: CodeUnauthenticated},
		{name: "bearer without key", reqHeader: "Authorization", reqValue: "Bearer ", wantStatus: 401, wantAuthHdr: "Bearer", wantCode: CodeUnauthenticated},
		{name: "unknown key", reqHeader: "Authorization", reqValue: "Bearer kw_unknown", wantStatus: 401, wantAuthHdr: `Bearer error="invalid_token"`, wantCode: CodeUnauthenticated},
		{name: "revoked key", reqHeader: "Authorization", reqValue: "Bearer kw_revoked", wantStatus: 401, wantAuthHdr: `Bearer error="invalid_token"`, wantCode: CodeUnauthenticated},
		{name: "unknown verdict fails closed", reqHeader: "Authorization", reqValue: "Bearer kw_odd", wantStatus: 401, wantAuthHdr: `Bearer error="invalid_token"`, wantCode: CodeUnauthenticated},
		{name: "request refused as invalid", reqHeader: "Authorization", reqValue: "Bearer kw_toolong", wantStatus: 401, wantAuthHdr: `Bearer error="invalid_token"`, wantCode: CodeUnauthenticated},
		{name: "missing scope", reqHeader: "Authorization", reqValue: "Bearer kw_scope", wantStatus: 403, wantAuthHdr: `Bearer error="insufficient_scope", scope="invoices:read"`, wantCode: CodeForbidden},
		{name: "rate limited", reqHeader: "Authorization", reqValue: "Bearer kw_limited", wantStatus: 429, wantCode: CodeRateLimited},
		{name: "credits spent", reqHeader: "Authorization", reqValue: "Bearer kw_spent", wantStatus: 429, wantCode: CodeUsageExceeded},
		{name: "keyward failing", reqHeader: "Authorization", reqValue: "Bearer kw_broken", wantStatus: 503, wantCode: CodeServiceUnavailable},
		{name: "keyward unreachable", reqHeader: "Authorization", reqValue: "Bearer kw_good", closed: true, wantStatus: 503, wantCode: CodeServiceUnavailable},
		{name: "custom header", header: "x-api-key", reqHeader: "X-API-Key", reqValue: "kw_good", wantStatus: 200},
		{name: "custom header ignores authorization", header: "X-API-Key", reqHeader: "Authorization", reqValue: "Bearer kw_good", wantStatus: 401, wantAuthHdr: "Bearer", wantCode: CodeUnauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := srv.URL
			if tt.closed {
				down := httptest.NewServer(http.NotFoundHandler())
				down.Close()
				base = down.URL
			}
			var reached *VerifyResult
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				res, ok := VerifyResultFrom(r.Context())
				if !ok {
					t.Error("handler reached without a verify result in its context")
				}
				reached = res
				w.WriteHeader(http.StatusOK)
			})
			h := New(base, "").Middleware(MiddlewareOptions{Header: tt.header, RequiredScopes: scopes})(next)

			req := httptest.NewRequest(http.MethodGet, "/invoices", nil)
			if tt.reqHeader != "" {
				req.Header.Set(tt.reqHeader, tt.reqValue)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			// A rate-limited key is told to come back when Keyward says its limit is whole.
			if got, _ := strconv.Atoi(rec.Header().Get("Retry-After")); tt.reqValue == "Bearer kw_limited" && (got < 80 || got > 91) {
				t.Errorf("Retry-After = %q, want about 90", rec.Header().Get("Retry-After"))
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantAuthHdr {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.wantAuthHdr)
			}
			if tt.wantStatus == http.StatusOK {
				if reached == nil || reached.KeyID != "key_1" || reached.Metadata["plan"] != "pro" {
					t.Errorf("handler saw result %+v, want key_1 with metadata", reached)
				}
				return
			}
			if reached != nil {
				t.Error("handler was reached on a refusal")
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q, want application/problem+json", ct)
			}
			var p Error
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("refusal body %q: %v", rec.Body, err)
			}
			if p.Code != tt.wantCode || p.Status != tt.wantStatus {
				t.Errorf("refusal = %s/%d, want %s/%d", p.Code, p.Status, tt.wantCode, tt.wantStatus)
			}
			if strings.Contains(rec.Body.String(), "kw_") {
				t.Errorf("refusal body %q echoes the key", rec.Body)
			}
		})
	}
}

func TestMiddlewareOnError(t *testing.T) {
	srv := verdictServer(t, nil, nil)
	var gotStatus int
	var gotResult *VerifyResult
	mw := New(srv.URL, "").Middleware(MiddlewareOptions{
		Header: "X-API-Key",
		OnError: func(w http.ResponseWriter, r *http.Request, status int, res *VerifyResult, err error) {
			gotStatus, gotResult = status, res
			http.Error(w, "nope", status)
		},
	})
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("handler reached for an unknown key")
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-API-Key", "kw_unknown")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if gotStatus != 401 || gotResult == nil || gotResult.Code != VerifyNotFound {
		t.Errorf("OnError got status %d result %+v, want 401 with NOT_FOUND", gotStatus, gotResult)
	}
	if rec.Body.String() != "nope\n" {
		t.Errorf("body = %q, want the custom refusal", rec.Body)
	}
}

func TestVerifyResultFromEmptyContext(t *testing.T) {
	if res, ok := VerifyResultFrom(t.Context()); ok || res != nil {
		t.Errorf("VerifyResultFrom(empty) = %v, %v; want nil, false", res, ok)
	}
	ctx := ContextWithVerifyResult(t.Context(), &VerifyResult{Valid: true, KeyID: "key_1"})
	if res, ok := VerifyResultFrom(ctx); !ok || res.KeyID != "key_1" {
		t.Errorf("VerifyResultFrom = %v, %v; want key_1, true", res, ok)
	}
}
