package main

// Destructive commands ask before they act when a person is at a terminal, and refuse to act
// without --yes when no one is there to ask, as gh does: a script that revokes must say so,
// and a mistyped command at a prompt can still be called off.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// isTerminal reports whether r is a terminal: a person may be asked there, and a secret is
// not piped from it (reading it would wait for typing that echoes the secret). /dev/null is
// a character device but not a terminal.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// errNotConfirmed is returned when the person answered anything but yes.
var errNotConfirmed = errors.New("not confirmed: nothing was done")

// confirm asks question on stderr and reads the answer from stdin when stdin is a terminal;
// only y or yes goes on. Without a terminal it refuses, naming the flag that skips the
// question. yes skips it.
func confirm(cmd *cobra.Command, yes bool, question string) error {
	if yes {
		return nil
	}
	in := cmd.InOrStdin()
	if !isTerminal(in) {
		return errors.New("refusing without confirmation: stdin is not a terminal, so no one can be asked; pass --yes (-y) to go ahead")
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "%s [y/N] ", question)
	answer, err := bufio.NewReader(io.LimitReader(in, 1024)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return errNotConfirmed
}
