package deptest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/keyward/keyward"

// allowed lists, for each package of ours, the packages of ours it may import (non-test
// code). A package missing from this table fails the test, so that a new package is placed in
// the layering on purpose.
var allowed = map[string][]string{
	"internal/keyformat":      {},
	"internal/keyward":        {"internal/keyformat"},
	"internal/config":         {"internal/keyformat"},
	"internal/sqlite":         {"internal/keyward", "internal/storecodec"},
	"internal/postgres":       {"internal/keyward", "internal/storecodec"},
	"internal/storecodec":     {"internal/keyward"},
	"internal/storetest":      {"internal/keyward"},
	"internal/oidctest":       {},
	"internal/ratelimit":      {"internal/keyward"},
	"internal/verify":         {"internal/keyformat", "internal/keyward", "internal/ratelimit"},
	"internal/authn":          {"internal/keyward", "internal/verify"},
	"internal/oauth":          {"internal/keyformat", "internal/keyward", "internal/verify"},
	"internal/jobs":           {},
	"internal/httpapi":        {"internal/authn", "internal/httpapi/compat", "internal/keyward", "internal/oauth", "internal/ratelimit", "internal/verify"},
	"internal/httpapi/compat": {"internal/authn", "internal/keyward", "internal/verify"},
	"internal/deptest":        {},
	"bench/load":              {"client"},
	"client":                  {},
	"cmd/keyward":             {"*"},
}

// stdlibOnly are the packages that may import no third-party module: the domain, so that it
// stays a plain description of Keyward; the stores' shared column codecs, so that neither
// store's driver reaches the other through them; and the client, so that users get no
// dependencies.
var stdlibOnly = map[string]bool{"internal/keyformat": true, "internal/keyward": true, "internal/storecodec": true, "client": true}

func TestImportsPointInward(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		may, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %s is not in the layering table; add it to allowed", pkg)
			continue
		}
		if len(may) == 1 && may[0] == "*" {
			continue
		}
		for _, imp := range fields[1:] {
			if stdlibOnly[pkg] && !strings.HasPrefix(imp, module+"/") && strings.Contains(strings.Split(imp, "/")[0], ".") {
				t.Errorf("%s imports %s: it may use only the standard library", pkg, imp)
			}
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			if !slices.Contains(may, dep) {
				t.Errorf("%s imports %s, which the layering forbids", pkg, dep)
			}
		}
	}
}
