package main

// This file is the one source of what build is running: 'keyward version', --version, the
// User-Agent of the client commands, the startup log of 'keyward serve', the OpenAPI
// document's version and the keyward_build_info metric all read it.

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/spf13/cobra"
)

// Set at build time:
//
//	go build -ldflags "-X main.version=1.4.0 -X main.commit=$(git rev-parse HEAD) -X main.date=$(date -u +%FT%TZ)"
//
// A value left empty is taken from the VCS stamp Go records when it builds from a clone
// (vcs.revision, vcs.time), and is "unknown" when there is none, as with -buildvcs=false.
var (
	version = "dev"
	commit  = ""
	date    = ""
)

const unknown = "unknown"

// buildInfo is what build is running.
type buildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	// Modified says the build was made from a work tree with uncommitted changes.
	Modified bool `json:"modified,omitempty"`
}

var currentBuild = sync.OnceValue(func() buildInfo {
	var vcsRevision, vcsTime string
	var modified bool
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				vcsRevision = s.Value
			case "vcs.time":
				vcsTime = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	return resolveBuild(version, commit, date, vcsRevision, vcsTime, modified)
})

// resolveBuild prefers what -ldflags set, then the VCS stamp, then "unknown".
func resolveBuild(ver, com, dat, vcsRevision, vcsTime string, modified bool) buildInfo {
	pick := func(values ...string) string {
		for _, v := range values {
			if v != "" {
				return v
			}
		}
		return unknown
	}
	b := buildInfo{
		Version:   pick(ver, "dev"),
		Commit:    pick(com, vcsRevision),
		Date:      pick(dat, vcsTime),
		GoVersion: runtime.Version(),
	}
	// The tree's state is known only when the commit came from the same stamp.
	b.Modified = com == "" && vcsRevision != "" && modified
	return b
}

// String is the one line 'keyward version' and --version print.
func (b buildInfo) String() string {
	c := b.Commit
	if b.Modified {
		c += " (modified)"
	}
	return fmt.Sprintf("keyward %s (commit %s, built %s, %s)", b.Version, c, b.Date, b.GoVersion)
}

func newVersionCmd() *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and build date",
		Long: `Print the version, the commit it was built from and the build date. They are set with
-ldflags "-X main.version=... -X main.commit=... -X main.date=..." when building, or else
read from the VCS stamp Go records when building from a git clone; what neither gives is
"unknown". 'keyward --version' prints the same line, 'keyward serve' logs it at startup, and
/metrics carries it as keyward_build_info.`,
		Example: `  keyward version
  keyward version -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeOutput(cmd.OutOrStdout(), out.format(), currentBuild(), func(w io.Writer, b buildInfo) error {
				_, err := fmt.Fprintln(w, b.String())
				return err
			})
		},
	}
	out.register(cmd.Flags(), "")
	return cmd
}
