package secretscan_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/secretscan"
	"github.com/keyward/keyward/internal/secretscan/secretscantest"
)

// FuzzParseReports: ParseReports never panics, refuses only with ErrInvalidReports, and what
// it accepts holds its promises (at most MaxReports, no empty token) and survives being
// written back as GitHub writes it.
func FuzzParseReports(f *testing.F) {
	for _, seed := range []string{
		gitHubExample,
		`[]`,
		`[{"token":"a"}]`,
		`[{"token":"a","type":"x","url":"u","source":"commit","new_field":{"n":[1,null]}}]`,
		`[{"token":"\u00e9\ud83d\ude00\\\"","type":"x"}]`,
		`[{"token":""}]`,
		`[null]`,
		`[{"token":"a"},1]`,
		`[[]]`,
		`{"token":"a"}`,
		`null`,
		``,
		`[{"token":"a"}] x`,
		`[{"token":5}]`,
		`[{"TOKEN":"a","Token":"b"}]`,
		`[{"token":"a"}`,
		manyReports(3),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		reports, err := secretscan.ParseReports(body)
		if err != nil {
			if !errors.Is(err, secretscan.ErrInvalidReports) {
				t.Fatalf("got error %v, want it to wrap ErrInvalidReports", err)
			}
			if reports != nil {
				t.Fatalf("got reports %v beside error %v", reports, err)
			}
			return
		}
		if len(reports) > secretscan.MaxReports {
			t.Fatalf("got %d reports, more than MaxReports", len(reports))
		}
		for i, r := range reports {
			if r.Token == "" {
				t.Fatalf("report %d: empty token accepted", i)
			}
		}
		again, err := secretscan.ParseReports(secretscantest.ReportsBody(reports...))
		if err != nil {
			t.Fatalf("reports written back: %v", err)
		}
		if diff := cmp.Diff(reports, again); diff != "" {
			t.Fatalf("reports written back and read again (-first +again):\n%s", diff)
		}
	})
}
