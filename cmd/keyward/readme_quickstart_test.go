package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadmeQuickstartPastesTwice runs the README's quickstart (its curl walk, the OAuth
// exchange and the CLI walk) as a newcomer would paste it, with bash and curl against a real
// server, twice in a row: the second paste must work as the first did, not trip over what the
// first left behind.
func TestReadmeQuickstartPastesTwice(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the quickstart needs %s", tool)
		}
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	script := quickstartScript(t, string(readme))

	p := startServer(t, filepath.Join(t.TempDir(), "keyward-data"))
	token := adminKeyPattern.FindString(p.stderr.String())
	// The CLI walk builds the binary into the working directory; the test has built it
	// already, so the script gets a link to that one and runs in a directory of its own.
	dir := t.TempDir()
	if err := os.Symlink(binary(t), filepath.Join(dir, "keyward")); err != nil {
		t.Fatal(err)
	}
	script = strings.Replace(script, "go build -o keyward ./cmd/keyward\n", "", 1)
	script = strings.Replace(script, "export KEYWARD_URL=http://127.0.0.1:8080", "export KEYWARD_URL="+p.url, 1)
	script = strings.Replace(script, "export KEYWARD_TOKEN=kwadmin_…", "export KEYWARD_TOKEN="+token, 1)

	for paste := 1; paste <= 2; paste++ {
		cmd := exec.Command("bash", "-c", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("paste %d: %v\n%s", paste, err, out)
		}
		got := string(out)
		for _, want := range []string{`"code":"VALID"`, `"code":"REVOKED"`, `"access_token":"`, `"kind":"api_key"`, "Rotated key", "Revoked key"} {
			if !strings.Contains(got, want) {
				t.Errorf("paste %d: the output lacks %s:\n%s", paste, want, got)
			}
		}
		// A refusal from the API (problem+json or an OAuth error) or from the CLI.
		if m := regexp.MustCompile(`"status":[45]\d\d|"error":"|(?m)^keyward: `).FindString(got); m != "" {
			t.Errorf("paste %d: something was refused (%s):\n%s", paste, m, got)
		}
		// Nothing the quickstart writes lands in the working directory: its files hold secrets.
		entries, _ := os.ReadDir(dir)
		if len(entries) != 1 {
			t.Errorf("paste %d left files in the working directory: %v", paste, entries)
		}
		if paste == 1 {
			time.Sleep(1100 * time.Millisecond) // the script names its projects by the second
		}
	}
	p.stop(syscall.SIGTERM)
}

// quickstartScript is the README's shell blocks from "## Quickstart" up to the next "## "
// section, in order.
func quickstartScript(t *testing.T, readme string) string {
	t.Helper()
	start := strings.Index(readme, "\n## Quickstart")
	if start < 0 {
		t.Fatal("README.md has no Quickstart section")
	}
	section := readme[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	var b strings.Builder
	b.WriteString("set -u\n")
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(section, -1) {
		b.WriteString(m[1])
	}
	if b.Len() < 100 {
		t.Fatal("the Quickstart section has no shell blocks")
	}
	return b.String()
}
