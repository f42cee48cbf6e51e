package main

// This file holds the roles commands: list, get, create, update and delete roles.

import (
	"context"
	"fmt"
	"io"
	"iter"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

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
