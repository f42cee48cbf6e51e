package secretscan_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyward/keyward/internal/secretscan"
)

// gitHubExample is the alert of GitHub's own documentation.
const gitHubExample = `[
  {
    "token": "NMIfyYncKcRALEXAMPLE",
    "type": "mycompany_api_token",
    "url": "https://github.com/octocat/Hello-World/blob/12345600b9cbe38a219f39a9941c9319b600c002/foo/bar.txt",
    "source": "content"
  }
]`

func TestParseReports(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []secretscan.Report
	}{
		{"GitHub's example", gitHubExample, []secretscan.Report{{
			Token:  "NMIfyYncKcRALEXAMPLE",
			Type:   "mycompany_api_token",
			URL:    "https://github.com/octocat/Hello-World/blob/12345600b9cbe38a219f39a9941c9319b600c002/foo/bar.txt",
			Source: "content",
		}}},
		{"empty array", `[]`, []secretscan.Report{}},
		{"only a token", `[{"token":"t"}]`, []secretscan.Report{{Token: "t"}}},
		{"two", `[{"token":"a","type":"x"},{"token":"b","type":"y","source":"commit"}]`,
			[]secretscan.Report{{Token: "a", Type: "x"}, {Token: "b", Type: "y", Source: "commit"}}},
		{"unknown fields ignored", `[{"token":"a","type":"x","found_at":"2024-01-01","extra":{"n":[1,2]}}]`,
			[]secretscan.Report{{Token: "a", Type: "x"}}},
		{"whitespace around", " \n[{\"token\":\"a\"}]\n ", []secretscan.Report{{Token: "a"}}},
		{"exactly the maximum", manyReports(secretscan.MaxReports), nil}, // length checked below
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secretscan.ParseReports([]byte(tt.body))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if tt.want == nil {
				if len(got) != secretscan.MaxReports {
					t.Fatalf("got %d reports, want %d", len(got), secretscan.MaxReports)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("reports (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseReportsRefuses(t *testing.T) {
	tests := []struct {
		name, body, wantIn string
	}{
		{"empty body", ``, "not a JSON array"},
		{"null", `null`, "not a JSON array"},
		{"an object", `{"token":"a"}`, "not a JSON array"},
		{"a string", `"a"`, "not a JSON array"},
		{"unclosed", `[{"token":"a"}`, "unexpected EOF"},
		{"cut inside a report", `[{"token":"a"`, "report 0"},
		{"trailing data", `[{"token":"a"}] []`, "data after the array"},
		{"trailing garbage", `[{"token":"a"}]x`, "data after the array"},
		{"empty token", `[{"token":"a"},{"token":"","type":"x"}]`, "report 1: empty token"},
		{"no token", `[{"type":"x"}]`, "report 0: empty token"},
		{"null report", `[null]`, "report 0: not a JSON object"},
		{"number report", `[{"token":"a"}, 1]`, "report 1: not a JSON object"},
		{"token not a string", `[{"token":5}]`, "report 0"},
		{"type not a string", `[{"token":"a","type":["x"]}]`, "report 0"},
		{"too many", manyReports(secretscan.MaxReports + 1), fmt.Sprintf("more than %d reports", secretscan.MaxReports)},
		{"nested array", `[[{"token":"a"}]]`, "report 0: not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := secretscan.ParseReports([]byte(tt.body))
			if !errors.Is(err, secretscan.ErrInvalidReports) {
				t.Fatalf("got %v, %v; want an error wrapping ErrInvalidReports", got, err)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("got error %q, want it to say %q", err, tt.wantIn)
			}
		})
	}
}

// TestParseReportsErrorsHideTokens: an error is logged, and must not carry a reported token.
func TestParseReportsErrorsHideTokens(t *testing.T) {
	const secret = "ghp_SECRETSECRETSECRET"
	for _, body := range []string{
		`[{"token":"` + secret + `","type":5}]`,
		`[{"token":"` + secret + `"},{"token":""}]`,
		`[{"token":"` + secret + `"}]` + secret,
	} {
		_, err := secretscan.ParseReports([]byte(body))
		if err == nil {
			t.Fatalf("ParseReports(%s): got no error", body)
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q carries the token", err)
		}
	}
}

func manyReports(n int) string {
	var b strings.Builder
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"token":"t%d","type":"x"}`, i)
	}
	b.WriteByte(']')
	return b.String()
}

func TestReportNeverPrintsToken(t *testing.T) {
	const secret = "ghp_SECRETSECRETSECRET"
	r := secretscan.Report{Token: secret, Type: "keyward_api_key", URL: "https://github.com/o/r", Source: "commit"}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("alert", "report", r)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("alert", "report", r)
	for name, s := range map[string]string{
		"%v": fmt.Sprintf("%v", r), "%+v": fmt.Sprintf("%+v", r), "%#v": fmt.Sprintf("%#v", r),
		"%s": fmt.Sprintf("%s", r), "slice %v": fmt.Sprintf("%v", []secretscan.Report{r}),
		"slog": logged.String(),
	} {
		if strings.Contains(s, secret) {
			t.Errorf("%s prints the token: %s", name, s)
		}
		if !strings.Contains(s, "keyward_api_key") {
			t.Errorf("%s leaves out the type: %s", name, s)
		}
	}
}

func TestFeedback(t *testing.T) {
	r := secretscan.Report{Token: "NMIfyYncKcRALEXAMPLE", Type: "mycompany_api_token"}
	tests := []struct {
		label secretscan.Label
		want  string
	}{
		{secretscan.TruePositive, `{"token_raw":"NMIfyYncKcRALEXAMPLE","token_type":"mycompany_api_token","label":"true_positive"}`},
		{secretscan.FalsePositive, `{"token_hash":"` + secretscan.HashToken(r.Token) + `","token_type":"mycompany_api_token","label":"false_positive"}`},
	}
	for _, tt := range tests {
		t.Run(string(tt.label), func(t *testing.T) {
			got, err := json.Marshal(r.Feedback(tt.label))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	// Any label but TruePositive hashes: a label GitHub adds later must not echo a secret.
	if f := r.Feedback("something_new"); f.TokenRaw != "" || f.TokenHash == "" {
		t.Errorf("unknown label: got %+v, want only the hash", f)
	}
}

func TestHashToken(t *testing.T) {
	// sha256("") and sha256("abc"), the FIPS 180-2 examples.
	for token, want := range map[string]string{
		"":    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	} {
		if got := secretscan.HashToken(token); got != want {
			t.Errorf("HashToken(%q): got %s, want %s", token, got, want)
		}
	}
}
