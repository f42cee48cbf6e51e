package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	// DefaultTimeout bounds every request made with the default HTTP client, so a stalled
	// server cannot hang a caller forever.
	DefaultTimeout = 30 * time.Second

	// DefaultUserAgent is sent when no WithUserAgent option is given.
	DefaultUserAgent = "keyward-go-client"

	// maxResponseBytes bounds how much of a response body the client reads, so a broken or
	// hostile server cannot exhaust its memory.
	maxResponseBytes = 10 << 20
)

// Client calls one Keyward server. It is safe for concurrent use; create one and reuse it.
type Client struct {
	base       string // scheme://host[/path], no trailing slash
	baseErr    error  // a bad base URL is reported by every call rather than by New
	token      string
	httpClient *http.Client
	userAgent  string

	// localCacheSize bounds the verdicts kept for middlewares with LocalVerify.
	localCacheSize int
	// local is what those middlewares share, started by the first of them; closed says
	// Close has run, and no more is started.
	localMu sync.Mutex
	local   *localVerifier
	closed  bool
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the Client send its requests with hc instead of a default client with
// a DefaultTimeout timeout. Use it for custom transports, proxies or timeouts.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.httpClient = hc
		}
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option {
	return func(c *Client) {
		if ua != "" {
			c.userAgent = ua
		}
	}
}

// New returns a Client for the Keyward server at baseURL (for example
// "https://keyward.example.com", optionally with a path prefix) that authenticates with the
// admin key token. token may be empty for a Client that only verifies keys. An invalid
// baseURL is reported by every method call.
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{
		token:          token,
		httpClient:     &http.Client{Timeout: DefaultTimeout},
		userAgent:      DefaultUserAgent,
		localCacheSize: DefaultLocalCacheSize,
	}
	c.base, c.baseErr = parseBaseURL(baseURL)
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// Close stops what the Client's middlewares with LocalVerify run in the background (the
// event stream and the usage reports) and sends their last report of uses, within ctx. The
// middlewares keep working afterwards, asking Keyward about every request. Close may be
// called more than once, and on a Client that started nothing.
func (c *Client) Close(ctx context.Context) error {
	c.localMu.Lock()
	l := c.local
	c.local, c.closed = nil, true
	c.localMu.Unlock()
	if l == nil {
		return nil
	}
	return l.close(ctx)
}

// localVerifier is what the Client's middlewares with LocalVerify share, started by the
// first; nil after Close.
func (c *Client) localVerifier() *localVerifier {
	c.localMu.Lock()
	defer c.localMu.Unlock()
	if c.closed {
		return nil
	}
	if c.local == nil {
		c.local = newLocalVerifier(c, c.localCacheSize)
		c.local.start()
	}
	return c.local
}

// String describes the Client without its token, so that printing one never leaks it.
func (c *Client) String() string { return "client.Client(" + c.base + ")" }

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

func parseBaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", fmt.Errorf("keyward: invalid base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("keyward: invalid base URL %q: want http(s)://host[:port][/path]", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("keyward: invalid base URL: it may not carry credentials, a query or a fragment")
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// pathID escapes one caller-given ID as a path segment. An empty ID or a dot segment would
// address a different route, so they are refused before any request is made.
func pathID(what, id string) (string, error) {
	if id == "" || id == "." || id == ".." {
		return "", fmt.Errorf("keyward: invalid %s %q", what, id)
	}
	return url.PathEscape(id), nil
}

// request describes one API call.
type request struct {
	method string
	path   string // already escaped, starting with "/v1/"
	query  url.Values
	body   any // encoded as JSON when non-nil
	auth   bool
}

// do sends req and decodes a successful JSON answer into out (when non-nil). A non-2xx answer
// becomes an *Error. It returns the response headers, which carry pagination cursors.
func (c *Client) do(ctx context.Context, req request, out any) (http.Header, error) {
	if c.baseErr != nil {
		return nil, c.baseErr
	}
	target := c.base + req.path
	if len(req.query) > 0 {
		target += "?" + req.query.Encode()
	}
	var body io.Reader
	if req.body != nil {
		b, err := json.Marshal(req.body)
		if err != nil {
			return nil, fmt.Errorf("keyward: encoding %s %s request: %w", req.method, req.path, err)
		}
		body = bytes.NewReader(b)
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("keyward: %s %s: %w", req.method, req.path, err)
	}
	hreq.Header.Set("Accept", "application/json, application/problem+json")
	hreq.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	if req.auth && c.token != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.token)
	}

	resp, err := c.httpClient.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("keyward: %s %s: %w", req.method, req.path, err)
	}
	defer resp.Body.Close()

	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("keyward: %s %s: reading response: %w", req.method, req.path, err)
	}
	if len(data) > maxResponseBytes {
		return nil, fmt.Errorf("keyward: %s %s: response body exceeds %d bytes", req.method, req.path, maxResponseBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeError(resp, data)
	}
	if out != nil && resp.StatusCode != http.StatusNoContent {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("keyward: %s %s: decoding response: %w", req.method, req.path, err)
		}
	}
	return resp.Header, nil
}
