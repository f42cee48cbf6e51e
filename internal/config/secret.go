package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/keyformat"
)

// SecretFile is the name of the generated server secret inside the data directory.
const SecretFile = "server-secret"

// ErrSecretMissing is returned when the data directory holds a database but no server
// secret: every key in it was hashed under a secret that is gone, so making a new one would
// silently turn every key and admin key into NOT_FOUND.
var ErrSecretMissing = errors.New("the data directory has a database but no server-secret file; restore the file from a backup, or set KEYWARD_SERVER_SECRET to the secret the database was made with")

// ErrSharedSecretRequired is returned when the data is kept in PostgreSQL and no server
// secret is configured: a secret generated into one node's data directory would leave the
// keys that node creates unverifiable on every other node.
var ErrSharedSecretRequired = errors.New("with --database, set --server-secret (or KEYWARD_SERVER_SECRET, or KEYWARD_SERVER_SECRET_FILE) to one secret that every node shares: " +
	"a secret generated into one node's data directory would leave the keys that node creates unverifiable on every other node")

// LoadOrCreateSecrets returns the configured server secrets, or those in the data directory,
// generating that file (mode 0600) on first start. Losing the file makes every stored key
// unverifiable, so it is created once, never overwritten, and never made anew beside an
// existing database (ErrSecretMissing). With PostgreSQL the secret must be configured
// (ErrSharedSecretRequired).
func (c *Config) LoadOrCreateSecrets() ([]keyformat.Secret, error) {
	if c.ServerSecret != "" {
		return ParseSecrets(c.ServerSecret)
	}
	if c.UsesPostgres() {
		return nil, ErrSharedSecretRequired
	}
	path := filepath.Join(c.DataDir, SecretFile)
	b, err := os.ReadFile(path)
	if err == nil {
		secrets, err := ParseSecrets(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return secrets, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if _, err := os.Stat(c.DatabasePath()); err == nil {
		return nil, ErrSecretMissing
	}
	value := make([]byte, 32)
	if _, err := rand.Read(value); err != nil {
		return nil, err
	}
	content := "1:" + base64.StdEncoding.EncodeToString(value) + "\n"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process (a second `keyward` started at the same moment) won the race;
		// use its secret. Read it only once it is complete: wait for the content to parse.
		for range 50 {
			if b, err := os.ReadFile(path); err == nil {
				if secrets, err := ParseSecrets(strings.TrimSpace(string(b))); err == nil {
					return secrets, nil
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		return nil, fmt.Errorf("%s exists but holds no valid secret", path)
	}
	if err != nil {
		return nil, fmt.Errorf("creating server secret: %w", err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return []keyformat.Secret{{Version: 1, Value: value}}, nil
}
