package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/keyward"
)

func TestReportKeyUsage(t *testing.T) {
	e := newEnv(t)
	mine := e.key(map[string]any{"name": "mine"})
	_, other, err := e.svc.CreateAdminKey(t.Context(), "other-tenant", "root")
	if err != nil {
		t.Fatal(err)
	}
	var theirs createdKey
	e.doAs(other, "POST", "/v1/api-keys", map[string]any{"name": "theirs"}).decode(t, &theirs)

	var answer struct{ Recorded, Skipped int }
	e.must(http.StatusOK, "POST", "/v1/keys/usage", map[string]any{"uses": []any{
		map[string]any{"key_id": mine.ID, "outcomes": map[string]any{"VALID": 3, "RATE_LIMITED": 1}, "last_used_at": e.clock.Now()},
		map[string]any{"key_id": theirs.ID, "outcomes": map[string]any{"VALID": 5}},
		map[string]any{"key_id": keyward.NewID(), "outcomes": map[string]any{"VALID": 1}},
	}}).decode(t, &answer)
	if answer.Recorded != 1 || answer.Skipped != 2 {
		t.Errorf("answer = %+v, want 1 recorded and 2 skipped", answer)
	}
	if err := e.verifier.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	outcomes := func(token, keyID string) map[string]int64 {
		t.Helper()
		var u struct {
			Buckets []struct{ Outcomes map[string]int64 }
		}
		r := e.doAs(token, "GET", "/v1/api-keys/"+keyID+"/usage?granularity=day&from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z", nil)
		if r.status != http.StatusOK {
			t.Fatalf("usage of %s = %d %s", keyID, r.status, r.body)
		}
		r.decode(t, &u)
		sum := map[string]int64{}
		for _, b := range u.Buckets {
			for code, n := range b.Outcomes {
				sum[code] += n
			}
		}
		return sum
	}
	if diff := cmp.Diff(map[string]int64{"VALID": 3, "RATE_LIMITED": 1}, outcomes(e.token, mine.ID)); diff != "" {
		t.Errorf("usage of the reported key (-want +got):\n%s", diff)
	}
	if got := outcomes(other, theirs.ID); len(got) != 0 {
		t.Errorf("the other account's key got usage %v from this account's report", got)
	}
	var k struct {
		LastUsedAt *string `json:"last_used_at"`
	}
	e.must(http.StatusOK, "GET", "/v1/api-keys/"+mine.ID, nil).decode(t, &k)
	if k.LastUsedAt == nil {
		t.Error("last_used_at is null after a report of VALID uses")
	}
}

func TestReportKeyUsageValidation(t *testing.T) {
	e := newEnv(t)
	k := e.key(map[string]any{"name": "k"})
	many := make([]any, 1001)
	for i := range many {
		many[i] = map[string]any{"key_id": k.ID, "outcomes": map[string]any{"VALID": 1}}
	}
	for _, tc := range []struct {
		name string
		body any
	}{
		{"too many entries", map[string]any{"uses": many}},
		{"negative count", `{"uses":[{"key_id":"` + k.ID + `","outcomes":{"VALID":-1}}]}`},
		{"count out of bounds", `{"uses":[{"key_id":"` + k.ID + `","outcomes":{"VALID":1099511627777}}]}`},
		{"an outcome a cache cannot decide", `{"uses":[{"key_id":"` + k.ID + `","outcomes":{"REVOKED":1}}]}`},
		{"no key id", `{"uses":[{"outcomes":{"VALID":1}}]}`},
		{"no uses", `{}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/v1/keys/usage", tc.body)
			if r.status != http.StatusUnprocessableEntity || !strings.Contains(problemCode(t, r), "validation") {
				t.Errorf("POST /v1/keys/usage = %d %s, want 422 validation_failed", r.status, r.body)
			}
		})
	}
}
