package main

// Unknown commands fail, at every level, as they do in git, kubectl and gh: 'keyward nosuch',
// 'keyward keys nosuch' and 'keyward help nosuch' exit 1 with "unknown command" and, when a
// command's name is close, "Did you mean this?". Cobra does this by itself only for the root;
// a group such as 'keys' would print its help and exit 0, so a typo in a script went unseen.

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// rejectUnknownSubcommands gives cmd and every group under it (a command with subcommands
// and no action of its own) an action that prints its help when called bare and fails on
// anything else, the same way at every level.
func rejectUnknownSubcommands(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		rejectUnknownSubcommands(c)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return unknownCommandError(cmd, args[0])
	}
}

// unknownCommandError names the unknown command, suggests close ones, and says where the
// list is.
func unknownCommandError(parent *cobra.Command, name string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "unknown command %q for %q", name, parent.CommandPath())
	if parent.SuggestionsMinimumDistance <= 0 {
		parent.SuggestionsMinimumDistance = 2
	}
	if s := parent.SuggestionsFor(name); len(s) > 0 {
		b.WriteString("\n\nDid you mean this?\n")
		for _, n := range s {
			fmt.Fprintf(&b, "\t%s\n", n)
		}
	} else {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\nRun '%s --help' for the commands.", parent.CommandPath())
	return errors.New(b.String())
}

// newHelpCmd replaces cobra's help command, which prints the root's help and exits 0 for a
// topic it does not know.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  `Help about any command: 'keyward help keys create' is 'keyward keys create --help'.`,
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := root.Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(sub.Name(), sub.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd := root
			for _, name := range args {
				next := findSubcommand(cmd, name)
				if next == nil {
					return unknownCommandError(cmd, name)
				}
				cmd = next
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// findSubcommand is parent's subcommand called name or one of its aliases, or nil.
func findSubcommand(parent *cobra.Command, name string) *cobra.Command {
	for _, c := range parent.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return c
		}
	}
	return nil
}
