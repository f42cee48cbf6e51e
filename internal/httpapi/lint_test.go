package httpapi_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// lintAllowed are the lint findings that are true of Keyward and stay: rule, then the
// document location. Anything else fails TestOpenAPILint.
var lintAllowed = map[string]map[string]string{
	// Envoy's ext_authz sends the original path after this prefix: the route is the prefix.
	"no-path-trailing-slash": {"#/paths/~1gateway~1envoy~1": "a prefix route"},
	// The repository states no license; the document does not invent one.
	"info-license": {"#/info": "no license declared"},
	// These answer no client error at all: a 4XX would be a lie.
	"operation-4xx-response": {
		"#/paths/~1.well-known~1jwks.json/get/responses":                  "static",
		"#/paths/~1.well-known~1oauth-authorization-server/get/responses": "static",
		"#/paths/~1healthz/get/responses":                                 "liveness",
		"#/paths/~1readyz/get/responses":                                  "200 or 503",
		"#/paths/~1metrics/get/responses":                                 "metrics",
	},
}

// TestOpenAPILint runs two independent checkers over both served documents (3.1 and 3.0):
// redocly lint with its recommended rules, and swagger-parser's validation. Their versions
// are pinned in testdata/lint/package-lock.json and installed with npm ci into the user's
// cache directory, once per lock file.
func TestOpenAPILint(t *testing.T) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("TestOpenAPILint needs %s (Node.js) on PATH to run redocly and swagger-parser: %v", tool, err)
		}
	}
	dir := lintTools(t)
	e := newEnv(t)
	docs := t.TempDir()
	var files []string
	for _, p := range []string{"/openapi.json", "/openapi-3.0.json"} {
		r := e.doAs("", "GET", p, nil)
		if r.status != 200 {
			t.Fatalf("GET %s = %d", p, r.status)
		}
		f := filepath.Join(docs, filepath.Base(p))
		if err := os.WriteFile(f, r.body, 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	out, err := exec.CommandContext(ctx, "node", filepath.Join(dir, "validate.mjs"), files[0], files[1]).CombinedOutput()
	t.Logf("swagger-parser:\n%s", out)
	if err != nil {
		t.Errorf("swagger-parser: %v", err)
	}

	for _, f := range files {
		cmd := exec.CommandContext(ctx, filepath.Join(dir, "node_modules", ".bin", "redocly"), "lint", "--extends", "recommended", "--format", "json", f)
		cmd.Dir = docs
		cmd.Env = append(os.Environ(), "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
		out, _ := cmd.Output() // non-zero when it finds errors; the report says which
		var report struct {
			Problems []struct {
				RuleID   string `json:"ruleId"`
				Severity string `json:"severity"`
				Message  string `json:"message"`
				Location []struct {
					Pointer string `json:"pointer"`
				} `json:"location"`
			} `json:"problems"`
		}
		if err := json.Unmarshal(out, &report); err != nil {
			t.Fatalf("redocly lint %s: %v\n%s", f, err, out)
		}
		allowed := 0
		for _, p := range report.Problems {
			ptr := ""
			if len(p.Location) > 0 {
				ptr = p.Location[0].Pointer
			}
			if _, ok := lintAllowed[p.RuleID][ptr]; ok {
				allowed++
				continue
			}
			t.Errorf("redocly %s: %s %s at %s: %s", filepath.Base(f), p.Severity, p.RuleID, ptr, p.Message)
		}
		t.Logf("redocly lint --extends recommended %s: %d findings, %d of them allowed", filepath.Base(f), len(report.Problems), allowed)
	}
}

// lintTools installs the pinned linters (npm ci) into a cache directory named after the lock
// file, and returns it.
func lintTools(t *testing.T) string {
	t.Helper()
	src := filepath.Join("testdata", "lint")
	lock, err := os.ReadFile(filepath.Join(src, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "keyward-openapi-lint", fmt.Sprintf("%x", sha256.Sum256(lock))[:16])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"package.json", "package-lock.json", "validate.mjs"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".bin", "redocly")); err == nil {
		return dir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return dir
}
