package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

func newMembersCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:     "members",
		Aliases: []string{"member"},
		Short:   "List, show, add, update and remove the members of a project",
		Long: `Manage who may act in a project, through a running Keyward server's HTTP API.

A member is a user or an API key holding a role in one project: the role's permissions apply
in that project only. Every command takes the project with --project. Roles are role IDs or
built-in slugs (owner, admin, member, viewer); you may not give a role that grants more than
you hold in the project.` + identityHelpTail,
		Example: `  keyward members add --project $PROJECT_ID --user $USER_ID --role member
  keyward members add --project $PROJECT_ID --key $KEY_ID --role viewer
  keyward members list --project $PROJECT_ID
  keyward members remove --project $PROJECT_ID $MEMBER_ID`,
	}
	conn.registerFlags(cmd)
	cmd.AddCommand(newMembersListCmd(conn), newMembersGetCmd(conn), newMembersAddCmd(conn), newMembersUpdateCmd(conn), newMembersRemoveCmd(conn))
	return cmd
}

// projectFlag adds the required --project flag to cmd.
func projectFlag(cmd *cobra.Command, projectID *string, usage string) {
	cmd.Flags().StringVar(projectID, "project", "", usage+" (required)")
	_ = cmd.MarkFlagRequired("project")
}

func newMembersListCmd(conn *apiConn) *cobra.Command {
	var (
		projectID string
		page      pageFlags
	)
	cmd := &cobra.Command{
		Use:     "list --project ID [flags]",
		Aliases: []string{"ls"},
		Short:   "List the members of a project",
		Long: `List the users and keys that are members of a project, with their role there. One page is
printed; when there are more, a hint with the next cursor goes to stderr. --all follows the
cursors. With --json the output is a JSON array.`,
		Example: `  keyward members list --project $PROJECT_ID
  keyward members list --project $PROJECT_ID --all --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd, conn, &page,
				func(kw *client.Client) iter.Seq2[*client.Member, error] {
					return kw.AllMembers(cmd.Context(), projectID, page.params())
				},
				func(kw *client.Client) (*client.Page[*client.Member], error) {
					return kw.ListMembers(cmd.Context(), projectID, page.params())
				},
				"members", "No members in project "+projectID+".", writeMembersTable)
		},
	}
	projectFlag(cmd, &projectID, "project whose members to list")
	page.register(cmd, "members")
	return cmd
}

func newMembersGetCmd(conn *apiConn) *cobra.Command {
	var projectID string
	cmd := &cobra.Command{
		Use:     "get --project ID MEMBER_ID",
		Aliases: []string{"show"},
		Short:   "Show one membership of a project",
		Long:    `Show one membership: the user or key, its role in the project, and when it was added.`,
		Example: `  keyward members get --project $PROJECT_ID $MEMBER_ID`,
		Args:    exactlyOneID("member"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Member, error) {
				return kw.GetMember(ctx, projectID, args[0])
			}, func(w io.Writer, m *client.Member) error {
				return writeMembersTable(w, []*client.Member{m})
			})
		},
	}
	projectFlag(cmd, &projectID, "project of the membership")
	return cmd
}

func newMembersAddCmd(conn *apiConn) *cobra.Command {
	var (
		projectID string
		params    client.AddMemberParams
	)
	cmd := &cobra.Command{
		Use:   "add --project ID (--user USER_ID | --key KEY_ID) --role ROLE",
		Short: "Add a user or an API key to a project with a role",
		Long: `Make a user (--user) or an API key (--key) a member of a project with a role there, and print
the membership. Its ID is what 'members update' and 'members remove' take.`,
		Example: `  keyward members add --project $PROJECT_ID --user $USER_ID --role member
  keyward members add --project $PROJECT_ID --key $KEY_ID --role $ROLE_ID`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := nonBlank("role", params.RoleID); err != nil {
				return err
			}
			if params.UserID == "" && params.APIKeyID == "" {
				return errors.New("want a member: pass --user USER_ID or --key KEY_ID")
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Member, error) {
				return kw.AddMember(ctx, projectID, params)
			}, func(w io.Writer, m *client.Member) error {
				fmt.Fprintf(w, "Added %s to project %s as member %s.\n\n", formatMember(m), m.ProjectID, m.ID)
				return writeMembersTable(w, []*client.Member{m})
			})
		},
	}
	projectFlag(cmd, &projectID, "project to add the member to")
	f := cmd.Flags()
	f.StringVar(&params.UserID, "user", "", "user to add")
	f.StringVar(&params.APIKeyID, "key", "", "API key to add")
	f.StringVar(&params.RoleID, "role", "", "role in the project: a role ID or a built-in slug (required)")
	cmd.MarkFlagsMutuallyExclusive("user", "key")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newMembersUpdateCmd(conn *apiConn) *cobra.Command {
	var (
		projectID string
		params    client.UpdateMemberParams
	)
	cmd := &cobra.Command{
		Use:     "update --project ID MEMBER_ID --role ROLE",
		Short:   "Change a member's role in a project",
		Long:    `Give a member another role in the project. The change applies at once.`,
		Example: `  keyward members update --project $PROJECT_ID $MEMBER_ID --role admin`,
		Args:    exactlyOneID("member"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nonBlank("role", params.RoleID); err != nil {
				return err
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Member, error) {
				return kw.UpdateMember(ctx, projectID, args[0], params)
			}, func(w io.Writer, m *client.Member) error {
				fmt.Fprintf(w, "Updated member %s.\n\n", m.ID)
				return writeMembersTable(w, []*client.Member{m})
			})
		},
	}
	projectFlag(cmd, &projectID, "project of the membership")
	cmd.Flags().StringVar(&params.RoleID, "role", "", "new role in the project: a role ID or a built-in slug (required)")
	_ = cmd.MarkFlagRequired("role")
	return cmd
}

func newMembersRemoveCmd(conn *apiConn) *cobra.Command {
	var projectID string
	cmd := &cobra.Command{
		Use:     "remove --project ID MEMBER_ID...",
		Aliases: []string{"rm"},
		Short:   "Remove members from a project",
		Long: `End one or more memberships of a project. The user or key loses what the membership
granted at once; the user or key itself is not changed otherwise.

Members are removed in the order given; the command stops at the first failure. With --json
nothing is printed: the exit status says whether every member was removed.`,
		Example: `  keyward members remove --project $PROJECT_ID $MEMBER_ID`,
		Args:    atLeastOneID("member"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEach(cmd, conn, args, "removing member", func(ctx context.Context, kw *client.Client, id string) error {
				return kw.RemoveMember(ctx, projectID, id)
			}, func(id string) string { return "Removed member " + id + " from project " + projectID + "." })
		},
	}
	projectFlag(cmd, &projectID, "project to remove the members from")
	return cmd
}

// formatMember says who a membership is for: "user ID" or "key ID".
func formatMember(m *client.Member) string {
	if m.UserID != "" {
		return "user " + m.UserID
	}
	return "key " + m.APIKeyID
}

func writeMembersTable(w io.Writer, members []*client.Member) error {
	tw := newTable(w)
	tableRow(tw, "ID", "MEMBER", "ROLE", "CREATED")
	for _, m := range members {
		tableRow(tw, m.ID, formatMember(m), m.RoleID, formatAPITime(&m.CreatedAt, "-"))
	}
	return tw.Flush()
}
