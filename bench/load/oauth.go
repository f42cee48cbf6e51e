package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"github.com/keyward/keyward/client"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// benchOAuth compares Keyward's token endpoint and its introspection endpoint with the bare
// server, as the verify rounds do: the same form bodies to both, alternating rounds.
//
// Token issuance: each request is a client-credentials grant for one of the keys, the key's
// id and secret in the body (client_secret_post). Introspection: first one token per key is
// issued, then each request asks about one of them, authenticated as a resource server
// would be, as one OAuth client by HTTP Basic: a key of its own whose rate limit is its own
// and high, as a resource server's would be (on the standard tier, 30 introspections a
// second would be all it got).
func benchOAuth(ctx context.Context, o options, rep *report, baseURL, token string, keys []seededKey, bare *target,
	compare func(*comparison, *target, [][]byte) error, progress io.Writer) error {
	base := strings.TrimSuffix(baseURL, "/")
	const form = "application/x-www-form-urlencoded"

	grants := make([][]byte, len(keys))
	for i, k := range keys {
		grants[i] = []byte(url.Values{"grant_type": {"client_credentials"}, "client_id": {k.id}, "client_secret": {k.secret}}.Encode())
	}
	issue := newTarget("keyward", base+"/oauth/token", true, o.conc, o.reqTimeout).
		posting(form, "", "an access token", `"access_token"`)
	defer issue.close()
	tokenCmp := &comparison{Endpoint: "POST /oauth/token"}
	rep.OAuth = append(rep.OAuth, tokenCmp)
	if err := compare(tokenCmp, issue, grants); err != nil {
		return err
	}

	fmt.Fprintf(progress, "issuing %d tokens to introspect …\n", len(keys))
	introspections := make([][]byte, len(keys))
	for i, g := range grants {
		at, err := issueToken(ctx, issue.client, issue.url, g)
		if err != nil {
			return fmt.Errorf("issuing a token for introspection: %w", err)
		}
		introspections[i] = []byte(url.Values{"token": {at}}.Encode())
	}
	rs, err := client.New(baseURL, token).CreateKey(ctx, client.CreateKeyParams{Name: "bench-resource-server",
		RateLimit: &client.RateLimit{Rate: 1_000_000, Burst: 1_000_000}})
	if err != nil {
		return fmt.Errorf("creating the resource server's key: %w", err)
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(rs.ID)+":"+url.QueryEscape(rs.Secret)))
	introspect := newTarget("keyward", base+"/oauth/introspect", true, o.conc, o.reqTimeout).
		posting(form, basic, "an active token", `"active":true`)
	defer introspect.close()
	introCmp := &comparison{Endpoint: "POST /oauth/introspect"}
	rep.OAuth = append(rep.OAuth, introCmp)
	return compare(introCmp, introspect, introspections)
}

// issueToken makes one client-credentials grant and returns the access token.
func issueToken(ctx context.Context, c *http.Client, tokenURL string, grant []byte) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(string(grant)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&out); err != nil {
		return "", fmt.Errorf("status %d, body not JSON: %w", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK || out.AccessToken == "" {
		return "", fmt.Errorf("status %d, error %q", resp.StatusCode, out.Error)
	}
	return out.AccessToken, nil
}
