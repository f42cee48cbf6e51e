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
Exchange a key for an OAuth access token, and inspect or revoke one, with 'keyward oauth'.

Instead of the variables, 'keyward login' stores a server's URL and a credential as a
profile. Every client command prints tables, or -o json (also --json) or -o yaml. Shell
completion ('keyward completion bash|zsh|fish') completes key, project and account IDs
from the server.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       currentBuild().String(),
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newServeCmd(), newMigrateCmd(), newMigrateStoreCmd(), newAdminCmd())
	root.AddCommand(newBackupCmd(), newRestoreCmd(), newHealthcheckCmd())
	addClientCommands(root)
	root.AddCommand(newOAuthCmd(), newTiersCmd(), newUsageCmd(),
		newLoginCmd(), newLogoutCmd(), newProfilesCmd(), newVersionCmd())
	root.SetHelpCommand(newHelpCmd(root))
	root.InitDefaultCompletionCmd()
	rejectUnknownSubcommands(root)
	addIDCompletion(root)
	return root
}
