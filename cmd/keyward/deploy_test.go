package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDockerfileKeepsItsPromises checks what Docker cannot check here: that the image builds
// with the Go go.mod asks for, through the script deploy/verify-container.sh verifies, and
// runs as 65532 with a shell-less health check on its data volume.
func TestDockerfileKeepsItsPromises(t *testing.T) {
	dockerfile := readRepoFile(t, "Dockerfile")
	gomod := readRepoFile(t, "go.mod")
	want := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(gomod)
	got := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(dockerfile)
	if want == nil || got == nil || got[1] != want[1] {
		t.Errorf("Dockerfile GO_VERSION %v, go.mod's go %v: they must match", got, want)
	}
	for _, line := range []string{
		`RUN COMMIT="$COMMIT" deploy/build-static.sh /out/keyward "$VERSION"`,
		`FROM gcr.io/distroless/static-debian12:nonroot`,
		`USER 65532:65532`,
		`VOLUME ["/data"]`,
		`    KEYWARD_DATA=/data`,
		`    CMD ["/keyward", "healthcheck"]`,
		`ENTRYPOINT ["/keyward"]`,
	} {
		if !strings.Contains(dockerfile, "\n"+line+"\n") {
			t.Errorf("the Dockerfile has no line %q", line)
		}
	}
	if !strings.Contains(readRepoFile(t, "deploy/build-static.sh"), "CGO_ENABLED=0") {
		t.Errorf("deploy/build-static.sh does not build without cgo")
	}
}

// TestSystemdUnit checks deploy/keyward.service with systemd-analyze, when the machine has
// it: the unit is valid (with ExecStart pointing at a built keyward) and its exposure score
// stays low.
func TestSystemdUnit(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("no systemd-analyze")
	}
	unit := readRepoFile(t, "deploy/keyward.service")
	const execStart = "ExecStart=/usr/local/bin/keyward serve"
	if !strings.Contains(unit, "\n"+execStart+"\n") {
		t.Fatalf("the unit has no line %q", execStart)
	}
	path := filepath.Join(t.TempDir(), "keyward.service")
	if err := os.WriteFile(path, []byte(strings.Replace(unit, execStart, "ExecStart="+binary(t)+" serve", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", path).CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for keyward.service: ([0-9.]+)`).FindSubmatch(out)
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	if score, _ := strconv.ParseFloat(string(m[1]), 64); score > 2 {
		t.Errorf("exposure %.1f, want at most 2:\n%s", score, out)
	}
}

// TestReadyURL checks where keyward healthcheck looks without --url.
func TestReadyURL(t *testing.T) {
	for _, c := range []struct {
		addr string
		tls  bool
		want string
	}{
		{"127.0.0.1:8080", false, "http://127.0.0.1:8080/readyz"},
		{"0.0.0.0:8080", false, "http://127.0.0.1:8080/readyz"},
		{":9090", true, "https://127.0.0.1:9090/readyz"},
		{"[::]:8080", false, "http://[::1]:8080/readyz"},
		{"keyward.internal:443", true, "https://keyward.internal:443/readyz"},
	} {
		if got := readyURL(c.addr, c.tls); got != c.want {
			t.Errorf("readyURL(%q, %v) = %q, want %q", c.addr, c.tls, got, c.want)
		}
	}
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
