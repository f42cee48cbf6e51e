package main

// Shell completion asks the server for the IDs a command takes: 'keyward keys get <TAB>'
// offers the account's key IDs with their names, '--project <TAB>' its projects, and
// 'keyward accounts get <TAB>' the accounts the credential may see. Completion runs the
// binary's hidden __complete command with what has been typed so far, so --url, --token and
// --profile on the command line are honoured. It never prints an error into the shell: when
// the server cannot be asked, nothing is offered.

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

// completionTimeout bounds a completion's request: a shell waiting on a TAB must not hang.
const completionTimeout = 3 * time.Second

// idLister lists the candidates of one kind: ID and a description (the name).
type idLister func(ctx context.Context, kw *client.Client) ([]cobra.Completion, error)

// pageLister makes an idLister of a list call's first page (the largest the server gives):
// describe gives an item's ID and description.
func pageLister[T any](list func(context.Context, *client.Client) (*client.Page[T], error), describe func(T) (string, string)) idLister {
	return func(ctx context.Context, kw *client.Client) ([]cobra.Completion, error) {
		page, err := list(ctx, kw)
		if err != nil {
			return nil, err
		}
		out := make([]cobra.Completion, 0, len(page.Items))
		for _, item := range page.Items {
			out = append(out, cobra.CompletionWithDesc(describe(item)))
		}
		return out, nil
	}
}

var (
	listKeyIDs = pageLister(func(ctx context.Context, kw *client.Client) (*client.Page[*client.Key], error) {
		return kw.ListKeys(ctx, client.ListKeysParams{Limit: client.MaxPageSize})
	}, func(k *client.Key) (string, string) { return k.ID, k.Name + " (" + string(k.Status) + ")" })
	listProjectIDs = pageLister(func(ctx context.Context, kw *client.Client) (*client.Page[*client.Project], error) {
		return kw.ListProjects(ctx, client.ListParams{Limit: client.MaxPageSize})
	}, func(p *client.Project) (string, string) { return p.ID, p.Name })
	listAccountIDs = pageLister(func(ctx context.Context, kw *client.Client) (*client.Page[*client.Account], error) {
		return kw.ListAccounts(ctx, client.ListParams{Limit: client.MaxPageSize})
	}, func(a *client.Account) (string, string) { return a.ID, a.Name })
)

// completeFrom offers the IDs list returns that start with what is typed, leaving out those
// already given as arguments. Only the first maxArgs arguments are completed (0: all).
func completeFrom(list idLister, maxArgs int) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if maxArgs > 0 && len(args) >= maxArgs {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return completeIDs(cmd, list, args, toComplete)
	}
}

// completeFlagFrom is completeFrom for a flag's value.
func completeFlagFrom(list idLister) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return completeIDs(cmd, list, nil, toComplete)
	}
}

func completeIDs(cmd *cobra.Command, list idLister, given []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	conn := connFromFlags(cmd)
	kw, err := conn.client()
	if err != nil {
		cobra.CompDebugln("keyward completion: "+err.Error(), true)
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(cmd.Context(), completionTimeout)
	defer cancel()
	all, err := list(ctx, kw)
	if err != nil {
		cobra.CompDebugln("keyward completion: "+conn.explain(err).Error(), true)
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, c := range all {
		id, _, _ := strings.Cut(c, "\t")
		if strings.HasPrefix(id, toComplete) && !slices.Contains(given, id) {
			out = append(out, c)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// connFromFlags is the connection the command's own flags (--url, --token, --profile, all
// persistent flags of the client commands) and the environment describe.
func connFromFlags(cmd *cobra.Command) *apiConn {
	conn := &apiConn{}
	f := cmd.Flags()
	conn.url, _ = f.GetString("url")
	conn.token, _ = f.GetString("token")
	conn.profile, _ = f.GetString("profile")
	return conn
}

// addIDCompletion walks the command tree and completes, from the server, the arguments named
// KEY_ID, PROJECT_ID or ACCOUNT_ID in a command's usage line and the --project, --key and
// --client-id flags. A command that completes its arguments itself is left alone.
func addIDCompletion(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		addIDCompletion(c)
	}
	if cmd.ValidArgsFunction == nil {
		// The first word after the name that is an ID says what the command takes; "..."
		// after it says it takes several.
		for _, word := range strings.Fields(cmd.Use)[1:] {
			name, many := strings.CutSuffix(word, "...")
			max := 1
			if many {
				max = 0
			}
			var list idLister
			switch name {
			case "KEY_ID":
				list = listKeyIDs
			case "PROJECT_ID":
				list = listProjectIDs
			case "ACCOUNT_ID":
				list = listAccountIDs
			}
			if list != nil {
				cmd.ValidArgsFunction = completeFrom(list, max)
				break
			}
			if !strings.HasPrefix(word, "-") && !strings.HasPrefix(word, "[") {
				break // another positional argument comes first
			}
		}
	}
	for flag, list := range map[string]idLister{"project": listProjectIDs, "key": listKeyIDs, "client-id": listKeyIDs} {
		if f := cmd.Flags().Lookup(flag); f != nil {
			if _, done := cmd.GetFlagCompletionFunc(flag); !done {
				_ = cmd.RegisterFlagCompletionFunc(flag, completeFlagFrom(list))
			}
		}
	}
}
