package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

func newProjectsCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:     "projects",
		Aliases: []string{"project"},
		Short:   "Create, list, show and update projects",
		Long: `Manage the projects of a running Keyward server through its HTTP API.

A project groups the API keys of one API or product; every key it issues starts with the
project's key prefix ("kw" unless chosen, e.g. "sk_live"), so that a leaked key says where it
belongs. Projects are divided into environments: see 'keyward environments'. A project may
have a leak policy of its own, which overrides its account's ('keyward projects update').

Every command needs an admin key: set KEYWARD_TOKEN (or pass --token). The server is
KEYWARD_URL (or --url), http://127.0.0.1:8080 by default.`,
		Example: `  keyward projects create --name payments --key-prefix pay
  keyward projects list
  keyward projects update $PROJECT_ID --leak-policy notify`,
	}
	conn.registerFlags(cmd)
	cmd.AddCommand(newProjectsCreateCmd(conn), newProjectsListCmd(conn), newProjectsGetCmd(conn), newProjectsUpdateCmd(conn))
	return cmd
}

func newProjectsCreateCmd(conn *apiConn) *cobra.Command {
	var params client.CreateProjectParams
	cmd := &cobra.Command{
		Use:   "create --name NAME [--key-prefix PREFIX]",
		Short: "Create a project",
		Long: `Create a project in the admin key's account and print it. --key-prefix sets the prefix of
every key the project issues; the server's default is "kw". It cannot be changed later, as
keys already handed out carry it.`,
		Example: `  keyward projects create --name payments
  keyward projects create --name payments --key-prefix sk_live
  PROJECT=$(keyward projects create --name payments --json | jq -r .id)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(params.Name) == "" {
				return errors.New("invalid --name: it may not be blank")
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Project, error) {
				return kw.CreateProject(ctx, params)
			}, func(w io.Writer, p *client.Project) error {
				fmt.Fprintf(w, "Created project %s.\n\n", p.ID)
				return writeProjectsTable(w, []*client.Project{p})
			})
		},
	}
	cmd.Flags().StringVar(&params.Name, "name", "", "project name (required)")
	cmd.Flags().StringVar(&params.KeyPrefix, "key-prefix", "", `prefix of the project's keys, e.g. "sk_live" (default: the server's, "kw")`)
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newProjectsListCmd(conn *apiConn) *cobra.Command {
	var page pageFlags
	cmd := &cobra.Command{
		Use:     "list [flags]",
		Aliases: []string{"ls"},
		Short:   "List projects",
		Long: `List the projects of the admin key's account. One page is printed; when there are more, a
hint with the next cursor goes to stderr. --all follows the cursors and prints every project.
With --json the output is a JSON array.`,
		Example: `  keyward projects list
  keyward projects list --all --json | jq -r '.[] | "\(.id) \(.name)"'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd, conn, &page,
				func(kw *client.Client) iter.Seq2[*client.Project, error] {
					return kw.AllProjects(cmd.Context(), page.params())
				},
				func(kw *client.Client) (*client.Page[*client.Project], error) {
					return kw.ListProjects(cmd.Context(), page.params())
				},
				"projects", "No projects. Create one with 'keyward projects create --name NAME'.", writeProjectsTable)
		},
	}
	page.register(cmd, "projects")
	return cmd
}

func newProjectsGetCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:     "get PROJECT_ID",
		Aliases: []string{"show"},
		Short:   "Show a project",
		Long:    `Show one project: its name, key prefix and leak policy. With --json the output is the API's object.`,
		Example: `  keyward projects get $PROJECT_ID`,
		Args:    exactlyOneID("project"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Project, error) {
				return kw.GetProject(ctx, args[0])
			}, writeProjectDetails)
		},
	}
}

func newProjectsUpdateCmd(conn *apiConn) *cobra.Command {
	var name, leakPolicy string
	cmd := &cobra.Command{
		Use:   "update PROJECT_ID [--name NAME] [--leak-policy revoke|notify|default]",
		Short: "Rename a project or set its leak policy",
		Long: `Rename a project, or set what a leak report (keyward keys report-leak, or GitHub's secret
scanning) does to its keys: revoke them at once, or notify only (an api_key.leaked event to
the webhook endpoints). --leak-policy default removes the project's own policy: its account's
applies again. The key prefix cannot change: keys already handed out carry it.`,
		Example: `  keyward projects update $PROJECT_ID --name payments-v2
  keyward projects update $PROJECT_ID --leak-policy notify
  keyward projects update $PROJECT_ID --leak-policy default`,
		Args: exactlyOneID("project"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := needOneOf(cmd, "name", "leak-policy"); err != nil {
				return err
			}
			var params client.UpdateProjectParams
			if cmd.Flags().Changed("name") {
				if err := nonBlank("name", name); err != nil {
					return err
				}
				params.Name = &name
			}
			if cmd.Flags().Changed("leak-policy") {
				p, err := parseLeakPolicy(leakPolicy, true)
				if err != nil {
					return err
				}
				params.LeakPolicy, params.ClearLeakPolicy = p, p == nil
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Project, error) {
				return kw.UpdateProject(ctx, args[0], params)
			}, func(w io.Writer, p *client.Project) error {
				fmt.Fprintf(w, "Updated project %s.\n\n", p.ID)
				return writeProjectDetails(w, p)
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "new project name")
	cmd.Flags().StringVar(&leakPolicy, "leak-policy", "", "what a leak report does to the project's keys: revoke, notify, or default (the account's policy)")
	_ = cmd.RegisterFlagCompletionFunc("leak-policy", cobra.FixedCompletions(
		[]cobra.Completion{string(client.LeakRevoke), string(client.LeakNotify), "default"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// writeProjectDetails shows every field of one project, one per line.
func writeProjectDetails(w io.Writer, p *client.Project) error {
	tw := newTable(w)
	tableRow(tw, "ID", p.ID)
	tableRow(tw, "NAME", p.Name)
	tableRow(tw, "KEY PREFIX", p.KeyPrefix)
	policy := "the account's"
	if p.LeakPolicy != "" {
		policy = string(p.LeakPolicy)
	}
	tableRow(tw, "LEAK POLICY", policy)
	tableRow(tw, "CREATED", formatAPITime(&p.CreatedAt, "-"))
	return tw.Flush()
}

func newEnvironmentsCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:     "environments",
		Aliases: []string{"environment", "envs", "env"},
		Short:   "Create and list the environments of a project",
		Long: `Manage the environments of a project, such as production and staging, through a running
Keyward server's HTTP API. A key may belong to one environment ('keyward keys create --env'),
and keys can be listed per environment.

Every command needs an admin key: set KEYWARD_TOKEN (or pass --token). The server is
KEYWARD_URL (or --url), http://127.0.0.1:8080 by default.`,
		Example: `  keyward environments create --project $PROJECT_ID --name production
  keyward environments list --project $PROJECT_ID`,
	}
	conn.registerFlags(cmd)
	cmd.AddCommand(newEnvironmentsCreateCmd(conn), newEnvironmentsListCmd(conn))
	return cmd
}

func newEnvironmentsCreateCmd(conn *apiConn) *cobra.Command {
	var (
		projectID string
		params    client.CreateEnvironmentParams
	)
	cmd := &cobra.Command{
		Use:   "create --project ID --name NAME",
		Short: "Create an environment in a project",
		Long:  `Create an environment in a project and print it. Names are unique within a project.`,
		Example: `  keyward environments create --project $PROJECT_ID --name production
  keyward environments create --project $PROJECT_ID --name staging --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(params.Name) == "" {
				return errors.New("invalid --name: it may not be blank")
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Environment, error) {
				return kw.CreateEnvironment(ctx, projectID, params)
			}, func(w io.Writer, e *client.Environment) error {
				fmt.Fprintf(w, "Created environment %s in project %s.\n\n", e.ID, e.ProjectID)
				return writeEnvironmentsTable(w, []*client.Environment{e})
			})
		},
	}
	cmd.Flags().StringVar(&projectID, "project", "", "project to create the environment in (required)")
	cmd.Flags().StringVar(&params.Name, "name", "", "environment name, e.g. production (required)")
	_ = cmd.MarkFlagRequired("project")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newEnvironmentsListCmd(conn *apiConn) *cobra.Command {
	var (
		projectID string
		page      pageFlags
	)
	cmd := &cobra.Command{
		Use:     "list --project ID [flags]",
		Aliases: []string{"ls"},
		Short:   "List the environments of a project",
		Long: `List the environments of a project. One page is printed; when there are more, a hint with
the next cursor goes to stderr. --all follows the cursors and prints every environment. With
--json the output is a JSON array.`,
		Example: `  keyward environments list --project $PROJECT_ID
  keyward environments list --project $PROJECT_ID --all --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd, conn, &page,
				func(kw *client.Client) iter.Seq2[*client.Environment, error] {
					return kw.AllEnvironments(cmd.Context(), projectID, page.params())
				},
				func(kw *client.Client) (*client.Page[*client.Environment], error) {
					return kw.ListEnvironments(cmd.Context(), projectID, page.params())
				},
				"environments", "No environments in project "+projectID+".", writeEnvironmentsTable)
		},
	}
	cmd.Flags().StringVar(&projectID, "project", "", "project whose environments to list (required)")
	_ = cmd.MarkFlagRequired("project")
	page.register(cmd, "environments")
	return cmd
}
