package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyward/keyward/internal/config"
)

// newHealthcheckCmd is `keyward healthcheck`: GET /readyz, exit 0 when it answers 200 and 1
// otherwise. It lets a container image without a shell or curl (distroless, scratch) declare
// a HEALTHCHECK, and a unit or a script ask the same question the load balancer asks.
func newHealthcheckCmd() *cobra.Command {
	var url string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Exit 0 if the local server is ready (GET /readyz answers 200), 1 if not",
		Long: `GET the server's /readyz and exit 0 if it answers 200, 1 otherwise (not listening, not
ready, or no answer within --timeout). Without --url it asks the server this environment
configures: KEYWARD_ADDR (default 127.0.0.1:8080), on 127.0.0.1 when it listens on every
address, over https when KEYWARD_TLS_CERT is set. It is a container's HEALTHCHECK.`,
		Example: `  keyward healthcheck
  keyward healthcheck --url http://127.0.0.1:9090/readyz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if url == "" {
				cfg := config.Default()
				cfg.FromEnv(os.Getenv) // a bad variable elsewhere is serve's to report
				url = readyURL(cfg.Addr, cfg.TLSCert != "")
			}
			client := &http.Client{Timeout: timeout}
			res, err := client.Get(url)
			if err != nil {
				return fmt.Errorf("not healthy: %w", err)
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
			if res.StatusCode != http.StatusOK {
				return fmt.Errorf("not ready: GET %s = %d %s", url, res.StatusCode, strings.TrimSpace(string(body)))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ready: GET %s = %d %s\n", url, res.StatusCode, strings.TrimSpace(string(body)))
			return nil
		},
	}
	cmd.Flags().StringVar(&url, "url", "", "readiness URL (default: /readyz of KEYWARD_ADDR)")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	return cmd
}

// readyURL is the /readyz URL of a server listening on addr: a wildcard host is asked on
// loopback, where a server listening everywhere also listens.
func readyURL(addr string, tls bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = "127.0.0.1", "8080"
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/readyz"
}
