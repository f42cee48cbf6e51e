package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/sqlite"
)

// errPostgresBackup is what backup and restore answer for a PostgreSQL store: its backup is
// PostgreSQL's own tool's job, and the secret is configured, not in a data directory.
var errPostgresBackup = errors.New("keyward backup and restore copy a SQLite data directory; with --database the data is in PostgreSQL: " +
	"back it up with pg_dump (pg_dump -Fc -f keyward.dump \"$DATABASE_URL\"), restore it with pg_restore, " +
	"and keep the server secret (KEYWARD_SERVER_SECRET_FILE) apart from the dump: see docs/operations.md, \"Backups and restore\"")

func newBackupCmd() *cobra.Command {
	var cfg *config.Config
	var to string
	cmd := &cobra.Command{
		Use:   "backup --to FILE",
		Short: "Back up the SQLite store, online, and its server secret to FILE.secret",
		Long: `Copy the SQLite database of the data directory to FILE while servers keep running: the copy
is one consistent snapshot (SQLite's VACUUM INTO, which includes what is still in the WAL),
passes PRAGMA integrity_check, and is written under a temporary name and renamed, so FILE is
a whole backup or absent. It never overwrites a file.

The server secret (the data directory's server-secret file, or --server-secret when it is
configured) goes to FILE.secret, mode 0600: without it no key in the backup verifies. Store
it apart from FILE. Restore both with 'keyward restore'.

For a PostgreSQL store (--database), use pg_dump instead: this command says how.`,
		Example: `  keyward backup --to /backups/keyward-$(date +%F).db --data /var/lib/keyward`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.UsesPostgres() {
				return errPostgresBackup
			}
			secretTo := to + ".secret"
			for _, p := range []string{to, secretTo} {
				if _, err := os.Lstat(p); err == nil {
					return fmt.Errorf("%s exists; a backup never overwrites a file", p)
				}
			}
			secret, secrets, secretFrom, err := serverSecret(cfg)
			if err != nil {
				return err
			}
			rep, err := sqlite.Backup(cmd.Context(), cfg.DatabasePath(), to)
			if err != nil {
				return err
			}
			if err := writeSecretFile(secretTo, secret); err != nil {
				return fmt.Errorf("the database is backed up to %s, but the secret is not: %w", to, err)
			}
			out, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
			fmt.Fprintf(out, "Backed up %s to %s: %d bytes, %d API keys, %d admin keys, integrity_check ok.\n",
				cfg.DatabasePath(), to, rep.Bytes, rep.APIKeys, rep.AdminKeys)
			fmt.Fprintf(out, "Wrote the server secret (from %s) to %s, mode 0600.\n", secretFrom, secretTo)
			if missing := missingVersions(rep.HashSchemes, secrets); len(missing) > 0 {
				fmt.Fprintf(stderr, "WARNING: keys in the backup were hashed under server secret version(s) %v, which the secret lacks: those keys do not verify now either.\n", missing)
			}
			fmt.Fprintf(stderr, "WARNING: %s is the server secret. Store it apart from the backup, in your secret manager, not beside %s:\n"+
				"whoever holds both can test candidate keys against the stored hashes offline; without it, no key in the backup verifies.\n", secretTo, filepath.Base(to))
			return nil
		},
	}
	cfg = storeConfig(cmd)
	cmd.Flags().StringVar(&to, "to", "", "file to write the backup to (it must not exist); the secret goes to FILE.secret")
	cmd.MarkFlagRequired("to")
	return cmd
}

func newRestoreCmd() *cobra.Command {
	cfg := config.Default()
	var from, secretFile string
	var force bool
	cmd := &cobra.Command{
		Use:   "restore --from FILE --secret FILE.secret --data DIR",
		Short: "Restore a backup made by 'keyward backup' into a data directory",
		Long: `Check the backup (PRAGMA integrity_check, Keyward's schema, and that the secret has every
version its keys were hashed under), then make it the database of the data directory, with
the secret as its server-secret file.

The data directory must be new or empty. With --force an existing one is restored into, once
no process has its database open (stop the server first): its database files and secret are
renamed aside with the suffix .replaced-TIME, not deleted. Start 'keyward serve --data DIR'
afterwards; the schema is brought up to date then.`,
		Example: `  keyward restore --from /backups/keyward.db --secret /secrets/keyward.db.secret --data /var/lib/keyward-restored`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.UsesPostgres() {
				return errPostgresBackup
			}
			ctx := cmd.Context()
			raw, err := os.ReadFile(secretFile)
			if err != nil {
				return fmt.Errorf("reading the secret: %w", err)
			}
			secretText := strings.TrimSpace(string(raw))
			secrets, err := config.ParseSecrets(secretText)
			if err != nil {
				return fmt.Errorf("%s is not a server secret: %w", secretFile, err)
			}
			rep, err := sqlite.CheckBackup(ctx, from)
			if err != nil {
				return err
			}
			if missing := missingVersions(rep.HashSchemes, secrets); len(missing) > 0 {
				return fmt.Errorf("the backup's keys were hashed under server secret version(s) %v, which %s lacks: is it the secret of this backup?", missing, secretFile)
			}

			dir := cfg.DataDir
			entries, err := os.ReadDir(dir)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				if err := os.MkdirAll(dir, 0o700); err != nil {
					return fmt.Errorf("creating the data directory: %w", err)
				}
			case err != nil:
				return err
			case len(entries) > 0 && !force:
				return fmt.Errorf("%s is not empty: restore into a new directory, or stop the server that uses it and pass --force (the files replaced are kept, renamed *.replaced-TIME)", dir)
			}
			if inUse, err := sqlite.InUse(ctx, cfg.DatabasePath()); err != nil {
				return err
			} else if inUse {
				return fmt.Errorf("%s is open in another process: stop the server that uses %s first", cfg.DatabasePath(), dir)
			}

			// The new secret is written first under a temporary name and renamed into place
			// only after the database: a failure in between leaves the old pair, or a
			// database without a secret, which serve refuses, never a mismatched pair.
			secretPath := filepath.Join(dir, config.SecretFile)
			tmpSecret := secretPath + ".restore-" + randomSuffix()
			if err := writeSecretFile(tmpSecret, secretText); err != nil {
				return err
			}
			defer os.Remove(tmpSecret)
			aside := ".replaced-" + time.Now().UTC().Format("20060102T150405Z")
			if _, err := sqlite.Restore(ctx, from, cfg.DatabasePath(), aside); err != nil {
				return err
			}
			if err := os.Rename(secretPath, secretPath+aside); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("moving the old secret aside: %w", err)
			}
			if err := os.Rename(tmpSecret, secretPath); err != nil {
				return fmt.Errorf("the database is restored, but not its secret: %w", err)
			}
			if err := syncDir(dir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Restored %s into %s: %d API keys, %d admin keys, integrity_check ok; server secret from %s.\nStart it with: keyward serve --data %s\n",
				from, dir, rep.APIKeys, rep.AdminKeys, secretFile, dir)
			return nil
		},
	}
	if err := cfg.FromEnv(os.Getenv); err != nil {
		cmd.PrintErrln("keyward:", err)
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data", cfg.DataDir, "data directory to restore into: new, empty, or with --force one whose server is stopped (KEYWARD_DATA)")
	f.StringVar(&from, "from", "", "backup file made by 'keyward backup'")
	f.StringVar(&secretFile, "secret", "", "the backup's server secret file (FILE.secret)")
	f.BoolVar(&force, "force", false, "restore into a data directory that is not empty (its server stopped); replaced files are kept aside")
	cmd.MarkFlagRequired("from")
	cmd.MarkFlagRequired("secret")
	return cmd
}

// serverSecret returns the server secret of the store cfg names, as text and parsed, and
// where it was found: the configured value, or the data directory's file. It never creates
// one.
func serverSecret(cfg *config.Config) (string, []keyformat.Secret, string, error) {
	from, text := "--server-secret", cfg.ServerSecret
	if text == "" {
		from = filepath.Join(cfg.DataDir, config.SecretFile)
		b, err := os.ReadFile(from)
		if err != nil {
			return "", nil, "", fmt.Errorf("reading the server secret: %w (a backup without its secret verifies no key)", err)
		}
		text = string(b)
	}
	text = strings.TrimSpace(text)
	secrets, err := config.ParseSecrets(text)
	if err != nil {
		return "", nil, "", fmt.Errorf("%s: %w", from, err)
	}
	return text, secrets, from, nil
}

// missingVersions returns the secret versions that schemes (a backup's hash_scheme values)
// name and secrets lack. Schemes of imported keys name no version.
func missingVersions(schemes []string, secrets []keyformat.Secret) []int {
	var missing []int
	for _, scheme := range schemes {
		var v int
		if _, err := fmt.Sscanf(scheme, "hmac-sha256:%d", &v); err != nil || keyformat.Scheme(v) != scheme {
			continue
		}
		if !slices.ContainsFunc(secrets, func(s keyformat.Secret) bool { return s.Version == v }) {
			missing = append(missing, v)
		}
	}
	return missing
}

// writeSecretFile writes secret to the new file path, mode 0600, synced.
func writeSecretFile(path, secret string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(secret + "\n")
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		os.Remove(path)
	}
	return err
}

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// syncDir makes the renames in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
