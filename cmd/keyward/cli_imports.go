package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

// maxImportLine bounds one line of an import file: a key with its metadata (at most 8 KiB)
// and everything else fits many times over.
const maxImportLine = 1 << 20

func newKeysImportCmd(conn *apiConn) *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE|-",
		Short: "Import API keys from another system, from a JSON-lines file",
		Long: `Import API keys that another system issued, so that they keep working: their users need not
change anything. FILE (or stdin, for -) holds one JSON object per line; blank lines are
skipped. Each object is one key, with either its secret in the clear ("key") or the
unsalted SHA-256 the old system kept of it ("sha256", in hex or base64):

  {"key":"legacy_4f9a...","name":"acme prod","project_id":"prj_...","scopes":["read"]}
  {"sha256":"9f86d08...","prefix":"lg_9f86","name":"globex","metadata":{"legacy_id":42}}

The other fields are those of 'keys create': name (required), project_id, environment_id,
scopes, allowed_ips, expires_at (RFC 3339), metadata; and prefix, what lists show of the key
(default: its first characters; none for a sha256 import).

All the keys go in one call, and are imported all or none: at most 10000, so split a larger
file. The command prints the new keys' IDs, in the order of the file; with --json, the
API's {"imported": N, "key_ids": [...]}.

The file holds secrets: keep it out of shell history and version control, and delete it
once the import is done.`,
		Example: `  keyward keys import legacy-keys.jsonl
  jq -c '.[] | {sha256: .hash, name: .label, project_id: env.PROJECT_ID}' legacy.json | keyward keys import -`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return fmt.Errorf("want exactly one FILE (or - for stdin), got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			var in io.Reader = cmd.InOrStdin()
			if name == "-" {
				name = "stdin"
			} else {
				f, err := os.Open(name)
				if err != nil {
					return err
				}
				defer f.Close()
				in = f
			}
			keys, err := readImportKeys(in, name)
			if err != nil {
				return err
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.ImportResult, error) {
				return kw.ImportKeys(ctx, keys)
			}, func(w io.Writer, r *client.ImportResult) error {
				fmt.Fprintf(w, "Imported %d %s:\n\n", r.Imported, plural(r.Imported, "key", "keys"))
				for _, id := range r.KeyIDs {
					fmt.Fprintln(w, id)
				}
				return nil
			})
		},
	}
}

// readImportKeys reads one ImportKey per non-blank line of r, which name names in errors. A
// line that is not one JSON object of ImportKey's fields is refused with its number, before
// anything is sent.
func readImportKeys(r io.Reader, name string) ([]client.ImportKey, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxImportLine)
	var keys []client.ImportKey
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		if len(keys) == client.MaxImportKeys {
			// Count the rest, to say how many there are.
			n := len(keys) + 1
			for sc.Scan() {
				if len(bytes.TrimSpace(sc.Bytes())) > 0 {
					n++
				}
			}
			return nil, fmt.Errorf("%s has %d keys; one import takes at most %d: split the file and import each part", name, n, client.MaxImportKeys)
		}
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber() // metadata numbers keep their exact digits
		dec.DisallowUnknownFields()
		var k client.ImportKey
		err := dec.Decode(&k)
		if err == nil && dec.More() {
			err = errors.New("more than one JSON value on the line")
		}
		if err != nil {
			return nil, fmt.Errorf("%s, line %d: not a key object: %v", name, line, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s, line %d: longer than %d bytes", name, line+1, maxImportLine)
		}
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no keys: want one JSON object per line", name)
	}
	return keys, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// leakReceipt is what 'keys report-leak --json' prints: the API's answer.
type leakReceipt struct {
	Status string `json:"status"`
}

func newKeysReportLeakCmd(conn *apiConn) *cobra.Command {
	var where string
	cmd := &cobra.Command{
		Use:   "report-leak [--found-at URL] KEY|-",
		Short: "Report a leaked API key, which revokes it unless its leak policy says notify",
		Long: `Report an API key's secret found where it should not be: in a public repository, a paste, a
log. Pass - to read the secret from stdin, so that it appears neither in your shell history
nor in the process list; --found-at says where it was found. (--url, as everywhere, is the
Keyward server.)

No credential is needed: holding the secret is the authority to report it. If it is a live
key, the server records the leak on it, sends an api_key.leaked event to the webhook
endpoints, and revokes the key, unless its project's (or else its account's) leak policy is
notify. The answer is the same whether or not the string was a key.`,
		Example: `  pbpaste | keyward keys report-leak --found-at https://gist.github.com/someone/abc123 -
  keyward keys report-leak - < leaked.txt`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
				return fmt.Errorf("want exactly one KEY, or - to read it from stdin; got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			secret := strings.TrimSpace(args[0])
			if secret == "-" {
				var err error
				if secret, err = readSecretLine(cmd.InOrStdin()); err != nil {
					return err
				}
			}
			// No credential: the report must work for whoever found the key.
			kw, err := conn.anonymousClient()
			if err != nil {
				return err
			}
			if err := kw.ReportLeak(cmd.Context(), secret, where); err != nil {
				return conn.explain(err)
			}
			return printOne(cmd, conn, leakReceipt{Status: "received"}, func(w io.Writer, _ leakReceipt) error {
				_, err := fmt.Fprintln(w, "Leak report received. If the secret was a live key, it is marked leaked and, unless its leak policy is notify, revoked.")
				return err
			})
		},
	}
	cmd.Flags().StringVar(&where, "found-at", "", "URL of the place the secret was found")
	return cmd
}

// readSecretLine reads a secret from r: its first non-blank line, trimmed.
func readSecretLine(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			return s, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("reading the key from stdin: %w", err)
	}
	return "", errors.New("no key on stdin")
}
