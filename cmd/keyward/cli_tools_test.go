package main

// Tests of what makes the CLI behave like the tools people know (issue 16, item 8): unknown
// commands fail with a suggestion, --version, the confirmation before a revocation, -o
// json|table|yaml, completion from the server, and profiles.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

const testWhoamiJSON = `{"kind":"admin_key","key_id":null,"account":{"id":"acc_1","name":"default","key_prefix":"kw","allowed_ips":[],"leak_policy":"revoke",` +
	`"created_at":"2026-01-02T03:04:05Z"},"user":null,"role":{"id":"r","name":"Owner","slug":"owner"},"permissions":["*"],"scopes":[],"projects":[]}`

// runBinary runs the keyward binary with args and stdin, and returns stdout, stderr and the
// exit code. It never waits more than 30 s.
func runBinary(t *testing.T, bin string, stdin *os.File, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("keyward %s did not end within 30s", strings.Join(args, " "))
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// TestUnknownCommandsFail runs the binary: a command that does not exist fails (exit 1) at
// every level, naming a close one when there is one, and a group called bare prints its help.
func TestUnknownCommandsFail(t *testing.T) {
	bin := binary(t)
	tests := []struct {
		args    []string
		want    string // in stderr
		suggest string // "" when nothing is close
	}{
		{[]string{"nosuch"}, `unknown command "nosuch" for "keyward"`, ""},
		{[]string{"kyes"}, `unknown command "kyes" for "keyward"`, "keys"},
		{[]string{"keys", "nosuch"}, `unknown command "nosuch" for "keyward keys"`, ""},
		{[]string{"keys", "lst"}, `unknown command "lst" for "keyward keys"`, "list"},
		{[]string{"oauth", "tokn"}, `unknown command "tokn" for "keyward oauth"`, "token"},
		{[]string{"profiles", "uze"}, `unknown command "uze" for "keyward profiles"`, ""},
		{[]string{"completion", "tcsh"}, `unknown command "tcsh" for "keyward completion"`, "zsh"},
		{[]string{"help", "nosuch"}, `unknown command "nosuch" for "keyward"`, ""},
		{[]string{"help", "keys", "revok"}, `unknown command "revok" for "keyward keys"`, "revoke"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			stdout, stderr, code := runBinary(t, bin, nil, nil, tt.args...)
			if code != 1 {
				t.Errorf("exit code = %d, want 1\nstderr: %s", code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
			hasSuggestion := strings.Contains(stderr, "Did you mean this?")
			if tt.suggest != "" && (!hasSuggestion || !strings.Contains(stderr, "\t"+tt.suggest+"\n")) {
				t.Errorf("stderr = %q, want a suggestion of %q", stderr, tt.suggest)
			}
			if tt.suggest == "" && hasSuggestion {
				t.Errorf("stderr = %q, want no suggestion", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
		})
	}
	for _, args := range [][]string{{"keys"}, {"help", "keys"}, {"keys", "--help"}, {"help", "keys", "get"}} {
		stdout, stderr, code := runBinary(t, bin, nil, nil, args...)
		if code != 0 || !strings.Contains(stdout, "Usage:") {
			t.Errorf("keyward %s: exit %d, stdout %q, stderr %q; want the help and 0", strings.Join(args, " "), code, stdout, stderr)
		}
	}
}

func TestResolveBuild(t *testing.T) {
	tests := []struct {
		name                      string
		ver, com, dat, rev, vtime string
		modified                  bool
		want                      buildInfo
	}{
		{name: "nothing known", want: buildInfo{Version: "dev", Commit: unknown, Date: unknown}},
		{name: "the VCS stamp", rev: "abc", vtime: "2026-01-01T00:00:00Z", modified: true,
			want: buildInfo{Version: "dev", Commit: "abc", Date: "2026-01-01T00:00:00Z", Modified: true}},
		{name: "ldflags win", ver: "1.2.3", com: "def", dat: "2026-02-02T00:00:00Z", rev: "abc", vtime: "2026-01-01T00:00:00Z", modified: true,
			want: buildInfo{Version: "1.2.3", Commit: "def", Date: "2026-02-02T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolveBuild(tt.ver, tt.com, tt.dat, tt.rev, tt.vtime, tt.modified)
			tt.want.GoVersion = got.GoVersion
			if got != tt.want {
				t.Errorf("resolveBuild = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestVersionIsOneSource builds keyward with -ldflags and checks that 'keyward version',
// --version, the startup log of 'keyward serve' and keyward_build_info all say the same.
func TestVersionIsOneSource(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "keyward")
	const ver, com, dat = "9.8.7", "0123456789abcdef", "2026-03-04T05:06:07Z"
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X main.version="+ver+" -X main.commit="+com+" -X main.date="+dat, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	wantLine := "keyward " + ver + " (commit " + com + ", built " + dat + ", go"
	for _, args := range [][]string{{"version"}, {"--version"}} {
		stdout, stderr, code := runBinary(t, bin, nil, nil, args...)
		if code != 0 || !strings.HasPrefix(stdout, wantLine) {
			t.Errorf("keyward %s = %q (exit %d, %s), want %q...", args[0], stdout, code, stderr, wantLine)
		}
	}
	stdout, _, _ := runBinary(t, bin, nil, nil, "version", "-o", "json")
	var info map[string]string
	if err := json.Unmarshal([]byte(stdout), &info); err != nil || info["version"] != ver || info["commit"] != com || info["date"] != dat {
		t.Errorf("version -o json = %s (%v)", stdout, err)
	}

	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "data"), "--metrics-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "KEYWARD_LOG_LEVEL=info")
	p := startCommand(t, cmd)
	logLine := regexp.MustCompile(`msg="keyward is listening".* version=` + regexp.QuoteMeta(ver) + ` commit=` + com + ` built=` + dat)
	if !logLine.MatchString(p.stderr.String()) {
		t.Errorf("the startup log does not carry version, commit and date:\n%s", p.stderr.String())
	}
	m := metricsURL.FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("no metrics listener in the log:\n%s", p.stderr.String())
	}
	res, err := httpGet(m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	want := `keyward_build_info{goversion="go`
	wantLabels := `",revision="` + com + `",vcs_time="` + dat + `",version="` + ver + `"} 1`
	if i := strings.Index(res, want); i < 0 || !strings.Contains(res[i:], wantLabels) {
		t.Errorf("/metrics lacks %s...%s", want, wantLabels)
	}
	p.stop(os.Interrupt)
}

func httpGet(url string) (string, error) {
	res, err := http.Get(url)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

// TestRevokeAsksOnATerminal runs 'keys revoke' with a real terminal (a pty) as stdin: it asks,
// and only "y" or "yes" revokes; without a terminal it refuses unless --yes is given.
func TestRevokeAsksOnATerminal(t *testing.T) {
	bin := binary(t)
	rec := newWireRecorder(t, 204, "application/json", "")
	env := []string{envKeywardURL + "=" + rec.URL, envKeywardToken + "=kwadmin_test"}

	onTerminal := func(answer string, args ...string) (string, int) {
		t.Helper()
		ptmx, tty, err := pty.Open()
		if err != nil {
			t.Skipf("no pty here: %v", err)
		}
		defer ptmx.Close()
		defer tty.Close()
		// The terminal keeps typed lines until the command reads them.
		if _, err := ptmx.WriteString(answer + "\n"); err != nil {
			t.Fatal(err)
		}
		go func() { _, _ = bytes.NewBuffer(nil).ReadFrom(ptmx) }() // drain the echo
		_, stderr, code := runBinary(t, bin, tty, env, append([]string{"keys", "revoke"}, args...)...)
		return stderr, code
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()

	tests := []struct {
		name     string
		run      func() (string, int)
		wantCode int
		wantErr  string
		revoked  int // requests sent
	}{
		{"terminal, no", func() (string, int) { return onTerminal("n", "key_1") }, 1, "not confirmed: nothing was done", 0},
		{"terminal, empty answer", func() (string, int) { return onTerminal("", "key_1") }, 1, "not confirmed", 0},
		{"terminal, yes", func() (string, int) { return onTerminal("yes", "key_1", "key_2") }, 0, "Revoke 2 keys (key_1, key_2)", 2},
		{"terminal, --yes asks nothing", func() (string, int) { return onTerminal("n", "key_1", "--yes") }, 0, "", 1},
		{"no terminal, refused", func() (string, int) {
			_, stderr, code := runBinary(t, bin, devNull, env, "keys", "revoke", "key_1")
			return stderr, code
		}, 1, "refusing without confirmation: stdin is not a terminal", 0},
		{"no terminal, -y", func() (string, int) {
			_, stderr, code := runBinary(t, bin, devNull, env, "keys", "revoke", "-y", "key_1")
			return stderr, code
		}, 0, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(rec.requests())
			stderr, code := tt.run()
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d; stderr %q", code, tt.wantCode, stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.wantErr)
			}
			if tt.wantErr == "" && strings.Contains(stderr, "[y/N]") {
				t.Errorf("asked although --yes: %q", stderr)
			}
			if n := len(rec.requests()) - before; n != tt.revoked {
				t.Errorf("server saw %d revocations, want %d", n, tt.revoked)
			}
		})
	}
}

// TestOutputFormats checks -o on a list and a show command: json is --json, yaml is the same
// document with the same field names in the same order, table is the default, and a bad or
// contradictory choice fails before any request.
func TestOutputFormats(t *testing.T) {
	for _, tt := range []struct {
		name, body string
		args       []string
	}{
		{"list", "[" + testKeyJSON + "]", []string{"keys", "list"}},
		{"show", testKeyJSON, []string{"keys", "get", "key_1"}},
		{"empty list", "[]", []string{"projects", "list"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := newWireRecorder(t, 200, "application/json", tt.body)
			useServer(t, rec.URL)
			run := func(extra ...string) string {
				t.Helper()
				stdout, _, err := cliRun(t, append(append([]string{}, tt.args...), extra...)...)
				if err != nil {
					t.Fatalf("%v %v: %v", tt.args, extra, err)
				}
				return stdout
			}
			asJSON := run("--json")
			if got := run("-o", "json"); got != asJSON {
				t.Errorf("-o json differs from --json:\n%s\n%s", got, asJSON)
			}
			if got := run("--output=JSON", "--json"); got != asJSON {
				t.Errorf("--output=JSON --json differs from --json")
			}
			asYAML := run("-o", "yaml")
			var fromJSON, fromYAML any
			if err := json.Unmarshal([]byte(asJSON), &fromJSON); err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal([]byte(asYAML), &fromYAML); err != nil {
				t.Fatalf("-o yaml is not YAML: %v\n%s", err, asYAML)
			}
			// YAML reads whole numbers as int, JSON as float64: compare the YAML's JSON.
			b, err := json.Marshal(fromYAML)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &fromYAML); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(fromJSON, fromYAML); diff != "" {
				t.Errorf("-o yaml is not the JSON document (-json +yaml):\n%s", diff)
			}
			if tt.body != "[]" && strings.Index(asYAML, "name:") > strings.Index(asYAML, "status:") {
				t.Errorf("-o yaml changed the order of the fields:\n%s", asYAML)
			}
			if table := run(); table != run("-o", "table") || strings.HasPrefix(table, "{") || strings.HasPrefix(table, "[") {
				t.Errorf("the default is not the table:\n%s", table)
			}
		})
	}
	rec := newWireRecorder(t, 200, "application/json", "[]")
	useServer(t, rec.URL)
	for args, want := range map[string]string{
		"keys list -o xml":          `invalid argument "xml" for "-o, --output" flag: want one of table, json, yaml`,
		"keys list --json -o yaml":  "--json and -o yaml disagree",
		"keys revoke -y k -o table": "",
	} {
		_, _, err := cliRun(t, strings.Fields(args)...)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: error %v, want %q", args, err, want)
		}
	}
	if n := len(rec.requests()); n != 1 {
		t.Errorf("server saw %d requests, want only the revocation", n)
	}
}

func TestWriteYAMLKeepsJSON(t *testing.T) {
	var b bytes.Buffer
	v := map[string]any{"big": json.Number("12345678901234567890"), "f": 1.5, "s": "yes", "n": nil, "e": []any{}, "o": map[string]any{}, "t": true}
	if err := writeYAML(&b, v); err != nil {
		t.Fatal(err)
	}
	want := "big: 12345678901234567890\ne: []\nf: 1.5\n\"n\": null\no: {}\ns: \"yes\"\nt: true\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("yaml (-want +got):\n%s", diff)
	}
}

// TestCompletion checks that the shells' scripts print and that __complete offers IDs from
// the server, with their names, for arguments and flags.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		stdout, _, err := runKeyward2(t, nil, "completion", shell)
		if err != nil || !strings.Contains(stdout, "__complete") {
			t.Errorf("completion %s: %v\n%.200s", shell, err, stdout)
		}
	}
	keys := newWireRecorder(t, 200, "application/json", "["+testKeyJSON+","+strings.Replace(testKeyJSON, `"id":"key_1"`, `"id":"key_2"`, 1)+"]")
	projects := newWireRecorder(t, 200, "application/json", `[{"id":"prj_1","name":"shop","key_prefix":"sk","created_at":"2026-01-02T03:04:05Z"}]`)
	accounts := newWireRecorder(t, 200, "application/json", `[{"id":"acc_1","name":"acme","key_prefix":"kw","allowed_ips":[],"leak_policy":"revoke","created_at":"2026-01-02T03:04:05Z"}]`)
	t.Setenv(envKeywardToken, "kwadmin_test")
	tests := []struct {
		server *wireRecorder
		args   []string
		want   []string
		path   string
	}{
		{keys, []string{"keys", "get", ""}, []string{"key_1\tbilling worker (active)", "key_2\tbilling worker (active)"}, "/v1/api-keys"},
		{keys, []string{"keys", "get", "key_1", ""}, nil, ""}, // one argument only
		{keys, []string{"keys", "revoke", "key_1", ""}, []string{"key_2\tbilling worker (active)"}, "/v1/api-keys"},
		{keys, []string{"key", "rotate", "key_2"}, []string{"key_2\tbilling worker (active)"}, "/v1/api-keys"},
		{projects, []string{"keys", "list", "--project", ""}, []string{"prj_1\tshop"}, "/v1/projects"},
		{projects, []string{"projects", "get", "p"}, []string{"prj_1\tshop"}, "/v1/projects"},
		{accounts, []string{"accounts", "update", ""}, []string{"acc_1\tacme"}, "/v1/accounts"},
		{keys, []string{"oauth", "token", "--client-id", "key_"}, []string{"key_1\tbilling worker (active)", "key_2\tbilling worker (active)"}, "/v1/api-keys"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := len(tt.server.requests())
			// The last word is the one being completed: the server comes from the environment.
			t.Setenv(envKeywardURL, tt.server.URL)
			stdout, _, err := runKeyward2(t, nil, append([]string{"__complete"}, tt.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(stdout), "\n")
			got := lines[:len(lines)-1] // the last line is the directive
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b []string) bool { return strings.Join(a, "|") == strings.Join(b, "|") })); diff != "" {
				t.Errorf("completions (-want +got):\n%s", diff)
			}
			reqs := tt.server.requests()[before:]
			if tt.path == "" && len(reqs) != 0 || tt.path != "" && (len(reqs) != 1 || reqs[0].Path != tt.path) {
				t.Errorf("requests %+v, want one to %s", reqs, tt.path)
			}
		})
	}
	// An unreachable server offers nothing and breaks nothing.
	t.Setenv(envKeywardURL, "http://127.0.0.1:1")
	stdout, _, err := runKeyward2(t, nil, "__complete", "keys", "get", "")
	if err != nil || strings.Contains(stdout, "key_") || !strings.HasPrefix(stdout, ":") {
		t.Errorf("unreachable server: %v %q", err, stdout)
	}
}

// runKeyward2 runs the whole command tree in this process with stdin, and returns stdout,
// stderr and the error.
func runKeyward2(t *testing.T, stdin *strings.Reader, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd(&out, &errOut)
	if stdin != nil {
		root.SetIn(stdin)
	}
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), errOut.String(), err
}

// TestProfiles logs in twice, checks the file, and that commands use the current or the
// named profile, never sending a profile's token to another server.
func TestProfiles(t *testing.T) {
	cfgPath := filepath.Join(t.TempDir(), "sub", "config.json")
	t.Setenv(envKeywardConfig, cfgPath)
	t.Setenv(envKeywardURL, "")
	t.Setenv(envKeywardToken, "")
	t.Setenv(envKeywardProfile, "")
	prod := newWireRecorder(t, 200, "application/json", testWhoamiJSON)
	staging := newWireRecorder(t, 200, "application/json", testWhoamiJSON)

	if _, _, err := runKeyward2(t, strings.NewReader("kwadmin_prod\n"), "login", "--url", prod.URL); err != nil {
		t.Fatal(err)
	}
	out, _, err := runKeyward2(t, strings.NewReader("  kwadmin_staging  \n"), "login", "--profile", "staging", "--url", staging.URL+"/")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `as admin_key of account default; stored as profile "staging" (now current)`) {
		t.Errorf("login said %q", out)
	}
	if got := prod.requests()[0]; got.Path != "/v1/whoami" || got.Auth != "Bearer kwadmin_prod" {
		t.Errorf("login checked the credential with %+v", got)
	}
	for _, p := range []string{cfgPath, filepath.Dir(cfgPath)} {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v, want none for group and others", p, perm)
		}
	}
	var cfg cliConfig
	b, _ := os.ReadFile(cfgPath)
	if err := json.Unmarshal(b, &cfg); err != nil || cfg.Current != "staging" || cfg.Profiles["default"].Token != "kwadmin_prod" ||
		cfg.Profiles["staging"].URL != staging.URL || cfg.Profiles["staging"].Token != "kwadmin_staging" {
		t.Errorf("config file = %s (%v)", b, err)
	}

	out, _, err = runKeyward2(t, nil, "profiles")
	if err != nil || !regexp.MustCompile(`(?m)^\s+default\s+`+regexp.QuoteMeta(prod.URL)+`\n\*\s+staging\s+`).MatchString(out) {
		t.Errorf("profiles = %q (%v)", out, err)
	}
	if out, _, _ = runKeyward2(t, nil, "profiles", "-o", "json"); strings.Contains(out, "kwadmin") {
		t.Errorf("profiles printed a token: %s", out)
	}

	// whoami goes where the profile says, with its token.
	call := func(server *wireRecorder, wantAuth string, args ...string) {
		t.Helper()
		before := len(server.requests())
		if _, _, err := runKeyward2(t, nil, append([]string{"whoami"}, args...)...); err != nil {
			t.Fatalf("whoami %v: %v", args, err)
		}
		reqs := server.requests()
		if len(reqs) != before+1 || reqs[len(reqs)-1].Auth != wantAuth {
			t.Errorf("whoami %v: server saw %+v, want one request with %q", args, reqs[before:], wantAuth)
		}
	}
	call(staging, "Bearer kwadmin_staging")
	call(prod, "Bearer kwadmin_prod", "--profile", "default")
	t.Setenv(envKeywardProfile, "default")
	call(prod, "Bearer kwadmin_prod")
	call(staging, "Bearer kwadmin_staging", "--profile", "staging") // the flag wins over the variable
	t.Setenv(envKeywardProfile, "")
	call(prod, "Bearer kwadmin_flag", "--url", prod.URL, "--token", "kwadmin_flag")
	t.Setenv(envKeywardToken, "kwadmin_env")
	call(staging, "Bearer kwadmin_env")
	t.Setenv(envKeywardToken, "")

	// A server named by --url never gets a profile's token.
	before := len(prod.requests())
	if _, _, err := runKeyward2(t, nil, "whoami", "--url", prod.URL); err == nil || !strings.Contains(err.Error(), "no credential") {
		t.Errorf("whoami --url elsewhere: %v, want no credential", err)
	}
	if len(prod.requests()) != before {
		t.Error("a request went out without a credential")
	}
	if _, _, err := runKeyward2(t, nil, "whoami", "--profile", "nosuch"); err == nil || !strings.Contains(err.Error(), `no profile "nosuch"`) {
		t.Errorf("--profile nosuch: %v", err)
	}

	if _, _, err := runKeyward2(t, nil, "profiles", "use", "default"); err != nil {
		t.Fatal(err)
	}
	call(prod, "Bearer kwadmin_prod")
	if _, _, err := runKeyward2(t, nil, "logout"); err != nil {
		t.Fatal(err)
	}
	out, _, _ = runKeyward2(t, nil, "profiles")
	if strings.Contains(out, "default") || !strings.Contains(out, "staging") {
		t.Errorf("after logout, profiles = %q", out)
	}
	if _, _, err := runKeyward2(t, nil, "logout", "--profile", "default"); err == nil {
		t.Error("logout of a removed profile succeeded")
	}

	// A refused credential is not stored; an empty stdin is refused.
	refusing := newWireRecorder(t, 401, "application/problem+json", `{"status":401,"code":"unauthenticated","detail":"invalid credential"}`)
	if _, _, err := runKeyward2(t, strings.NewReader("kwadmin_bad\n"), "login", "--profile", "bad", "--url", refusing.URL); err == nil || !strings.Contains(err.Error(), "not stored") {
		t.Errorf("login with a refused credential: %v", err)
	}
	if _, _, err := runKeyward2(t, strings.NewReader(""), "login", "--profile", "empty", "--url", refusing.URL, "--no-verify"); err == nil || !strings.Contains(err.Error(), "no credential") {
		t.Errorf("login with empty stdin: %v", err)
	}
	if b, _ := os.ReadFile(cfgPath); strings.Contains(string(b), "kwadmin_bad") || strings.Contains(string(b), `"empty"`) {
		t.Errorf("a refused login was stored: %s", b)
	}
}

// TestHelpNamesOnlyCommandsThatExist reads every help text and example for 'keyward ...'
// command lines and checks that each names a command that exists, so that help cannot
// promise a command that is not there.
func TestHelpNamesOnlyCommandsThatExist(t *testing.T) {
	root := newRootCmd(nil, nil)
	mention := regexp.MustCompile(`keyward((?: [a-z][a-z0-9-]*)+)`)
	var walk func(c *cobra.Command)
	checked := 0
	walk = func(c *cobra.Command) {
		for _, m := range mention.FindAllStringSubmatch(c.Long+"\n"+c.Example+"\n"+c.Short, -1) {
			words := strings.Fields(m[1])
			cmd := root
			for _, w := range words {
				next := findSubcommand(cmd, w)
				if next == nil {
					break
				}
				cmd = next
			}
			checked++
			if cmd == root {
				t.Errorf("%s: help names %q, which is no command", c.CommandPath(), m[0])
				continue
			}
			// A word after a group must be one of its commands.
			if i := strings.Count(cmd.CommandPath(), " "); cmd.HasSubCommands() && i < len(words) {
				t.Errorf("%s: help names %q: %q has no command %q", c.CommandPath(), m[0], cmd.CommandPath(), words[i])
			}
		}
		for _, sub := range c.Commands() {
			if sub.Name() != "completion" { // cobra's, with its own words
				walk(sub)
			}
		}
	}
	walk(root)
	if checked < 50 {
		t.Errorf("checked only %d mentions: is the pattern right?", checked)
	}
}

// TestHelpNamesOnlyFlagsThatExist checks that every --flag a command's help or examples name
// is a flag of that command, of one of its subcommands, of the root (--version), of the
// command named just before it ("keys create --tier"), of a command the text names, or of
// 'keyward serve' when the text speaks of the server.
func TestHelpNamesOnlyFlagsThatExist(t *testing.T) {
	root := newRootCmd(nil, nil)
	root.InitDefaultVersionFlag()
	serve := findSubcommand(root, "serve")
	flagRe := regexp.MustCompile(`((?:[a-z][a-z0-9-]*\s){0,3})--([a-z][a-z0-9-]*)`)
	mentionRe := regexp.MustCompile(`keyward((?: [a-z][a-z0-9-]*)+)`)
	has := func(c *cobra.Command, name string) bool {
		found := false
		var walk func(*cobra.Command)
		walk = func(c *cobra.Command) {
			if c.Flags().Lookup(name) != nil || c.PersistentFlags().Lookup(name) != nil || c.InheritedFlags().Lookup(name) != nil {
				found = true
			}
			for _, s := range c.Commands() {
				walk(s)
			}
		}
		walk(c)
		return found
	}
	resolve := func(words []string) *cobra.Command { // nil unless every word is a command
		cmd := root
		for _, w := range words {
			if cmd = findSubcommand(cmd, w); cmd == nil {
				return nil
			}
		}
		return cmd
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "completion" || c == serve { // cobra's; serve's flags are the config's
			return
		}
		text := c.Long + "\n" + c.Example
		for _, m := range flagRe.FindAllStringSubmatch(text, -1) {
			before, name := strings.Fields(m[1]), m[2]
			ok := has(c, name) || root.Flags().Lookup(name) != nil ||
				strings.Contains(text, "server runs with --"+name) && serve.Flags().Lookup(name) != nil
			for i := range before {
				if cmd := resolve(before[i:]); cmd != nil && cmd != root && has(cmd, name) {
					ok = true
				}
			}
			for _, other := range mentionRe.FindAllStringSubmatch(text, -1) {
				words := strings.Fields(other[1])
				for n := len(words); n > 0 && !ok; n-- {
					if cmd := resolve(words[:n]); cmd != nil && has(cmd, name) {
						ok = true
					}
				}
			}
			if !ok {
				t.Errorf("%s: help names --%s, which it does not have", c.CommandPath(), name)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// TestLoginAsksOnATerminal runs 'keyward login' with a real terminal as stdin: it prompts on
// stderr and stores what was typed.
func TestLoginAsksOnATerminal(t *testing.T) {
	bin := binary(t)
	rec := newWireRecorder(t, 200, "application/json", testWhoamiJSON)
	cfgPath := filepath.Join(t.TempDir(), "config.json")
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pty here: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	if _, err := ptmx.WriteString("kwadmin_typed\n"); err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = bytes.NewBuffer(nil).ReadFrom(ptmx) }()
	stdout, stderr, code := runBinary(t, bin, tty, []string{envKeywardConfig + "=" + cfgPath}, "login", "--profile", "tty", "--url", rec.URL)
	if code != 0 || !strings.Contains(stderr, "Credential for "+rec.URL) || !strings.Contains(stdout, `stored as profile "tty"`) {
		t.Fatalf("login on a terminal: exit %d\nstdout %q\nstderr %q", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "kwadmin_typed") {
		t.Error("login printed the credential")
	}
	if reqs := rec.requests(); len(reqs) != 1 || reqs[0].Auth != "Bearer kwadmin_typed" {
		t.Errorf("login checked %+v, want the typed credential", reqs)
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil || !strings.Contains(string(b), `"token": "kwadmin_typed"`) {
		t.Errorf("config = %s (%v)", b, err)
	}
}

// TestHelpNamesOnlyVariablesThatExist checks that every KEYWARD_ variable a help text names
// is read somewhere: in this command or in the server's configuration.
func TestHelpNamesOnlyVariablesThatExist(t *testing.T) {
	var code strings.Builder
	for _, pattern := range []string{"*.go", filepath.Join("..", "..", "internal", "config", "*.go")} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if !strings.HasSuffix(f, "_test.go") {
				b, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				code.Write(b)
			}
		}
	}
	src := code.String()
	varRe := regexp.MustCompile(`KEYWARD_[A-Z_]*[A-Z]`)
	root := newRootCmd(nil, nil)
	seen := 0
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		text := c.Long + c.Example + c.Short
		c.Flags().VisitAll(func(f *pflag.Flag) { text += " " + f.Usage })
		for _, name := range varRe.FindAllString(text, -1) {
			seen++
			// The configuration reads NAME_FILE for every NAME it reads (name + "_FILE").
			stem, isFile := strings.CutSuffix(name, "_FILE")
			if !strings.Contains(src, `"`+name+`"`) && !(isFile && strings.Contains(src, `"`+stem+`"`)) {
				t.Errorf("%s: help names %s, which nothing reads", c.CommandPath(), name)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if seen < 10 {
		t.Errorf("saw only %d variables: is the pattern right?", seen)
	}
}
