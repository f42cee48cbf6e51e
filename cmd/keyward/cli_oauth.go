package main

// This file holds the oauth commands: a key's client-credentials token, and the
// introspection and revocation of access tokens.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/keyward/keyward/client"
	"github.com/spf13/cobra"
)

const (
	envClientID         = "KEYWARD_CLIENT_ID"
	envClientSecret     = "KEYWARD_CLIENT_SECRET"
	envClientSecretFile = "KEYWARD_CLIENT_SECRET_FILE"
	// maxSecretInput bounds what is read as a secret or a token from a file or stdin: a key
	// or an access token is far shorter.
	maxSecretInput = 16 << 10
)

func newOAuthCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "oauth",
		Short: "Get, inspect and revoke OAuth access tokens",
		Long: `Every API key is also an OAuth 2.0 client: its client ID is the key's ID, its client secret the
key itself. 'oauth token' exchanges a key for a short-lived access token (the
client-credentials grant), which works wherever the key does; 'oauth introspect' says what a
token is and whether it is still active; 'oauth revoke' ends one.

The server is KEYWARD_URL (or --url), http://127.0.0.1:8080 by default. Secrets and tokens
are read from a file, the environment or stdin, never from a flag's value, which would show in
the process list and the shell history.`,
		Example: `  export KEYWARD_CLIENT_SECRET=$API_KEY
  TOKEN=$(keyward oauth token --client-id $KEY_ID --scope "orders:read" --json | jq -r .access_token)
  echo "$TOKEN" | keyward oauth introspect
  echo "$TOKEN" | keyward oauth revoke`,
	}
	cmd.AddCommand(newOAuthTokenCmd(), newOAuthIntrospectCmd(), newOAuthRevokeCmd())
	return cmd
}

func newOAuthTokenCmd() *cobra.Command {
	var (
		conn       apiConn
		clientID   string
		scopes     []string
		secretFile string
		post       bool
	)
	cmd := &cobra.Command{
		Use:   "token --client-id KEY_ID [--scope SCOPE...] [--client-secret-file FILE]",
		Short: "Exchange an API key for an OAuth access token",
		Long: `Exchange an API key for an access token with the client-credentials grant and print it. The
key authenticates itself: no KEYWARD_TOKEN is needed or sent.

The client ID is --client-id (or KEYWARD_CLIENT_ID): the key's ID. The client secret, the key
itself, is read from the first of: --client-secret-file FILE ("-" for stdin),
KEYWARD_CLIENT_SECRET_FILE, KEYWARD_CLIENT_SECRET, or stdin when it is not a terminal. It is
never taken as a flag's value. Surrounding whitespace is ignored.

--scope asks for a subset of the key's scopes (repeat it, or separate scopes with spaces or
commas); without it the token gets all of them. The credentials go as HTTP Basic, or in the
form body with --post.

The token is printed once with its type, scope and expiry; with --json the output is the
token endpoint's own JSON.`,
		Example: `  keyward oauth token --client-id $KEY_ID --client-secret-file ./api-key
  KEYWARD_CLIENT_SECRET=$API_KEY keyward oauth token --client-id $KEY_ID --scope "orders:read orders:write"
  pass show keyward/ci | keyward oauth token --client-id $KEY_ID --json | jq -r .access_token`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if clientID == "" {
				clientID = os.Getenv(envClientID)
			}
			if strings.TrimSpace(clientID) == "" {
				return fmt.Errorf("no client ID: pass --client-id (or set %s) to the key's ID", envClientID)
			}
			params := client.TokenParams{ClientID: strings.TrimSpace(clientID), Scopes: splitScopes(scopes)}
			if post {
				params.AuthMethod = client.AuthClientSecretPost
			}
			var err error
			if params.ClientSecret, err = readClientSecret(cmd, secretFile); err != nil {
				return err
			}
			// The key authenticates itself, so the client carries no credential: conn.client
			// would refuse to make one.
			kw, err := conn.anonymousClient()
			if err != nil {
				return err
			}
			tok, err := kw.Token(cmd.Context(), params)
			if err != nil {
				return explainOAuth(&conn, err, "check --client-id and the client secret")
			}
			return printOne(cmd, &conn, tok, writeToken)
		},
	}
	f := cmd.Flags()
	f.StringVar(&conn.url, "url", "", "Keyward server URL (default $"+envKeywardURL+", else "+defaultKeywardURL+")")
	conn.out.register(f, "the token endpoint's JSON")
	registerOutputCompletion(cmd)
	f.StringVar(&clientID, "client-id", "", "the API key's ID (default $"+envClientID+")")
	f.StringSliceVar(&scopes, "scope", nil, "ask for these of the key's scopes; repeat the flag or separate with spaces or commas (default: all of them)")
	f.StringVar(&secretFile, "client-secret-file", "", `read the client secret (the API key) from this file; "-" for stdin (default $`+envClientSecretFile+`, $`+envClientSecret+`, else stdin)`)
	f.BoolVar(&post, "post", false, "send the credentials in the form body (client_secret_post) instead of HTTP Basic")
	return cmd
}

// splitScopes reads the --scope values, each of which may hold several scopes separated by
// spaces (the OAuth form) as well as commas.
func splitScopes(values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// readClientSecret reads the client secret from --client-secret-file, else
// KEYWARD_CLIENT_SECRET_FILE, else KEYWARD_CLIENT_SECRET, else stdin unless it is a terminal.
func readClientSecret(cmd *cobra.Command, file string) (string, error) {
	from := "--client-secret-file " + file
	if file == "" {
		if file = os.Getenv(envClientSecretFile); file != "" {
			from = envClientSecretFile
		}
	}
	var (
		secret string
		err    error
	)
	switch {
	case file == "-":
		from = "stdin"
		secret, err = readSecretFrom(cmd.InOrStdin())
	case file != "":
		var f *os.File
		if f, err = os.Open(file); err == nil {
			secret, err = readSecretFrom(f)
			f.Close()
		}
	case os.Getenv(envClientSecret) != "":
		from = envClientSecret
		secret = strings.TrimSpace(os.Getenv(envClientSecret))
	default:
		in := cmd.InOrStdin()
		if isTerminal(in) {
			return "", fmt.Errorf("no client secret: pass --client-secret-file FILE, set %s or %s, or pipe the API key on stdin", envClientSecret, envClientSecretFile)
		}
		from = "stdin"
		secret, err = readSecretFrom(in)
	}
	if err != nil {
		return "", fmt.Errorf("reading the client secret from %s: %w", from, err)
	}
	if secret == "" {
		return "", fmt.Errorf("no client secret: %s is empty", from)
	}
	return secret, nil
}

// readSecretFrom reads one secret or token: the whole input, bounded, without surrounding
// whitespace.
func readSecretFrom(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSecretInput+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxSecretInput {
		return "", fmt.Errorf("more than %d bytes: not a key or a token", maxSecretInput)
	}
	return strings.TrimSpace(string(b)), nil
}

// tokenArg is the access token a command works on: its argument, or stdin when there is
// none or it is "-".
func tokenArg(cmd *cobra.Command, args []string) (string, error) {
	if len(args) == 1 && args[0] != "-" {
		if t := strings.TrimSpace(args[0]); t != "" {
			return t, nil
		}
		return "", errors.New("invalid token: it may not be blank")
	}
	in := cmd.InOrStdin()
	if isTerminal(in) {
		return "", errors.New("no token: pipe it on stdin (or pass it as the argument, which the process list shows)")
	}
	tok, err := readSecretFrom(in)
	if err != nil {
		return "", fmt.Errorf("reading the token from stdin: %w", err)
	}
	if tok == "" {
		return "", errors.New("no token: stdin is empty")
	}
	return tok, nil
}

func newOAuthIntrospectCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:   "introspect [TOKEN | -]",
		Short: "Show what an access token is and whether it is active",
		Long: `Ask the server about an access token (RFC 7662): whether it is active, its key (client ID),
scopes, account, project, user, role, permissions and times. An unknown, malformed, expired or
revoked token, or one of another account, is just "not active".

The token is the argument, or stdin when there is none or it is "-"; prefer stdin, since the
process list shows arguments. The command authenticates with KEYWARD_TOKEN (or --token): an
admin key, an API key or an access token of the token's account. With --json the output is the
introspection endpoint's own JSON.`,
		Example: `  echo "$TOKEN" | keyward oauth introspect
  keyward oauth introspect - --json < token.txt | jq .active`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			token, err := tokenArg(cmd, args)
			if err != nil {
				return err
			}
			return runOne(cmd, conn, func(ctx context.Context, kw *client.Client) (*client.Introspection, error) {
				info, err := kw.Introspect(ctx, token)
				if err != nil {
					return nil, explainOAuth(conn, err, "check --token or "+envKeywardToken)
				}
				return info, nil
			}, writeIntrospection)
		},
	}
	conn.registerFlags(cmd)
	return cmd
}

func newOAuthRevokeCmd() *cobra.Command {
	conn := &apiConn{}
	cmd := &cobra.Command{
		Use:   "revoke [TOKEN | -]",
		Short: "Revoke an access token",
		Long: `Revoke an access token (RFC 7009): it is refused on every Keyward node within a second. An
admin key, or the API key the token was issued to, may revoke it; set KEYWARD_TOKEN (or
--token) to one. To end every token of a key, revoke the key ('keyward keys revoke').

The server answers the same whether the token was live, unknown, expired or not the caller's
to revoke, so that the answer tells nothing about it: run 'keyward oauth introspect' to see
that a token is no longer active. The token is the argument, or stdin when there is none or it
is "-"; prefer stdin, since the process list shows arguments. With --json nothing is printed:
the exit status says whether the request was accepted.`,
		Example: `  echo "$TOKEN" | keyward oauth revoke`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			token, err := tokenArg(cmd, args)
			if err != nil {
				return err
			}
			// Not runEach, which names each ID it fails on: the token is a secret, and its
			// errors are OAuth's.
			kw, err := conn.client()
			if err != nil {
				return err
			}
			if err := kw.RevokeToken(cmd.Context(), token); err != nil {
				return explainOAuth(conn, err, "check --token or "+envKeywardToken)
			}
			if !conn.out.machine() {
				fmt.Fprintln(cmd.OutOrStdout(), "Revoked the token, if it was live and yours to revoke (the server answers the same either way).")
			}
			return nil
		},
	}
	conn.registerFlags(cmd)
	return cmd
}

// explainOAuth turns an error from an OAuth endpoint into one line; refused credentials get
// hint, and a refusal that says when to retry says so.
func explainOAuth(conn *apiConn, err error, hint string) error {
	var oe *client.OAuthError
	if !errors.As(err, &oe) {
		return conn.explain(err)
	}
	msg := strings.TrimPrefix(oe.Error(), "keyward: ")
	switch {
	case oe.Code == client.OAuthInvalidClient || oe.Code == client.OAuthInvalidToken:
		msg += "; " + hint
	case oe.RetryAfter > 0:
		msg += fmt.Sprintf("; retry in %v", oe.RetryAfter)
	}
	return &cliError{msg: msg, err: err}
}

// writeToken prints an access token for people: what it is, then the token itself, which
// the person asked for, on stdout.
func writeToken(w io.Writer, t *client.Token) error {
	tw := newTable(w)
	tableRow(tw, "TOKEN TYPE", t.TokenType)
	tableRow(tw, "SCOPE", formatScopes(t.Scopes()))
	tableRow(tw, "EXPIRES", fmt.Sprintf("%s (in %v)", formatAPITime(&t.Expiry, "-"), time.Duration(t.ExpiresIn)*time.Second))
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nAccess token (a credential: it works wherever its key does until it expires or is revoked):\n\n    %s\n\n", t.AccessToken)
	return err
}

func writeIntrospection(w io.Writer, i *client.Introspection) error {
	tw := newTable(w)
	if !i.Active {
		tableRow(tw, "ACTIVE", "false")
		if err := tw.Flush(); err != nil {
			return err
		}
		_, err := fmt.Fprintln(w, "\nThe token is not active: it is unknown, malformed, expired or revoked, or of another account.")
		return err
	}
	tableRow(tw, "ACTIVE", "true")
	tableRow(tw, "CLIENT ID", i.ClientID)
	tableRow(tw, "SUBJECT", orDash(i.Subject))
	tableRow(tw, "SCOPE", formatScopes(i.Scopes()))
	tableRow(tw, "ACCOUNT", orDash(i.AccountID))
	tableRow(tw, "PROJECT", formatKeyProject(i.ProjectID))
	tableRow(tw, "ENVIRONMENT", orDash(i.EnvironmentID))
	tableRow(tw, "USER", orDash(i.UserID))
	tableRow(tw, "ROLE", orDash(i.Role))
	tableRow(tw, "PERMISSIONS", formatScopes(i.Permissions))
	tableRow(tw, "ISSUED", formatAPITime(i.IssuedAt, "-"))
	tableRow(tw, "EXPIRES", formatAPITime(i.ExpiresAt, "-"))
	tableRow(tw, "ISSUER", orDash(i.Issuer))
	tableRow(tw, "TOKEN ID", orDash(i.TokenID))
	return tw.Flush()
}
