package main

// This file holds the identity commands: whoami, accounts, users and roles.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
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
	var name, prefix string
	cmd := &cobra.Command{
		Use:   "update ACCOUNT_ID [--name NAME] [--key-prefix PREFIX]",
		Short: "Rename an account or change its key prefix",
		Long: `Rename an account or change the prefix of its account keys. Keys already issued keep their
prefix; only new account keys take the new one. The root account cannot be renamed.`,
		Example: `  keyward accounts update $ACCOUNT_ID --name "Acme Inc"
  keyward accounts update $ACCOUNT_ID --key-prefix acme`,
		Args: exactlyOneID("account"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needOneOf(cmd, "name", "key-prefix"); err != nil {
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
	return cmd
}

func writeAccountsTable(w io.Writer, accounts []*client.Account) error {
	tw := newTable(w)
	tableRow(tw, "ID", "NAME", "KEY PREFIX", "CREATED")
	for _, a := range accounts {
		tableRow(tw, a.ID, a.Name, a.KeyPrefix, formatAPITime(&a.CreatedAt, "-"))
	}
	return tw.Flush()
}

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

func newRolesCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:     "roles",
		Aliases: []string{"role"},
		Short:   "List, show, create, update and delete roles",
		Long: `Manage the account's roles through a running Keyward server's HTTP API.

A role is a named set of permissions. Held on the account (by a user or key) it grants them
account-wide; held on a project (see 'keyward members') it grants them in that project only.
Every account has the built-in roles owner, admin, member and viewer; custom roles add to
them. Permissions are dot-separated names with '*' as a wildcard segment: account.read,
api_keys.*, projects.<id>.read. A role may not grant a permission you do not hold.` + identityHelpTail,
		Example: `  keyward roles list
  keyward roles create --name Deployer --slug deployer --permission api_keys.read --permission projects.read
  keyward roles delete $ROLE_ID`,
	}
	conn.registerFlags(cmd)
	cmd.AddCommand(newRolesListCmd(conn), newRolesGetCmd(conn), newRolesCreateCmd(conn), newRolesUpdateCmd(conn), newRolesDeleteCmd(conn))
	return cmd
}

func newRolesListCmd(conn *apiConn) *cobra.Command {
	var page pageFlags
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "List the built-in and custom roles",
		Long: `List the roles: the built-in ones first, then the account's own. One page is printed; when
there are more, a hint with the next cursor goes to stderr. --all follows the cursors. With
--json the output is a JSON array.`,
		Example: `  keyward roles list
  keyward roles list --all --json | jq -r '.[] | select(.built_in | not) | .slug'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd, conn, &page,
				func(kw *client.Client) iter.Seq2[*client.Role, error] {
					return kw.AllRoles(cmd.Context(), page.params())
				},
				func(kw *client.Client) (*client.Page[*client.Role], error) {
					return kw.ListRoles(cmd.Context(), page.params())
				},
				"roles", "No roles.", writeRolesTable)
		},
	}
	page.register(cmd, "roles")
	return cmd
}

func newRolesGetCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:     "get ROLE_ID|SLUG",
		Aliases: []string{"show"},
		Short:   "Show one role and its permissions",
		Long:    `Show one role, by ID or slug: its name, description, whether it is built in, and every permission it grants.`,
		Example: `  keyward roles get viewer
  keyward roles get $ROLE_ID --json | jq .permissions`,
		Args: exactlyOneID("role"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Role, error) {
				return kw.GetRole(ctx, args[0])
			}, writeRoleDetails)
		},
	}
}

func newRolesCreateCmd(conn *apiConn) *cobra.Command {
	var params client.CreateRoleParams
	cmd := &cobra.Command{
		Use:   "create --name NAME --slug SLUG [--permission PERM]... [--description TEXT]",
		Short: "Create a custom role",
		Long: `Create a custom role and print it. --slug names it in commands and role flags: lower-case
letters, digits and '-', starting with a letter. Repeat --permission (or separate with
commas) for each permission it grants; you may not grant one you do not hold.`,
		Example: `  keyward roles create --name Deployer --slug deployer \
      --permission api_keys.read --permission projects.read --description "CI pipelines"
  keyward roles create --name "Key admin" --slug key-admin --permission 'api_keys.*'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := nonBlank("name", params.Name); err != nil {
				return err
			}
			if err := nonBlank("slug", params.Slug); err != nil {
				return err
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Role, error) {
				return kw.CreateRole(ctx, params)
			}, roleChanged("Created"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&params.Name, "name", "", "role name, 1-128 characters (required)")
	f.StringVar(&params.Slug, "slug", "", "short unique name, e.g. deployer (required)")
	f.StringVar(&params.Description, "description", "", "what the role is for")
	f.StringSliceVar(&params.Permissions, "permission", nil, "permission the role grants; repeat the flag or separate with commas")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("slug")
	return cmd
}

func newRolesUpdateCmd(conn *apiConn) *cobra.Command {
	var (
		name, description string
		permissions       []string
		clearPermissions  bool
	)
	cmd := &cobra.Command{
		Use:   "update ROLE_ID [flags]",
		Short: "Change a custom role's name, description or permissions",
		Long: `Change a custom role and leave what is not given as it is. --permission replaces the whole
permission set (repeat it for several); --clear-permissions removes them all. Every user,
key and member holding the role changes with it, at once. Built-in roles cannot be changed.`,
		Example: `  keyward roles update $ROLE_ID --permission api_keys.read --permission api_keys.rotate
  keyward roles update $ROLE_ID --name "Release manager" --description "Ships releases"`,
		Args: exactlyOneID("role"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needOneOf(cmd, "name", "description", "permission", "clear-permissions"); err != nil {
				return err
			}
			var params client.UpdateRoleParams
			changed := cmd.Flags().Changed
			if changed("name") {
				if err := nonBlank("name", name); err != nil {
					return err
				}
				params.Name = &name
			}
			if changed("description") {
				params.Description = &description
			}
			switch {
			case changed("permission"):
				params.Permissions = permissions
			case clearPermissions:
				params.Permissions = []string{}
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Role, error) {
				return kw.UpdateRole(ctx, args[0], params)
			}, roleChanged("Updated"))
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "new role name")
	f.StringVar(&description, "description", "", "new description")
	f.StringSliceVar(&permissions, "permission", nil, "replace the permissions with these; repeat the flag or separate with commas")
	f.BoolVar(&clearPermissions, "clear-permissions", false, "remove every permission")
	cmd.MarkFlagsMutuallyExclusive("permission", "clear-permissions")
	return cmd
}

func newRolesDeleteCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:     "delete ROLE_ID...",
		Aliases: []string{"rm"},
		Short:   "Delete custom roles",
		Long: `Delete one or more custom roles. A role that a user, key or member still holds cannot be
deleted: give them another role first. Built-in roles cannot be deleted.

Roles are deleted in the order given; the command stops at the first failure. With --json
nothing is printed: the exit status says whether every role was deleted.`,
		Example: `  keyward roles delete $ROLE_ID`,
		Args:    atLeastOneID("role"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEach(cmd, conn, args, "deleting role", func(ctx context.Context, kw *client.Client, id string) error {
				return kw.DeleteRole(ctx, id)
			}, func(id string) string { return "Deleted role " + id + "." })
		},
	}
}

// formatRoleType says whether a role is built in.
func formatRoleType(r *client.Role) string {
	if r.BuiltIn {
		return "built-in"
	}
	return "custom"
}

func writeRolesTable(w io.Writer, roles []*client.Role) error {
	tw := newTable(w)
	tableRow(tw, "ID", "SLUG", "NAME", "TYPE", "PERMISSIONS")
	for _, r := range roles {
		tableRow(tw, r.ID, r.Slug, r.Name, formatRoleType(r), formatScopes(r.Permissions))
	}
	return tw.Flush()
}

// roleChanged prints a role just created or changed: a line that says so with verb, then its
// details.
func roleChanged(verb string) func(io.Writer, *client.Role) error {
	return func(w io.Writer, r *client.Role) error {
		fmt.Fprintf(w, "%s role %s (%s).\n\n", verb, r.ID, r.Slug)
		return writeRoleDetails(w, r)
	}
}

func writeRoleDetails(w io.Writer, r *client.Role) error {
	tw := newTable(w)
	tableRow(tw, "ID", r.ID)
	tableRow(tw, "SLUG", r.Slug)
	tableRow(tw, "NAME", r.Name)
	tableRow(tw, "TYPE", formatRoleType(r))
	tableRow(tw, "DESCRIPTION", orDash(r.Description))
	tableRow(tw, "PERMISSIONS", formatScopes(r.Permissions))
	tableRow(tw, "CREATED", formatAPITime(r.CreatedAt, "-"))
	return tw.Flush()
}
