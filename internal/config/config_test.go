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

func TestDatabase(t *testing.T) {
	const password = "hunter2-do-not-log"
	for _, tc := range []struct {
		name     string
		database string
		secret   string
		dataDir  string
		// wantErr is a part of the error Validate must report; "" when it must accept.
		wantErr string
	}{
		{name: "SQLite by default", dataDir: "./keyward-data"},
		{name: "postgres URL with a shared secret", database: "postgres://keyward:" + password + "@db.internal:5432/keyward", secret: secret(1)},
		{name: "postgresql URL, no data directory needed", database: "postgresql://db.internal/keyward?sslmode=require", secret: secret(1)},
		{name: "no server secret", database: "postgres://keyward:" + password + "@db.internal/keyward", dataDir: "./keyward-data", wantErr: "every node shares"},
		{name: "not a PostgreSQL URL", database: "mysql://root:" + password + "@db.internal/keyward", secret: secret(1), wantErr: "postgres:// or postgresql:// URL"},
		{name: "key=value settings", database: "host=db.internal password=" + password, secret: secret(1), wantErr: "postgres:// or postgresql:// URL"},
		{name: "no data directory for SQLite", wantErr: "data directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			cfg.DataDir, cfg.Database, cfg.ServerSecret = tc.dataDir, tc.database, tc.secret
			err := cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("Validate: %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("Validate: %v, want an error saying %q", err, tc.wantErr)
			case err != nil && strings.Contains(err.Error(), password):
				t.Errorf("the error quotes the database password: %v", err)
			}
			if got := cfg.UsesPostgres(); got != (tc.database != "") {
				t.Errorf("UsesPostgres = %v with database %q", got, tc.database)
			}
		})
	}
}

func TestDatabaseFromEnv(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "database-url")
	const dsn = "postgres://keyward:pw@db.internal/keyward"
	if err := os.WriteFile(file, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    string
		wantErr string
	}{
		{name: "variable", env: map[string]string{"KEYWARD_DATABASE_URL": dsn}, want: dsn},
		{name: "file, trimmed", env: map[string]string{"KEYWARD_DATABASE_URL_FILE": file}, want: dsn},
		{name: "file wins over the variable", env: map[string]string{"KEYWARD_DATABASE_URL": "postgres://other/db", "KEYWARD_DATABASE_URL_FILE": file}, want: dsn},
		{name: "missing file", env: map[string]string{"KEYWARD_DATABASE_URL_FILE": filepath.Join(dir, "absent")}, wantErr: "KEYWARD_DATABASE_URL_FILE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			err := cfg.FromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("FromEnv error %v does not name %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Database != tc.want {
				t.Errorf("Database = %q, want %q", cfg.Database, tc.want)
			}
		})
	}
}

func TestRedactedDatabase(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://keyward:s3cret@db.internal:5432/keyward?sslmode=require", "postgres://keyward:xxxxx@db.internal:5432/keyward?sslmode=require"},
		{"postgres://keyward@db.internal/keyward?password=s3cret&sslmode=disable", "postgres://keyward@db.internal/keyward?password=xxxxx&sslmode=disable"},
		{"postgresql://db.internal/keyward", "postgresql://db.internal/keyward"},
	} {
		cfg := Config{Database: tc.dsn}
		if got := cfg.RedactedDatabase(); got != tc.want {
			t.Errorf("RedactedDatabase(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}
}

func TestNoSecretIsGeneratedForPostgres(t *testing.T) {
	cfg := Default()
	cfg.DataDir = t.TempDir()
	cfg.Database = "postgres://db.internal/keyward"
	if _, err := cfg.LoadOrCreateSecrets(); !errors.Is(err, ErrSharedSecretRequired) {
		t.Errorf("with --database and no secret: err = %v, want ErrSharedSecretRequired", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, SecretFile)); err == nil {
		t.Errorf("a secret was generated into one node's data directory")
	}
}

// The refresh age is a part of the TTL: zero derives it, and one at or past the TTL (which
// would never refresh) or below zero is refused.
func TestCacheRefreshWithinTTL(t *testing.T) {
	for _, tc := range []struct {
		refresh time.Duration
		ok      bool
	}{{0, true}, {time.Minute, true}, {10*time.Minute - 1, true}, {10 * time.Minute, false}, {time.Hour, false}, {-1, false}} {
		cfg := Default()
		cfg.CacheRefresh = tc.refresh
		err := cfg.Validate()
		if got := err == nil || !strings.Contains(err.Error(), "cache refresh"); got != tc.ok {
			t.Errorf("refresh %s: Validate = %v, want ok %v", tc.refresh, err, tc.ok)
		}
	}
}

// TestUsageWritePeriod: usage counts may be written every second (0) or held for 1s to 1h.
func TestUsageWritePeriod(t *testing.T) {
	for _, tc := range []struct {
		every time.Duration
		ok    bool
	}{{0, true}, {time.Second, true}, {time.Minute, true}, {time.Hour, true}, {time.Second - 1, false}, {time.Hour + 1, false}, {-time.Minute, false}} {
		cfg := Default()
		cfg.UsageWriteEvery = tc.every
		err := cfg.Validate()
		if got := err == nil || !strings.Contains(err.Error(), "usage write period"); got != tc.ok {
			t.Errorf("usage write period %s: Validate = %v, want ok %v", tc.every, err, tc.ok)
		}
	}
}
