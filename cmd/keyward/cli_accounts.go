package main

// This file holds the accounts commands: list, get, create and update accounts (tenants).

import (
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"strings"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

func newAccountsCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:     "accounts",
		Aliases: []string{"account"},
		Short:   "List, show, create and update accounts (tenants)",
		Long: `Manage the accounts (tenants) of a running Keyward server through its HTTP API. Everything
else (projects, keys, users, custom roles and the audit log) belongs to one account.

A credential sees its own account; the root account's admin keys see, and alone may create,
every account. A new account comes with its first admin key, printed once.` + identityHelpTail,
		Example: `  keyward accounts list
  keyward accounts create --name acme --key-prefix acme
  keyward accounts update $ACCOUNT_ID --name "Acme Inc"`,
	}
	conn.registerFlags(cmd)
	cmd.AddCommand(newAccountsListCmd(conn), newAccountsGetCmd(conn), newAccountsCreateCmd(conn), newAccountsUpdateCmd(conn))
	return cmd
}

func newAccountsListCmd(conn *apiConn) *cobra.Command {
	var page pageFlags
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "List the accounts the credential may see",
		Long: `List the credential's own account, or every account for the root account's admin keys. One
page is printed; when there are more, a hint with the next cursor goes to stderr. --all
follows the cursors. With --json the output is a JSON array.`,
		Example: `  keyward accounts list
  keyward accounts list --all --json | jq -r '.[].id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd, conn, &page,
				func(kw *client.Client) iter.Seq2[*client.Account, error] {
					return kw.AllAccounts(cmd.Context(), page.params())
				},
				func(kw *client.Client) (*client.Page[*client.Account], error) {
					return kw.ListAccounts(cmd.Context(), page.params())
				},
				"accounts", "No accounts.", writeAccountsTable)
		},
	}
	page.register(cmd, "accounts")
	return cmd
}

func newAccountsGetCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:     "get ACCOUNT_ID",
		Aliases: []string{"show"},
		Short:   "Show one account",
		Long:    `Show one account: its ID, name, the key prefix of its account keys, and when it was created.`,
		Example: `  keyward accounts get $ACCOUNT_ID`,
		Args:    exactlyOneID("account"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Account, error) {
				return kw.GetAccount(ctx, args[0])
			}, func(w io.Writer, a *client.Account) error {
				return writeAccountsTable(w, []*client.Account{a})
			})
		},
	}
}

func newAccountsCreateCmd(conn *apiConn) *cobra.Command {
	var params client.CreateAccountParams
	cmd := &cobra.Command{
		Use:   "create --name NAME [--key-prefix PREFIX]",
		Short: "Create an account and print its first admin key once",
		Long: `Create an account (tenant) and print it with its first admin key, secret included. Only the
root account's admin keys may.

The admin key is shown only this once: the server stores a hash. Hand it to the new tenant's
owner, who manages the account from there. With --json the secret is admin_key.key.
--key-prefix starts the account's keys that belong to no project ("kw" unless chosen).`,
		Example: `  keyward accounts create --name acme
  keyward accounts create --name acme --key-prefix acme --json | jq -r .admin_key.key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := nonBlank("name", params.Name); err != nil {
				return err
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.CreatedAccount, error) {
				return kw.CreateAccount(ctx, params)
			}, writeCreatedAccount)
		},
	}
	cmd.Flags().StringVar(&params.Name, "name", "", "account name, unique (required)")
	cmd.Flags().StringVar(&params.KeyPrefix, "key-prefix", "", `prefix of the account's keys that belong to no project (default: the server's, "kw")`)
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

// writeCreatedAccount prints a new account and its first admin key, secret included, which
// the server shows only this once.
func writeCreatedAccount(w io.Writer, a *client.CreatedAccount) error {
	fmt.Fprintf(w, "Created account %s (%q).\n\n", a.ID, a.Name)
	if err := writeAccountsTable(w, []*client.Account{&a.Account}); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nAdmin key %s of the new account (store it now, it will not be shown again):\n\n    %s\n\n", a.AdminKey.ID, a.AdminKey.Secret)
	return nil
}

func newAccountsUpdateCmd(conn *apiConn) *cobra.Command {
	var (
		name, prefix string
		allowedIPs   []string
		anyNetwork   bool
		leakPolicy   string
	)
	cmd := &cobra.Command{
		Use:   "update ACCOUNT_ID [--name NAME] [--key-prefix PREFIX] [--allowed-ip CIDR]… [--leak-policy revoke|notify]",
		Short: "Rename an account, change its key prefix, its leak policy, or the networks its keys may be used from",
		Long: `Rename an account, change the prefix of its account keys, or the networks its keys may be used
from when they have none of their own. Keys already issued keep their prefix; only new account
keys take the new one. The root account cannot be renamed, and changes only itself: another
tenant changes through its own owner.

--leak-policy says what a leak report (keyward keys report-leak, or GitHub's secret scanning)
does to the account's keys whose project has no policy of its own: revoke them at once (the
default), or notify only (an api_key.leaked event to the webhook endpoints).`,
		Example: `  keyward accounts update $ACCOUNT_ID --name "Acme Inc"
  keyward accounts update $ACCOUNT_ID --key-prefix acme
  keyward accounts update $ACCOUNT_ID --allowed-ip 203.0.113.0/24 --allowed-ip 2001:db8::/32
  keyward accounts update $ACCOUNT_ID --leak-policy notify`,
		Args: exactlyOneID("account"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needOneOf(cmd, "name", "key-prefix", "allowed-ip", "any-network", "leak-policy"); err != nil {
				return err
			}
			var params client.UpdateAccountParams
			if cmd.Flags().Changed("name") {
				if err := nonBlank("name", name); err != nil {
					return err
				}
				params.Name = &name
			}
			if cmd.Flags().Changed("key-prefix") {
				params.KeyPrefix = &prefix
			}
			if cmd.Flags().Changed("leak-policy") {
				p, err := parseLeakPolicy(leakPolicy, false)
				if err != nil {
					return err
				}
				params.LeakPolicy = p
			}
			switch {
			case cmd.Flags().Changed("allowed-ip"):
				params.AllowedIPs = &allowedIPs
			case anyNetwork:
				params.AllowedIPs = &[]string{}
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Account, error) {
				return kw.UpdateAccount(ctx, args[0], params)
			}, func(w io.Writer, a *client.Account) error {
				fmt.Fprintf(w, "Updated account %s.\n\n", a.ID)
				return writeAccountsTable(w, []*client.Account{a})
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "new account name")
	cmd.Flags().StringVar(&prefix, "key-prefix", "", "new prefix of account keys issued from now on")
	cmd.Flags().StringSliceVar(&allowedIPs, "allowed-ip", nil, "a network (CIDR range or address) the account's keys may be used from, when they have none of their own; repeat the flag or separate with commas")
	cmd.Flags().BoolVar(&anyNetwork, "any-network", false, "let the account's keys be used from anywhere again")
	cmd.Flags().StringVar(&leakPolicy, "leak-policy", "", "what a leak report does to the account's keys: revoke or notify")
	cmd.MarkFlagsMutuallyExclusive("allowed-ip", "any-network")
	_ = cmd.RegisterFlagCompletionFunc("leak-policy", cobra.FixedCompletions(
		[]cobra.Completion{string(client.LeakRevoke), string(client.LeakNotify)}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// writeAccountsTable lists accounts. The LEAK POLICY column is added when an account's is not
// the default, revoke, so that an account that never changed it sees the table it always did.
func writeAccountsTable(w io.Writer, accounts []*client.Account) error {
	policies := slices.ContainsFunc(accounts, func(a *client.Account) bool {
		return a.LeakPolicy != "" && a.LeakPolicy != client.LeakRevoke
	})
	tw := newTable(w)
	header := []string{"ID", "NAME", "KEY PREFIX", "CREATED"}
	if policies {
		header = append(header, "LEAK POLICY")
	}
	tableRow(tw, header...)
	for _, a := range accounts {
		row := []string{a.ID, a.Name, a.KeyPrefix, formatAPITime(&a.CreatedAt, "-")}
		if policies {
			row = append(row, orDash(string(a.LeakPolicy)))
		}
		tableRow(tw, row...)
	}
	return tw.Flush()
}

// parseLeakPolicy reads --leak-policy: revoke or notify, and for a project also default, which
// gives back its account's policy (nil and clear).
func parseLeakPolicy(s string, project bool) (*client.LeakPolicy, error) {
	switch p := client.LeakPolicy(strings.ToLower(strings.TrimSpace(s))); p {
	case client.LeakRevoke, client.LeakNotify:
		return &p, nil
	case "default":
		if project {
			return nil, nil
		}
	}
	if project {
		return nil, fmt.Errorf("invalid --leak-policy %q: want revoke, notify or default (the account's)", s)
	}
	return nil, fmt.Errorf("invalid --leak-policy %q: want revoke or notify", s)
}
