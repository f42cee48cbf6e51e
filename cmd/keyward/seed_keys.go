package main

import (
	"bufio"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keyward"
)

// newSeedKeysCmd is `keyward admin seed-keys`: millions of keys written straight into the
// store, for measuring a server with a large store (bench/README.md). Through the API a key
// costs a transaction and an audit event; here thousands share one transaction.
func newSeedKeysCmd() *cobra.Command {
	var cfg *config.Config
	var account, project, secretsOut string
	var count, batch, keep int
	cmd := &cobra.Command{
		Use:   "seed-keys",
		Short: "Create many keys in a new project, straight into the store (for benchmarks)",
		Long: `Create --count keys in a new project of the account, writing them to the store directly in
transactions of --batch keys, as fast as the store takes them. The first --keep secrets are
written to --secrets-out (mode 0600), one per line, for a load generator to verify
(go run ./bench/load -keys-file FILE); the rest are thrown away, so those keys can never be
used. Nothing is audited. Run it where the data directory is, or with the --database and
--server-secret of the servers, while no server runs or while they do.`,
		Example: `  keyward admin seed-keys --count 10000000 --secrets-out keys.txt --keep 100000
  KEYWARD_SERVER_SECRET_FILE=secret keyward admin seed-keys --count 1000000 --database postgres://…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if count < 1 || batch < 1 || keep < 0 {
				return fmt.Errorf("--count and --batch must be at least 1, --keep at least 0")
			}
			store, svc, err := openServerStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer store.Close()

			write := func(int, string) error { return nil }
			var out *bufio.Writer
			if secretsOut != "" {
				f, err := os.OpenFile(secretsOut, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					return fmt.Errorf("secrets file: %w (it must not exist yet)", err)
				}
				defer f.Close()
				out = bufio.NewWriter(f)
				write = func(i int, secret string) error {
					if i >= keep {
						return nil
					}
					_, err := fmt.Fprintln(out, secret)
					return err
				}
			}
			stderr := cmd.ErrOrStderr()
			start, lastReport := time.Now(), time.Now()
			emit := func(i int, secret string) error {
				if time.Since(lastReport) >= 10*time.Second {
					lastReport = time.Now()
					fmt.Fprintf(stderr, "%d of %d keys, %.0f keys/s\n", i, count, float64(i)/time.Since(start).Seconds())
				}
				return write(i, secret)
			}
			if project == "" {
				project = "seed " + keyward.NewID()
			}
			p, err := svc.SeedKeys(cmd.Context(), account, project, count, batch, emit)
			if err != nil {
				return err
			}
			if out != nil {
				if err := out.Flush(); err != nil {
					return err
				}
			}
			took := time.Since(start)
			fmt.Fprintf(cmd.OutOrStdout(), "%d keys in project %q (%s) of account %q in %s: %.0f keys/s\n",
				count, p.Name, p.ID, account, took.Round(time.Millisecond), float64(count)/took.Seconds())
			return nil
		},
	}
	cfg = storeConfig(cmd)
	f := cmd.Flags()
	f.IntVar(&count, "count", 0, "keys to create")
	f.IntVar(&batch, "batch", 5000, "keys per transaction")
	f.StringVar(&account, "account", keyward.DefaultAccountName, "account to create them in (it must exist)")
	f.StringVar(&project, "project-name", "", `name of the new project (default "seed <id>")`)
	f.StringVar(&secretsOut, "secrets-out", "", "write secrets to this new file, one per line")
	f.IntVar(&keep, "keep", 100000, "write only the first this many secrets")
	return cmd
}
