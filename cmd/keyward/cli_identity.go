package main

// This file holds what the identity commands (whoami, accounts, users, roles, members and
// audit) share: the checks of their arguments and flags and the end of their help; and the
// whoami command.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

// exactlyOneID accepts exactly one argument, a non-blank ID of what.
func exactlyOneID(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
			return fmt.Errorf("want exactly one %s ID, got %d arguments", what, len(args))
		}
		return nil
	}
}

// atLeastOneID accepts one or more non-blank IDs of what.
func atLeastOneID(what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return fmt.Errorf("want at least one %s ID", what)
		}
		for _, id := range args {
			if strings.TrimSpace(id) == "" {
				return fmt.Errorf("invalid %s ID: it may not be blank", what)
			}
		}
		return nil
	}
}

// nonBlank refuses a flag set to blank text.
func nonBlank(flag, value string) error {
	if strings.TrimSpace(value) == "" {
		return fmt.Errorf("invalid --%s: it may not be blank", flag)
	}
	return nil
}

// needOneOf refuses an update that changes nothing.
func needOneOf(cmd *cobra.Command, flags ...string) error {
	if !slices.ContainsFunc(flags, cmd.Flags().Changed) {
		return errors.New("nothing to update: pass at least one of --" + strings.Join(flags, ", --"))
	}
	return nil
}

const identityHelpTail = `

Every command needs a credential: set KEYWARD_TOKEN (or pass --token) to an admin key, or to
an API key or OIDC access token that holds the permissions the command needs. The server is
KEYWARD_URL (or --url), http://127.0.0.1:8080 by default. Add --json to any command for the
API's own JSON instead of tables.`

func newWhoamiCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the credential is and what it may do",
		Long: `Show what the server makes of the credential in KEYWARD_TOKEN (or --token): an admin key,
an API key or an OIDC access token. It prints the account (tenant), the user the credential
acts for, its role, its permissions, an API key's scopes, and the projects it may act in
with its role in each. Every credential may ask about itself.

The server is KEYWARD_URL (or --url), http://127.0.0.1:8080 by default. With --json the
output is the API's own JSON.`,
		Example: `  keyward whoami
  KEYWARD_TOKEN=$API_KEY keyward whoami --json | jq .permissions`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Whoami, error) {
				return kw.Whoami(ctx)
			}, writeWhoami)
		},
	}
	conn.registerFlags(cmd)
	return cmd
}

func writeWhoami(w io.Writer, who *client.Whoami) error {
	tw := newTable(w)
	tableRow(tw, "KIND", string(who.Kind))
	tableRow(tw, "ACCOUNT", fmt.Sprintf("%s (%s)", who.Account.Name, who.Account.ID))
	tableRow(tw, "KEY", orDash(who.KeyID))
	user := "-"
	if who.User != nil {
		user = formatUser(who.User)
	}
	tableRow(tw, "USER", user)
	role := "-"
	if who.Role != nil {
		role = fmt.Sprintf("%s (%s)", who.Role.Slug, who.Role.ID)
	}
	tableRow(tw, "ROLE", role)
	tableRow(tw, "PERMISSIONS", formatList(who.Permissions))
	tableRow(tw, "SCOPES", formatScopes(who.Scopes))
	projects := make([]string, len(who.Projects))
	for i, p := range who.Projects {
		projects[i] = fmt.Sprintf("%s (%s): %s", p.ProjectName, p.ProjectID, p.RoleSlug)
	}
	tableRow(tw, "PROJECTS", formatList(projects))
	return tw.Flush()
}

// formatUser names a user for people: their name or email and their ID.
func formatUser(u *client.User) string {
	label := u.Name
	if u.Email != "" {
		if label != "" {
			label += " "
		}
		label += "<" + u.Email + ">"
	}
	if label == "" {
		return u.ID
	}
	return label + " (" + u.ID + ")"
}

// formatList joins values with commas, or is "-" for none.
func formatList(values []string) string {
	if len(values) == 0 {
		return "-"
	}
	return strings.Join(values, ", ")
}
