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
	"internal/keyformat":                 {},
	"internal/keyward":                   {"internal/keyformat"},
	"internal/config":                    {"internal/keyformat"},
	"internal/sqlite":                    {"internal/keyward", "internal/storecodec"},
	"internal/postgres":                  {"internal/keyward", "internal/storecodec"},
	"internal/storecodec":                {"internal/keyward"},
	"internal/storetest":                 {"internal/keyward"},
	"internal/oidctest":                  {},
	"internal/ratelimit":                 {"internal/keyward"},
	"internal/verify":                    {"internal/keyformat", "internal/keyward", "internal/ratelimit"},
	"internal/authn":                     {"internal/httpwire", "internal/keyward", "internal/verify"},
	"internal/oauth":                     {"internal/keyformat", "internal/keyward", "internal/verify"},
	"internal/jobs":                      {},
	"internal/connlimit":                 {},
	"internal/httpwire":                  {"internal/keyward"},
	"internal/httpapi":                   {"internal/authn", "internal/events", "internal/gateway", "internal/httpapi/compat", "internal/httpwire", "internal/keyward", "internal/oauth", "internal/secretscan", "internal/verify"},
	"internal/gateway":                   {"internal/authn", "internal/httpwire", "internal/keyward", "internal/verify"},
	"internal/events":                    {"internal/keyward"},
	"internal/webhook":                   {},
	"internal/secretscan":                {},
	"internal/secretscan/secretscantest": {"internal/secretscan"},
	"internal/seal":                      {"internal/keyformat"},
	"internal/delivery":                  {"internal/keyward", "internal/webhook"},
	"internal/dashboard":                 {"internal/httpwire", "internal/keyward"},
	"internal/httpapi/compat":            {"internal/authn", "internal/httpwire", "internal/keyward"},
	"internal/deptest":                   {},
	// A test helper, imported only by other packages' _test.go files: chromedp and nothing of ours.
	"internal/browsertest": {},
	// A test helper, imported only by _test.go files: libopenapi-validator and nothing of ours.
	"internal/openapitest": {},
	"bench/load":           {"client"},
	"client":               {},
	"cmd/keyward":          {"*"},
	// The webhook receiver examples: the Go one uses only the official Standard Webhooks
	// library, so that users can copy it; the examples' test (test code, not checked here)
	// signs with internal/webhook.
	"examples":                  {},
	"examples/webhook-receiver": {},
}

// stdlibOnly are the packages that may import no third-party module: the domain, so that it
// stays a plain description of Keyward; the stores' shared column codecs, so that neither
// store's driver reaches the other through them; the client, so that users get no
// dependencies; secretscan, GitHub's partner contract, which needs only crypto and JSON; and
// connlimit, a listener wrapper that needs only net and syscall.
var stdlibOnly = map[string]bool{"internal/connlimit": true, "internal/keyformat": true, "internal/keyward": true, "internal/storecodec": true, "client": true, "internal/secretscan": true, "internal/seal": true}

// thirdPartyOnly limits the modules some packages may import besides the standard library
// and ours. httpwire is every transport's leaf: huma only for huma.ErrorDetail, the type of a
// problem's field errors, which the OpenAPI document publishes as it is.
var thirdPartyOnly = map[string][]string{
	"internal/httpwire": {"github.com/danielgtaylor/huma/v2"},
	// webhook: the SSRF check only; signing is the standard library's HMAC.
	"internal/webhook": {"code.dny.dev/ssrf"},
	// The Go receiver example: the official library, nothing else.
	"examples/webhook-receiver": {"github.com/standard-webhooks/standard-webhooks/libraries/go"},
}

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
			thirdParty := !strings.HasPrefix(imp, module+"/") && strings.Contains(strings.Split(imp, "/")[0], ".")
			if stdlibOnly[pkg] && thirdParty {
				t.Errorf("%s imports %s: it may use only the standard library", pkg, imp)
			}
			if only, ok := thirdPartyOnly[pkg]; ok && thirdParty && !slices.Contains(only, imp) {
				t.Errorf("%s imports %s: of other modules it may use only %v", pkg, imp, only)
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
