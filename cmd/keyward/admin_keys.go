package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/config"
)

// newAdminListKeysCmd is `keyward admin list-keys`: every admin key, for finding the one to
// revoke. Like create-key it works on the store directly.
func newAdminListKeysCmd() *cobra.Command {
	var (
		cfg *config.Config
		out outputFlag
	)
	cmd := &cobra.Command{
		Use:   "list-keys",
		Short: "List every admin key of every account (works on the store directly)",
		Long: `List every admin key: its id, account, name, the start and end of the key (never the
secret, which is not stored) and when it was made and revoked. Run it where the data
directory is, or with the --database and --server-secret of the servers. -o json or yaml
prints the same as a list of objects.`,
		Example: `  keyward admin list-keys --data /var/lib/keyward
  keyward admin list-keys --data /var/lib/keyward -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			store, svc, err := openServerStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			keys, err := svc.AdminKeys(cmd.Context())
			if err != nil {
				return err
			}
			accounts := map[string]string{}
			rows := make([]adminKeyRow, 0, len(keys))
			for _, k := range keys {
				name, ok := accounts[k.AccountID]
				if !ok {
					if a, err := store.Account(cmd.Context(), k.AccountID); err == nil {
						name = a.Name
					} else {
						name = k.AccountID
					}
					accounts[k.AccountID] = name
				}
				rows = append(rows, adminKeyRow{ID: k.ID, AccountID: k.AccountID, Account: name, Name: k.Name,
					KeyPrefix: k.Prefix, Last4: k.Last4, CreatedAt: k.CreatedAt.UTC(), RevokedAt: k.RevokedAt})
			}
			return writeOutput(cmd.OutOrStdout(), out.format(), rows, writeAdminKeys)
		},
	}
	cfg = storeConfig(cmd)
	out.register(cmd.Flags(), "a JSON array")
	registerOutputCompletion(cmd)
	return cmd
}

// adminKeyRow is one admin key as 'admin list-keys' prints it; never the secret.
type adminKeyRow struct {
	ID        string     `json:"id"`
	AccountID string     `json:"account_id"`
	Account   string     `json:"account"`
	Name      string     `json:"name"`
	KeyPrefix string     `json:"key_prefix"`
	Last4     string     `json:"last4"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at"`
}

func writeAdminKeys(w io.Writer, rows []adminKeyRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tACCOUNT\tNAME\tKEY\tCREATED\tREVOKED")
	for _, k := range rows {
		revoked := "-"
		if k.RevokedAt != nil {
			revoked = k.RevokedAt.Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s…%s\t%s\t%s\n", k.ID, k.Account, k.Name, k.KeyPrefix, k.Last4, k.CreatedAt.Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

// newAdminRevokeKeyCmd is `keyward admin revoke-key ID`: the way to end a leaked admin key.
func newAdminRevokeKeyCmd() *cobra.Command {
	var cfg *config.Config
	cmd := &cobra.Command{
		Use:   "revoke-key ID",
		Short: "Revoke an admin key (works on the store directly)",
		Long: `Revoke an admin key by its id (keyward admin list-keys shows them). It stops working at
once on every server sharing the store: admin keys are checked against the store on every
request, not cached. It cannot be undone; make another with keyward admin create-key.`,
		Example: `  keyward admin revoke-key 01a209ff-beb7-7785-8f0e-5ea69924800d --data /var/lib/keyward`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, svc, err := openServerStore(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer store.Close()
			k, err := svc.RevokeAdminKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Revoked admin key %s (%s, %s…%s) at %s.\n", k.ID, k.Name, k.Prefix, k.Last4, k.RevokedAt.Format(time.RFC3339))
			return nil
		},
	}
	cfg = storeConfig(cmd)
	return cmd
}
