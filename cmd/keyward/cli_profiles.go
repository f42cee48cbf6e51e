package main

// This file holds the client's profiles: 'keyward login' stores a server's URL and a
// credential under a name in a file only its owner can read, 'keyward profiles' lists them
// and picks the one in use, 'keyward logout' forgets one. A command uses a profile when
// neither its flags nor the environment say where to connect.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

const (
	envKeywardConfig  = "KEYWARD_CONFIG"
	envKeywardProfile = "KEYWARD_PROFILE"
	defaultProfile    = "default"
)

// profile is one stored server and credential.
type profile struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// cliConfig is the client's configuration file.
type cliConfig struct {
	// Current is the profile used when none is named.
	Current  string              `json:"current,omitempty"`
	Profiles map[string]*profile `json:"profiles"`
}

// configPath is $KEYWARD_CONFIG, else keyward/config.json in the user's configuration
// directory ($XDG_CONFIG_HOME or ~/.config on Linux).
func configPath() (string, error) {
	if p := os.Getenv(envKeywardConfig); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no configuration directory (%v): set %s to a file", err, envKeywardConfig)
	}
	return filepath.Join(dir, "keyward", "config.json"), nil
}

// loadCLIConfig reads the configuration file; a missing one is an empty configuration.
func loadCLIConfig() (*cliConfig, string, error) {
	path, err := configPath()
	if err != nil {
		return nil, "", err
	}
	cfg := &cliConfig{Profiles: map[string]*profile{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return cfg, path, nil
	}
	if err != nil {
		return nil, path, err
	}
	if err := json.Unmarshal(b, cfg); err != nil {
		return nil, path, fmt.Errorf("%s: not a keyward configuration: %v", path, err)
	}
	if cfg.Profiles == nil {
		cfg.Profiles = map[string]*profile{}
	}
	return cfg, path, nil
}

// save writes the configuration so that only its owner can read it (0600, in a 0700
// directory when it makes one), and replaces the old file in one step, so that a crash
// leaves the old file or the new one, never half of one.
func (c *cliConfig) save(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	// CreateTemp makes the file 0600 already; say so, whatever the umask.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func (c *cliConfig) names() []string {
	names := make([]string, 0, len(c.Profiles))
	for name := range c.Profiles {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// registerProfileFlag adds --profile to f.
func (c *apiConn) registerProfileFlag(f *pflag.FlagSet) {
	f.StringVar(&c.profile, "profile", "", "use this profile stored by 'keyward login' (default $"+envKeywardProfile+", else the current one)")
}

// target is where a command connects and with what: --url and --token first, then
// $KEYWARD_URL and $KEYWARD_TOKEN, then the profile (--profile, $KEYWARD_PROFILE or the
// current one). A named profile wins over the environment. A profile's token is only sent to
// the profile's own URL, never to a server named by a flag or the environment.
func (c *apiConn) target() (url, token string, err error) {
	if c.resolved {
		return c.resolvedURL, c.resolvedToken, c.resolveErr
	}
	c.resolved = true
	c.resolvedURL, c.resolvedToken, c.resolveErr = c.resolve()
	return c.resolvedURL, c.resolvedToken, c.resolveErr
}

func (c *apiConn) resolve() (url, token string, err error) {
	name, named := c.profile, c.profile != ""
	if !named {
		name = os.Getenv(envKeywardProfile)
		named = name != ""
	}
	url, token = c.url, c.token
	if !named {
		if url == "" {
			url = os.Getenv(envKeywardURL)
		}
		if token == "" {
			token = os.Getenv(envKeywardToken)
		}
	}
	if url != "" && token != "" {
		return url, token, nil
	}
	cfg, path, err := loadCLIConfig()
	if err != nil {
		if named {
			return orDefaultURL(url), token, err
		}
		// An unreadable file must not stop a command that did not ask for a profile.
		return orDefaultURL(url), token, nil
	}
	if !named {
		name = cfg.Current
	}
	p := cfg.Profiles[name]
	switch {
	case p == nil && named:
		return orDefaultURL(url), token, fmt.Errorf("no profile %q in %s: 'keyward profiles' lists them, 'keyward login --profile %s --url URL' adds it", name, path, name)
	case p == nil:
		return orDefaultURL(url), token, nil
	}
	if url == "" {
		url = p.URL
	}
	if token == "" && sameURL(url, p.URL) {
		token = p.Token
	}
	return url, token, nil
}

func orDefaultURL(u string) string {
	if u == "" {
		return defaultKeywardURL
	}
	return u
}

// sameURL compares two server URLs as the client uses them: a trailing slash does not count.
func sameURL(a, b string) bool {
	return strings.TrimRight(a, "/") == strings.TrimRight(b, "/")
}

func newLoginCmd() *cobra.Command {
	var (
		name, url string
		noVerify  bool
	)
	cmd := &cobra.Command{
		Use:   "login [--profile NAME] --url URL",
		Short: "Store a server's URL and a credential as a profile",
		Long: `Store a Keyward server's URL and a credential (an admin key, an API key or an OIDC access
token) under a profile name, and make it the current profile. The client commands
('keyward keys', 'keyward projects', ...) then use it when no --url, --token, KEYWARD_URL
or KEYWARD_TOKEN says otherwise; their --profile NAME (or KEYWARD_PROFILE) picks another.
A profile's credential is sent only to the profile's URL, never to a server that --url or
KEYWARD_URL names.

The credential is read from stdin, never from a flag, so that it stays out of the shell
history and the process list: typed at a prompt that does not echo it when stdin is a
terminal, else the first line of stdin. It is checked against the server (GET /v1/whoami)
before it is stored, unless --no-verify is given.

Profiles are kept in $KEYWARD_CONFIG, else keyward/config.json in the user's configuration
directory (~/.config on Linux), a file only its owner may read or write (mode 0600). The
credential is stored there as given: protect the file as you would an SSH key.`,
		Example: `  keyward login --url https://keyward.example.com
  pass show keyward/prod | keyward login --profile prod --url https://keyward.example.com
  keyward login --profile local --url http://127.0.0.1:8080 < ./admin-key`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if strings.TrimSpace(name) == "" {
				return errors.New("invalid --profile: it may not be blank")
			}
			if url == "" {
				url = os.Getenv(envKeywardURL)
			}
			if url == "" {
				return fmt.Errorf("no server: pass --url (or set %s)", envKeywardURL)
			}
			cfg, path, err := loadCLIConfig()
			if err != nil {
				return err
			}
			token, err := readCredential(cmd, "Credential for "+url+" (admin key, API key or access token): ")
			if err != nil {
				return err
			}
			conn := &apiConn{url: url, token: token}
			who := ""
			if !noVerify {
				kw, err := conn.client()
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
				defer cancel()
				w, err := kw.Whoami(ctx)
				if err != nil {
					return fmt.Errorf("not stored: %w", conn.explain(err))
				}
				who = fmt.Sprintf(" as %s of account %s", w.Kind, w.Account.Name)
			}
			cfg.Profiles[name] = &profile{URL: strings.TrimRight(url, "/"), Token: token}
			cfg.Current = name
			if err := cfg.save(path); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Logged in to %s%s; stored as profile %q (now current) in %s.\n", url, who, name, path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "profile", defaultProfile, "name to store the profile under")
	f.StringVar(&url, "url", "", "Keyward server URL (default $"+envKeywardURL+")")
	f.BoolVar(&noVerify, "no-verify", false, "store the credential without asking the server whether it works")
	_ = cmd.RegisterFlagCompletionFunc("profile", profileCompletion)
	return cmd
}

// readCredential reads a secret from stdin: at a prompt that does not echo it on a terminal,
// else its first line.
func readCredential(cmd *cobra.Command, prompt string) (string, error) {
	in := cmd.InOrStdin()
	var line string
	if f, ok := in.(*os.File); ok && isTerminal(f) {
		fmt.Fprint(cmd.ErrOrStderr(), prompt)
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(cmd.ErrOrStderr())
		if err != nil {
			return "", fmt.Errorf("reading the credential: %w", err)
		}
		line = string(b)
	} else {
		s, err := bufio.NewReader(io.LimitReader(in, 64<<10)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the credential from stdin: %w", err)
		}
		line = s
	}
	token := strings.TrimSpace(line)
	if token == "" {
		return "", errors.New("no credential: stdin is empty; pipe one in or run on a terminal to be asked")
	}
	return token, nil
}

func newLogoutCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use:   "logout [--profile NAME]",
		Short: "Forget a stored profile and its credential",
		Long: `Remove a profile stored by 'keyward login', its credential with it, from the configuration
file. Without --profile the current profile is removed. The credential itself stays valid
on the server: revoke it there ('keyward keys revoke', 'keyward admin revoke-key') if it should
stop working.`,
		Example: `  keyward logout
  keyward logout --profile prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, path, err := loadCLIConfig()
			if err != nil {
				return err
			}
			if name == "" {
				name = cfg.Current
			}
			if _, ok := cfg.Profiles[name]; !ok || name == "" {
				return fmt.Errorf("no profile %q in %s: 'keyward profiles' lists them", name, path)
			}
			delete(cfg.Profiles, name)
			if cfg.Current == name {
				cfg.Current = ""
			}
			if err := cfg.save(path); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Removed profile %q from %s.\n", name, path)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "profile", "", "profile to remove (default: the current one)")
	_ = cmd.RegisterFlagCompletionFunc("profile", profileCompletion)
	return cmd
}

// profileRow is one line of 'keyward profiles'; the token is never printed.
type profileRow struct {
	Name    string `json:"name"`
	URL     string `json:"url"`
	Current bool   `json:"current"`
}

func newProfilesCmd() *cobra.Command {
	var out outputFlag
	cmd := &cobra.Command{
		Use:     "profiles",
		Aliases: []string{"profile"},
		Short:   "List the stored profiles, or choose the current one",
		Long: `List the profiles stored by 'keyward login': name, URL and which one is current. Their
credentials are never printed. 'keyward profiles use NAME' makes another profile current.`,
		Example: `  keyward profiles
  keyward profiles use prod
  keyward profiles -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			cfg, path, err := loadCLIConfig()
			if err != nil {
				return err
			}
			rows := []profileRow{}
			for _, name := range cfg.names() {
				rows = append(rows, profileRow{Name: name, URL: cfg.Profiles[name].URL, Current: name == cfg.Current})
			}
			return writeOutput(cmd.OutOrStdout(), out.format(), rows, func(w io.Writer, rows []profileRow) error {
				if len(rows) == 0 {
					_, err := fmt.Fprintf(w, "No profiles in %s: 'keyward login --url URL' stores one.\n", path)
					return err
				}
				tw := newTable(w)
				tableRow(tw, "CURRENT", "NAME", "URL")
				for _, r := range rows {
					mark := ""
					if r.Current {
						mark = "*"
					}
					tableRow(tw, mark, r.Name, r.URL)
				}
				return tw.Flush()
			})
		},
	}
	out.register(cmd.Flags(), "a JSON array")
	registerOutputCompletion(cmd)
	cmd.AddCommand(&cobra.Command{
		Use:               "use NAME",
		Short:             "Make a stored profile the current one",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: profileCompletion,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, path, err := loadCLIConfig()
			if err != nil {
				return err
			}
			if _, ok := cfg.Profiles[args[0]]; !ok {
				return fmt.Errorf("no profile %q in %s: 'keyward profiles' lists them", args[0], path)
			}
			cfg.Current = args[0]
			if err := cfg.save(path); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Profile %q (%s) is now current.\n", args[0], cfg.Profiles[args[0]].URL)
			return nil
		},
	})
	return cmd
}

// profileCompletion offers the stored profiles' names.
func profileCompletion(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	cfg, _, err := loadCLIConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return cfg.names(), cobra.ShellCompDirectiveNoFileComp
}
