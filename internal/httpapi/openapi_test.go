package httpapi_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the server's OpenAPI documents")

// TestOpenAPIGolden holds the served OpenAPI documents to golden files, so that a change to a
// handler's types, tags or registration that alters the wire contract shows up as a diff in
// review. After a deliberate change, regenerate them:
//
//	go test ./internal/httpapi -run TestOpenAPIGolden -update
func TestOpenAPIGolden(t *testing.T) {
	e := newEnv(t)
	doc := e.server.OpenAPI()
	v31, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	v30, err := e.server.OpenAPI30()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, golden string
		marshalled         []byte
	}{
		{"3.1", "/openapi.json", "openapi.golden.json", v31},
		{"3.0", "/openapi-3.0.json", "openapi-3.0.golden.json", v30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			served := e.doAs("", "GET", tc.path, nil)
			if served.status != http.StatusOK {
				t.Fatalf("GET %s = %d %s", tc.path, served.status, served.body)
			}
			if !bytes.Equal(served.body, tc.marshalled) {
				t.Errorf("GET %s is not the server's marshalled document", tc.path)
			}
			// Stored indented for readable diffs; indenting is lossless, so equal indented
			// forms mean byte-for-byte equal documents.
			var got bytes.Buffer
			if err := json.Indent(&got, served.body, "", "  "); err != nil {
				t.Fatal(err)
			}
			got.WriteByte('\n')
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("GET %s differs from %s (run with -update if the change is meant):\n%s", tc.path, path, firstDifference(got.String(), string(want)))
			}
		})
	}
}

// firstDifference shows where got and want part, with a few lines of context.
func firstDifference(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	i := 0
	for i < len(g) && i < len(w) && g[i] == w[i] {
		i++
	}
	from := max(i-3, 0)
	var b strings.Builder
	fmt.Fprintf(&b, "line %d:\n", i+1)
	for _, side := range []struct {
		name  string
		lines []string
	}{{"got", g}, {"want", w}} {
		b.WriteString(side.name + ":\n")
		for _, l := range side.lines[from:min(i+4, len(side.lines))] {
			b.WriteString("  " + l + "\n")
		}
	}
	return b.String()
}
