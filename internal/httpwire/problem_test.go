package httpwire_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
)

// errDriverDown stands for a store driver's error that its store registers as an outage.
var errDriverDown = errors.New("driver: connection reset by peer")

func init() { keyward.RegisterOutage(func(err error) bool { return errors.Is(err, errDriverDown) }) }

func TestProblemFor(t *testing.T) {
	passed := httpwire.NewProblem(http.StatusConflict, "as it is")
	for _, tc := range []struct {
		name      string
		err       error
		status    int
		code      string
		detail    string
		challenge string
		// cause, when set, is what the log must hold: a 5xx is logged once with its cause.
		cause string
	}{
		{"invalid", keyward.Errorf(keyward.EInvalid, "bad id"), 400, "invalid_request", "bad id", "", ""},
		{"too large", keyward.Errorf(keyward.ETooLarge, "big"), 413, "request_too_large", "big", "", ""},
		{"validation", keyward.Errorf(keyward.EValidation, "name is required"), 422, "validation_failed", "name is required", "", ""},
		{"no credential", &keyward.Error{Code: keyward.EUnauthenticated, Message: "who?", Cause: httpwire.ErrNoCredential}, 401, "unauthenticated", "who?", `Bearer realm="keyward"`, ""},
		{"bad credential", keyward.Errorf(keyward.EUnauthenticated, "not valid"), 401, "unauthenticated", "not valid", `Bearer realm="keyward", error="invalid_token"`, ""},
		{"forbidden", keyward.Errorf(keyward.EForbidden, "no"), 403, "forbidden", "no", `Bearer realm="keyward", error="insufficient_scope"`, ""},
		{"not found", keyward.Errorf(keyward.ENotFound, "no such key"), 404, "not_found", "no such key", "", ""},
		{"conflict", keyward.Errorf(keyward.EConflict, "revoked"), 409, "conflict", "revoked", "", ""},
		{"rate limited", keyward.Errorf(keyward.ERateLimited, "slow down"), 429, "rate_limited", "slow down", "", ""},
		{"usage exceeded", keyward.Errorf(keyward.EUsageExceeded, "spent"), 429, "usage_exceeded", "spent", "", ""},
		{"unavailable", &keyward.Error{Code: keyward.EUnavailable, Message: "retry", Cause: errors.New("dial tcp: refused")}, 503, "service_unavailable", "retry", "", "dial tcp: refused"},
		{"a store's outage", fmt.Errorf("postgres: key by hash: %w", errDriverDown), 503, "service_unavailable", "the database is unavailable; retry shortly", "", "connection reset by peer"},
		{"internal", &keyward.Error{Code: keyward.EInternal, Message: "oops", Cause: errors.New("nil map")}, 500, "internal_error", "oops", "", "nil map"},
		{"not a domain error", errors.New("disk on fire"), 500, "internal_error", "an internal error occurred", "", "disk on fire"},
		// The client left while the store was read: not logged as a failure.
		{"abandoned", fmt.Errorf("sqlite: project accesses: %w", context.Canceled), 500, "internal_error", "an internal error occurred", "", ""},
		{"unknown code", &keyward.Error{Code: "made_up", Message: "?"}, 500, "made_up", "?", "", "made_up: ?"},
		{"wrapped domain error", fmt.Errorf("creating key: %w", keyward.Errorf(keyward.ENotFound, "no such project")), 404, "not_found", "no such project", "", ""},
		{"a problem as it is", fmt.Errorf("wrapped: %w", passed), 409, "conflict", "as it is", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			p := httpwire.ProblemFor(slog.New(slog.NewTextHandler(&logs, nil)), tc.err)
			if p.Status != tc.status || p.Code != tc.code || p.Detail != tc.detail {
				t.Errorf("got %d %s %q, want %d %s %q", p.Status, p.Code, p.Detail, tc.status, tc.code, tc.detail)
			}
			if p.Type != "about:blank" || p.Title != http.StatusText(tc.status) {
				t.Errorf("type, title = %q, %q; want about:blank, %q", p.Type, p.Title, http.StatusText(tc.status))
			}
			if got := p.GetHeaders().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tc.challenge)
			}
			if got, want := p.GetHeaders().Get("Retry-After"), map[bool]string{true: httpwire.RetryAfterOutage}[tc.status == 503]; got != want {
				t.Errorf("Retry-After = %q, want %q", got, want)
			}
			want := 0
			if tc.cause != "" {
				want = 1
			}
			if got := strings.Count(logs.String(), "request failed") + strings.Count(logs.String(), "request refused"); got != want {
				t.Errorf("logged %d times, want %d:\n%s", got, want, logs.String())
			}
			if !strings.Contains(logs.String(), tc.cause) {
				t.Errorf("the log does not hold the cause %q:\n%s", tc.cause, logs.String())
			}
		})
	}
	if p := httpwire.ProblemFor(slog.Default(), passed); p != passed {
		t.Errorf("ProblemFor(a *Problem) = %p, want the same problem %p", p, passed)
	}
}

func TestNewProblemCodes(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{
		{400, "invalid_request"}, {401, "unauthenticated"}, {403, "forbidden"}, {404, "not_found"},
		{405, "method_not_allowed"}, {409, "conflict"}, {413, "request_too_large"}, {415, "unsupported_media_type"},
		{422, "validation_failed"}, {429, "rate_limited"}, {503, "service_unavailable"},
		// Statuses without a code of their own.
		{406, "invalid_request"}, {500, "internal_error"}, {502, "internal_error"},
	} {
		if got := httpwire.NewProblem(tc.status, "").Code; got != tc.code {
			t.Errorf("NewProblem(%d).Code = %q, want %q", tc.status, got, tc.code)
		}
	}
}

func TestCodeOfStatus(t *testing.T) {
	if code, ok := httpwire.CodeOfStatus(http.StatusMethodNotAllowed); code != "method_not_allowed" || !ok {
		t.Errorf("CodeOfStatus(405) = %q, %v; want method_not_allowed, true", code, ok)
	}
	if code, ok := httpwire.CodeOfStatus(http.StatusTeapot); code != "" || ok {
		t.Errorf("CodeOfStatus(418) = %q, %v; want \"\", false", code, ok)
	}
}

func TestInvalidToken(t *testing.T) {
	p := httpwire.NewProblem(http.StatusUnauthorized, "bad key").InvalidToken()
	if got, want := p.GetHeaders().Values("WWW-Authenticate"), []string{httpwire.Challenge + `, error="invalid_token"`}; !slices.Equal(got, want) {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
	if got := httpwire.NewProblem(http.StatusForbidden, "").InvalidToken().GetHeaders().Get("WWW-Authenticate"); !strings.Contains(got, "insufficient_scope") {
		t.Errorf("InvalidToken changed a 403's challenge to %q", got)
	}
}

func TestWriteProblem(t *testing.T) {
	rec := httptest.NewRecorder()
	p := httpwire.NewProblem(http.StatusUnauthorized, "this route needs a credential")
	p.Header().Set("X-Extra", "1")
	httpwire.WriteProblem(rec, p)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", rec.Code)
	}
	for name, want := range map[string]string{
		"Content-Type":           "application/problem+json",
		"X-Content-Type-Options": "nosniff",
		"WWW-Authenticate":       httpwire.Challenge,
		"X-Extra":                "1",
	} {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"type": "about:blank", "title": "Unauthorized", "status": float64(401), "detail": "this route needs a credential", "code": "unauthenticated"}
	if fmt.Sprint(body) != fmt.Sprint(want) {
		t.Errorf("body = %v, want %v", body, want)
	}
}
