// Command keyward is the Keyward API key service and its command-line client.
//
// `keyward serve` runs the service; `keyward migrate`, `keyward admin`, `keyward backup` and
// `keyward restore` work on the data directory directly; every other command (keys, projects,
// users, roles, …) talks to a running server through the public Go client, exactly as any
// other program would (`keyward healthcheck` asks its /readyz).
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(os.Stdout, os.Stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "keyward:", err)
		os.Exit(1)
	}
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "keyward",
		Short: "Keyward: a self-hosted API key service",
		Long: `Keyward issues API keys and shows each secret once, stores only keyed hashes, verifies keys
at wire speed, rotates them with a grace period, and revokes them at once.

Run the service with 'keyward serve'; manage keys with 'keyward keys', 'keyward projects'
and 'keyward environments', who may do what with 'keyward users', 'keyward roles',
'keyward members' and 'keyward accounts', and see what was done with 'keyward audit'
(set KEYWARD_URL and KEYWARD_TOKEN: an admin key, an API key or an OIDC access token).
Set rate limits with 'keyward tiers' and chart verifications with 'keyward usage'.
Exchange a key for an OAuth access token, and inspect or revoke one, with 'keyward oauth'.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCmd(), newMigrateCmd(), newMigrateStoreCmd(), newAdminCmd())
	root.AddCommand(newBackupCmd(), newRestoreCmd(), newHealthcheckCmd())
	addClientCommands(root)
	root.AddCommand(newOAuthCmd(), newTiersCmd(), newUsageCmd())
	return root
}
