package config

import (
	"encoding/base64"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func secret(b byte) string {
	v := make([]byte, 32)
	for i := range v {
		v[i] = b
	}
	return base64.StdEncoding.EncodeToString(v)
}

func TestPrecedence(t *testing.T) {
	env := map[string]string{"KEYWARD_ADDR": "127.0.0.1:9000", "KEYWARD_CACHE_TTL": "5s", "KEYWARD_LOG_LEVEL": "debug"}
	cfg := Default()
	if err := cfg.FromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	cfg.BindFlags(fs)
	if err := fs.Parse([]string{"--cache-ttl", "7s"}); err != nil {
		t.Fatal(err)
	}
	if cfg.Addr != "127.0.0.1:9000" || cfg.CacheTTL != 7*time.Second || cfg.LogLevel != "debug" || cfg.DataDir != "./keyward-data" {
		t.Errorf("got %+v: want env over defaults and flags over env", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

func TestValidateReportsEverything(t *testing.T) {
	cfg := Config{Addr: "nope", CacheSize: 0, CacheTTL: -1, ShutdownTimeout: 0, LogLevel: "loud", LogFormat: "xml", ServerSecret: "1:short"}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("Validate accepted a broken config")
	}
	for _, want := range []string{"addr", "data directory", "server secret", "cache size", "cache TTL", "shutdown timeout", "log level", "log format"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not mention %q:\n%v", want, err)
		}
	}
}

func TestFromEnvErrors(t *testing.T) {
	env := map[string]string{"KEYWARD_CACHE_SIZE": "many", "KEYWARD_CACHE_TTL": "soon", "KEYWARD_SERVER_SECRET_FILE": "/does/not/exist"}
	cfg := Default()
	err := cfg.FromEnv(func(k string) string { return env[k] })
	for _, want := range []string{"KEYWARD_CACHE_SIZE", "KEYWARD_CACHE_TTL", "KEYWARD_SERVER_SECRET_FILE"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FromEnv error %v does not name %s", err, want)
		}
	}
}

func TestParseSecrets(t *testing.T) {
	got, err := ParseSecrets("1:" + secret(1) + ", 2:" + secret(2))
	if err != nil || len(got) != 2 || got[1].Version != 2 || got[1].Value[0] != 2 {
		t.Errorf("ParseSecrets = %+v, %v", got, err)
	}
	bare, err := ParseSecrets(secret(3))
	if err != nil || len(bare) != 1 || bare[0].Version != 1 {
		t.Errorf("bare secret = %+v, %v; want version 1", bare, err)
	}
	for _, bad := range []string{"", "x:" + secret(1), "0:" + secret(1), "1:!!!", "1:" + base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := ParseSecrets(bad); err == nil {
			t.Errorf("ParseSecrets(%q) accepted", bad)
		}
	}
}

func TestSecretFileIsCreatedOnceAndKept(t *testing.T) {
	cfg := Default()
	cfg.DataDir = t.TempDir()
	first, err := cfg.LoadOrCreateSecrets()
	if err != nil {
		t.Fatal(err)
	}
	again, err := cfg.LoadOrCreateSecrets()
	if err != nil {
		t.Fatal(err)
	}
	if string(first[0].Value) != string(again[0].Value) {
		t.Errorf("a second start made a new secret: every stored key would stop verifying")
	}
	info, err := os.Stat(filepath.Join(cfg.DataDir, SecretFile))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", info.Mode().Perm())
	}
	cfg.ServerSecret = "5:" + secret(9)
	given, err := cfg.LoadOrCreateSecrets()
	if err != nil || given[0].Version != 5 {
		t.Errorf("a configured secret must win over the file: %+v, %v", given, err)
	}
}

// TestREADMEListsEverySetting keeps the README's configuration table true: every flag and
// variable the server reads appears in it.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, v := range Vars {
		if !strings.Contains(readme, "`--"+v.Flag+"`") && !strings.Contains(readme, "`--"+v.Flag+"`,") {
			t.Errorf("README does not list the flag --%s", v.Flag)
		}
		if !strings.Contains(readme, "`"+v.Env+"`") {
			t.Errorf("README does not list the variable %s", v.Env)
		}
	}
}

func TestLostSecretIsNotReplaced(t *testing.T) {
	cfg := Default()
	cfg.DataDir = t.TempDir()
	if _, err := cfg.LoadOrCreateSecrets(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg.DatabasePath(), []byte("a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cfg.DataDir, SecretFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.LoadOrCreateSecrets(); !errors.Is(err, ErrSecretMissing) {
		t.Errorf("with the secret lost beside a database: err = %v, want ErrSecretMissing", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, SecretFile)); err == nil {
		t.Errorf("a new secret was written beside the old database")
	}
}
