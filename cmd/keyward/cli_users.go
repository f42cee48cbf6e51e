package main

// This file holds the users commands: list, get, create, update, disable and enable users.

import (
	"context"
	"fmt"
	"io"
	"iter"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

func newUsersCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:     "users",
		Aliases: []string{"user"},
		Short:   "List, show, create, update, disable and enable users",
		Long: `Manage the users of the account through a running Keyward server's HTTP API.

Users sign in with the configured OIDC provider and are created on their first sign-in; create
one ahead to choose their role, or to issue keys that act for them ('keyward keys create
--user'). Users are never erased, because the audit log and their keys refer to them: disable
them instead. A disabled user cannot sign in and their keys stop verifying until they are
enabled again.` + identityHelpTail,
		Example: `  keyward users create --email ada@example.com --name "Ada Lovelace" --role admin
  keyward users list
  keyward users disable $USER_ID`,
	}
	conn.registerFlags(cmd)
	cmd.AddCommand(newUsersListCmd(conn), newUsersGetCmd(conn), newUsersCreateCmd(conn), newUsersUpdateCmd(conn),
		newUsersActiveCmd(conn, false), newUsersActiveCmd(conn, true))
	return cmd
}

func newUsersListCmd(conn *apiConn) *cobra.Command {
	var page pageFlags
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "List users",
		Long: `List the account's users, active and disabled. One page is printed; when there are more, a
hint with the next cursor goes to stderr. --all follows the cursors. With --json the output
is a JSON array.`,
		Example: `  keyward users list
  keyward users list --all --json | jq -r '.[] | select(.active) | .email'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd, conn, &page,
				func(kw *client.Client) iter.Seq2[*client.User, error] {
					return kw.AllUsers(cmd.Context(), page.params())
				},
				func(kw *client.Client) (*client.Page[*client.User], error) {
					return kw.ListUsers(cmd.Context(), page.params())
				},
				"users", "No users. Create one with 'keyward users create --email EMAIL'.", writeUsersTable)
		},
	}
	page.register(cmd, "users")
	return cmd
}

func newUsersGetCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:     "get USER_ID",
		Aliases: []string{"show"},
		Short:   "Show one user",
		Long:    `Show one user: email, name, account role, whether they are active, and the OIDC identity they sign in with.`,
		Example: `  keyward users get $USER_ID
  keyward users get $USER_ID --json | jq .active`,
		Args: exactlyOneID("user"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.User, error) {
				return kw.GetUser(ctx, args[0])
			}, writeUserDetails)
		},
	}
}

func newUsersCreateCmd(conn *apiConn) *cobra.Command {
	var params client.CreateUserParams
	cmd := &cobra.Command{
		Use:   "create [--email EMAIL] [--name NAME] [--role ROLE] [--issuer URL --subject SUB]",
		Short: "Create a user ahead of their first sign-in",
		Long: `Create a user in the account and print them. --role is their account role, a role ID or a
built-in slug (owner, admin, member, viewer; the server's default is member); you may not
give a role that holds more than you do. --issuer and --subject, both or neither, link the
user to the OIDC identity they will sign in with; a user without one can still own keys.`,
		Example: `  keyward users create --email ada@example.com --name "Ada Lovelace"
  keyward users create --email ci@example.com --role viewer
  keyward users create --email ada@example.com --issuer https://id.example.com --subject 248289761001
  USER=$(keyward users create --email ada@example.com --json | jq -r .id)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, f := range []struct{ name, value string }{{"email", params.Email}, {"name", params.Name}, {"role", params.RoleID}} {
				if cmd.Flags().Changed(f.name) {
					if err := nonBlank(f.name, f.value); err != nil {
						return err
					}
				}
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.User, error) {
				return kw.CreateUser(ctx, params)
			}, userChanged("Created"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&params.Email, "email", "", "email address, e.g. ada@example.com")
	f.StringVar(&params.Name, "name", "", "display name")
	f.StringVar(&params.RoleID, "role", "", "account role: a role ID or a built-in slug (default: the server's, member)")
	f.StringVar(&params.Issuer, "issuer", "", "OIDC issuer URL the user signs in with (with --subject)")
	f.StringVar(&params.Subject, "subject", "", "the user's subject (sub) at that issuer (with --issuer)")
	cmd.MarkFlagsRequiredTogether("issuer", "subject")
	return cmd
}

func newUsersUpdateCmd(conn *apiConn) *cobra.Command {
	var email, name, role string
	cmd := &cobra.Command{
		Use:   "update USER_ID [--email EMAIL] [--name NAME] [--role ROLE]",
		Short: "Change a user's email, name or account role",
		Long: `Change some of a user's details and leave the others as they are. --role sets their account
role (a role ID or a built-in slug). Use 'users disable' and 'users enable' to stop and
restore a user.`,
		Example: `  keyward users update $USER_ID --role admin
  keyward users update $USER_ID --name "Ada King" --email ada.king@example.com`,
		Args: exactlyOneID("user"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needOneOf(cmd, "email", "name", "role"); err != nil {
				return err
			}
			var params client.UpdateUserParams
			changed := cmd.Flags().Changed
			if changed("email") {
				params.Email = &email
			}
			if changed("name") {
				params.Name = &name
			}
			if changed("role") {
				if err := nonBlank("role", role); err != nil {
					return err
				}
				params.RoleID = &role
			}
			return updateUser(cmd, conn, args[0], params, "Updated")
		},
	}
	f := cmd.Flags()
	f.StringVar(&email, "email", "", "new email address")
	f.StringVar(&name, "name", "", "new display name")
	f.StringVar(&role, "role", "", "new account role: a role ID or a built-in slug")
	return cmd
}

// newUsersActiveCmd is 'users enable' (active true) or 'users disable'.
func newUsersActiveCmd(conn *apiConn, active bool) *cobra.Command {
	if active {
		return &cobra.Command{
			Use:   "enable USER_ID",
			Short: "Enable a disabled user again",
			Long: `Enable a disabled user: they can sign in again, and their keys verify again unless they were
revoked or expired meanwhile.`,
			Example: `  keyward users enable $USER_ID`,
			Args:    exactlyOneID("user"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return updateUser(cmd, conn, args[0], client.UpdateUserParams{Active: new(true)}, "Enabled")
			},
		}
	}
	return &cobra.Command{
		Use:   "disable USER_ID",
		Short: "Disable a user: no sign-in, and their keys stop verifying",
		Long: `Disable a user. They can no longer sign in, and every key that acts for them stops verifying
at once. Nothing is deleted: 'users enable' restores them. You cannot disable yourself.`,
		Example: `  keyward users disable $USER_ID`,
		Args:    exactlyOneID("user"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.User, error) {
				return kw.DisableUser(ctx, args[0])
			}, userChanged("Disabled"))
		},
	}
}

// updateUser changes user id and prints them as userChanged(verb) does.
func updateUser(cmd *cobra.Command, conn *apiConn, id string, params client.UpdateUserParams, verb string) error {
	return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.User, error) {
		return kw.UpdateUser(ctx, id, params)
	}, userChanged(verb))
}

// userChanged prints a user just changed: a line that says so with verb ("Created",
// "Disabled", ...), then their details.
func userChanged(verb string) func(io.Writer, *client.User) error {
	return func(w io.Writer, u *client.User) error {
		fmt.Fprintf(w, "%s user %s.\n\n", verb, u.ID)
		return writeUserDetails(w, u)
	}
}

// formatUserStatus is "active" or "disabled".
func formatUserStatus(u *client.User) string {
	if u.Active {
		return "active"
	}
	return "disabled"
}

func writeUsersTable(w io.Writer, users []*client.User) error {
	tw := newTable(w)
	tableRow(tw, "ID", "EMAIL", "NAME", "ROLE", "STATUS", "CREATED")
	for _, u := range users {
		tableRow(tw, u.ID, orDash(u.Email), orDash(u.Name), orDash(u.RoleID), formatUserStatus(u), formatAPITime(&u.CreatedAt, "-"))
	}
	return tw.Flush()
}

func writeUserDetails(w io.Writer, u *client.User) error {
	tw := newTable(w)
	tableRow(tw, "ID", u.ID)
	tableRow(tw, "EMAIL", orDash(u.Email))
	tableRow(tw, "NAME", orDash(u.Name))
	tableRow(tw, "ROLE", orDash(u.RoleID))
	tableRow(tw, "STATUS", formatUserStatus(u))
	if u.DisabledAt != nil {
		tableRow(tw, "DISABLED", formatAPITime(u.DisabledAt, "-"))
	}
	signIn := "not linked"
	if u.Issuer != "" {
		signIn = u.Subject + " at " + u.Issuer
	}
	tableRow(tw, "SIGN-IN", signIn)
	tableRow(tw, "CREATED", formatAPITime(&u.CreatedAt, "-"))
	return tw.Flush()
}
