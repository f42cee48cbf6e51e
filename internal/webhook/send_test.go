package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/keyward/keyward/internal/webhook"
)

// devOptions reach the test servers: plain http on 127.0.0.1, with a short timeout so that a
// failing test fails fast.
var devOptions = webhook.Options{AllowPrivate: true, AllowHTTP: true, Timeout: 2 * time.Second}

// delivery is a well-formed delivery to url.
func delivery(t *testing.T, url string) webhook.Delivery {
	t.Helper()
	return webhook.Delivery{
		URL:       url,
		ID:        "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
		Timestamp: time.Now(),
		Body:      []byte(`{"type":"api_key.created","data":{"id":"key_1"}}`),
		Secrets:   []webhook.Secret{newSecret(t)},
	}
}

func TestSendOutcomes(t *testing.T) {
	retryAt := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("retry-after"); v != "" {
			w.Header().Set("Retry-After", v)
		}
		code, _ := strconv.Atoi(r.URL.Query().Get("status"))
		w.WriteHeader(code)
		io.WriteString(w, r.URL.Query().Get("say"))
	}))
	sender := webhook.NewSender(devOptions)
	tests := []struct {
		name           string
		query          string
		want           webhook.Outcome
		wantErr        string // "" for no error
		wantExcerpt    string
		wantRetryAfter time.Duration
	}{
		{name: "204", query: "status=204", want: webhook.Delivered},
		{name: "200 with a body", query: "status=200&say=thanks", want: webhook.Delivered, wantExcerpt: "thanks"},
		{name: "410", query: "status=410", want: webhook.Gone, wantErr: "the endpoint answered 410 Gone: it asks for no more webhooks"},
		{name: "500", query: "status=500&say=boom", want: webhook.Retry, wantErr: "the endpoint answered 500 Internal Server Error", wantExcerpt: "boom"},
		{name: "404", query: "status=404", want: webhook.Retry, wantErr: "the endpoint answered 404 Not Found"},
		{name: "400", query: "status=400", want: webhook.Retry, wantErr: "the endpoint answered 400 Bad Request"},
		{name: "401", query: "status=401", want: webhook.Retry, wantErr: "the endpoint answered 401 Unauthorized"},
		{name: "408", query: "status=408", want: webhook.Retry, wantErr: "the endpoint answered 408 Request Timeout"},
		{name: "304", query: "status=304", want: webhook.Retry, wantErr: "the endpoint answered 304 Not Modified"},
		{name: "429 with Retry-After seconds", query: "status=429&retry-after=120", want: webhook.Retry, wantErr: "429 Too Many Requests", wantRetryAfter: 2 * time.Minute},
		{name: "429 asking too much", query: "status=429&retry-after=999999", want: webhook.Retry, wantErr: "429 Too Many Requests", wantRetryAfter: 24 * time.Hour},
		{name: "503 with Retry-After date", query: "status=503&retry-after=" + strings.ReplaceAll(retryAt, " ", "+"), want: webhook.Retry, wantErr: "503 Service Unavailable", wantRetryAfter: time.Hour},
		{name: "503 with unreadable Retry-After", query: "status=503&retry-after=soon", want: webhook.Retry, wantErr: "503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sender.Send(context.Background(), delivery(t, srv.URL+"/hook?"+tt.query))
			if res.Outcome != tt.want {
				t.Errorf("got outcome %v, want %v (error %v)", res.Outcome, tt.want, res.Err)
			}
			if wantCode, _ := strconv.Atoi(strings.Split(strings.TrimPrefix(tt.query, "status="), "&")[0]); res.StatusCode != wantCode {
				t.Errorf("got status %d, want %d", res.StatusCode, wantCode)
			}
			if tt.wantErr == "" && res.Err != nil || tt.wantErr != "" && (res.Err == nil || !strings.Contains(res.Err.Error(), tt.wantErr)) {
				t.Errorf("got error %v, want %q", res.Err, tt.wantErr)
			}
			if res.Excerpt != tt.wantExcerpt {
				t.Errorf("got excerpt %q, want %q", res.Excerpt, tt.wantExcerpt)
			}
			// A date has whole seconds, and a second may pass between writing and reading it.
			if d := res.RetryAfter - tt.wantRetryAfter; d > 0 || d < -2*time.Second {
				t.Errorf("got RetryAfter %v, want %v", res.RetryAfter, tt.wantRetryAfter)
			}
			if res.Duration <= 0 || res.Duration > 2*time.Second {
				t.Errorf("got duration %v, want some, under 2s", res.Duration)
			}
		})
	}
}

// received is what a test endpoint saw of a request.
type received struct {
	method string
	header http.Header
	body   []byte
}

// TestSendSignsRequest: the request is a signed JSON POST that the receiver verifies, with
// our Verify and with the official library, whichever secret of a rotation it knows.
func TestSendSignsRequest(t *testing.T) {
	got := make(chan received, 1)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{method: r.Method, header: r.Header.Clone(), body: body}
		w.WriteHeader(http.StatusNoContent)
	}))
	oldSecret, newSecret := newSecret(t), newSecret(t)
	d := delivery(t, srv.URL)
	d.Secrets = []webhook.Secret{newSecret, oldSecret}

	res := webhook.NewSender(devOptions).Send(context.Background(), d)
	if res.Outcome != webhook.Delivered || res.Err != nil {
		t.Fatalf("got %v, %v; want delivered", res.Outcome, res.Err)
	}
	r := <-got
	if r.method != http.MethodPost {
		t.Errorf("got method %s, want POST", r.method)
	}
	for name, want := range map[string]string{
		"Content-Type":      "application/json",
		"User-Agent":        "Keyward-Webhooks/1",
		"webhook-id":        d.ID,
		"webhook-timestamp": strconv.FormatInt(d.Timestamp.Unix(), 10),
		"webhook-signature": webhook.Sign(d.ID, d.Timestamp, d.Body, newSecret, oldSecret),
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("header %s: got %q, want %q", name, got, want)
		}
	}
	if diff := cmp.Diff(d.Body, r.body); diff != "" {
		t.Errorf("body (-sent +received):\n%s", diff)
	}
	for _, s := range []webhook.Secret{newSecret, oldSecret} {
		if err := webhook.Verify(r.header, r.body, 0, time.Now(), s); err != nil {
			t.Errorf("Verify with %v: %v", s, err)
		}
		if err := officialWebhook(t, s).Verify(r.body, r.header); err != nil {
			t.Errorf("official Verify with %v: %v", s, err)
		}
	}
	// A receiver that knows neither secret refuses.
	if err := standardwebhooksVerify(t, r); err == nil {
		t.Errorf("official Verify with another secret got nil, want an error")
	}
}

// standardwebhooksVerify verifies r with the official library and a secret nobody signed with.
func standardwebhooksVerify(t *testing.T, r received) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(newSecret(t).Reveal())
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(r.body, r.header)
}

// TestSendDoesNotFollowRedirects: a redirect is a failure to retry, and the server it points
// to never sees the signed body.
func TestSendDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int64
	target := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
	}))
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/moved", http.StatusFound)
	}))
	res := webhook.NewSender(devOptions).Send(context.Background(), delivery(t, srv.URL))
	if res.Outcome != webhook.Retry || res.StatusCode != http.StatusFound {
		t.Errorf("got %v with status %d, want retry with 302", res.Outcome, res.StatusCode)
	}
	if res.Err == nil || !strings.Contains(res.Err.Error(), "redirects are not followed") || !strings.Contains(res.Err.Error(), target.URL+"/moved") {
		t.Errorf("got error %v, want one naming the redirect and its target", res.Err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect's target got %d requests, want 0", n)
	}
	if n := target.conns.Load(); n != 0 {
		t.Errorf("the redirect's target got %d connections, want 0", n)
	}
}

// TestSendBoundsResponseBody: an endpoint that answers with 10 MiB, and then holds the
// response open, has only the bound read: the attempt ends at once instead of reading on
// until the timeout.
func TestSendBoundsResponseBody(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so that the server sees the client go
		chunk := []byte(strings.Repeat("x", 64<<10))
		for range (10 << 20) / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return // the client has gone
			}
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	opts := devOptions
	opts.MaxResponseBody = 4 << 10
	start := time.Now()
	res := webhook.NewSender(opts).Send(context.Background(), delivery(t, srv.URL))
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("the attempt took %v, want well under a second", elapsed)
	}
	if res.Outcome != webhook.Delivered || res.StatusCode != http.StatusOK {
		t.Errorf("got %v with status %d (%v), want delivered with 200", res.Outcome, res.StatusCode, res.Err)
	}
	if len(res.Excerpt) != webhook.ExcerptSize {
		t.Errorf("got an excerpt of %d bytes, want %d", len(res.Excerpt), webhook.ExcerptSize)
	}
}

// TestSendTimeout: an endpoint slower than the timeout is a retry with a timeout error, in
// about the timeout.
func TestSendTimeout(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server watch the connection, and so see the client go.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	opts := devOptions
	opts.Timeout = 200 * time.Millisecond
	start := time.Now()
	res := webhook.NewSender(opts).Send(context.Background(), delivery(t, srv.URL))
	elapsed := time.Since(start)
	if res.Outcome != webhook.Retry || res.StatusCode != 0 {
		t.Errorf("got %v with status %d, want retry with no status", res.Outcome, res.StatusCode)
	}
	if !errors.Is(res.Err, webhook.ErrTimeout) {
		t.Errorf("got error %v, want one that is ErrTimeout", res.Err)
	}
	if want := "timeout: no answer within 200ms"; res.Err == nil || res.Err.Error() != want {
		t.Errorf("got error %v, want %q", res.Err, want)
	}
	if elapsed < 200*time.Millisecond || elapsed > 2*time.Second {
		t.Errorf("the attempt took %v, want about 200ms", elapsed)
	}
}

// TestSendOverTLS: with the defaults (https only, a public address aside) a delivery goes over
// TLS to an endpoint whose certificate the sender trusts.
func TestSendOverTLS(t *testing.T) {
	srv := newTLSServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Errorf("the request came without TLS")
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	opts := webhook.Options{AllowPrivate: true, Timeout: 2 * time.Second, RootCAs: srv.rootCAs()}
	res := webhook.NewSender(opts).Send(context.Background(), delivery(t, srv.URL))
	if res.Outcome != webhook.Delivered || res.StatusCode != http.StatusAccepted {
		t.Fatalf("got %v with status %d (%v), want delivered with 202", res.Outcome, res.StatusCode, res.Err)
	}
	// The same endpoint over plain http is refused before anything is sent.
	res = webhook.NewSender(opts).Send(context.Background(), delivery(t, strings.Replace(srv.URL, "https:", "http:", 1)))
	if !errors.Is(res.Err, webhook.ErrInvalidURL) || !strings.Contains(res.Err.Error(), "must use https") {
		t.Fatalf("http: got error %v, want one that says https is required", res.Err)
	}
}

// TestSendRefusesBeforeSending: a delivery that breaks the rules is a retry with an error
// that says why, and the endpoint sees no connection.
func TestSendRefusesBeforeSending(t *testing.T) {
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the server got a request")
	}))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name     string
		opts     webhook.Options
		ctx      context.Context
		change   func(*webhook.Delivery)
		wantErr  string
		wantIsTo error
	}{
		{
			name:    "loopback without AllowPrivate",
			opts:    webhook.Options{AllowHTTP: true},
			wantErr: "invalid webhook URL: refused: 127.0.0.1 is a loopback address", wantIsTo: webhook.ErrForbiddenAddress,
		},
		{
			name:    "http without AllowHTTP",
			opts:    webhook.Options{AllowPrivate: true},
			wantErr: "it must use https, not http", wantIsTo: webhook.ErrInvalidURL,
		},
		{
			name: "ID with a dot", opts: devOptions,
			change:  func(d *webhook.Delivery) { d.ID = "msg.1" },
			wantErr: `message ID "msg.1" may hold no '.'`,
		},
		{
			name: "ID with a line break", opts: devOptions,
			change:  func(d *webhook.Delivery) { d.ID = "msg_1\r\nX-Evil: 1" },
			wantErr: "may hold no '.', space, control",
		},
		{
			name: "no ID", opts: devOptions,
			change:  func(d *webhook.Delivery) { d.ID = "" },
			wantErr: "the message has no ID",
		},
		{
			name: "no secret", opts: devOptions,
			change:  func(d *webhook.Delivery) { d.Secrets = []webhook.Secret{{}} },
			wantErr: "no secret", wantIsTo: webhook.ErrNoSecret,
		},
		{
			name: "cancelled", opts: devOptions, ctx: cancelled,
			wantErr: "the attempt was cancelled: context canceled", wantIsTo: context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := delivery(t, srv.URL)
			if tt.change != nil {
				tt.change(&d)
			}
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			res := webhook.NewSender(tt.opts).Send(ctx, d)
			if res.Outcome != webhook.Retry || res.StatusCode != 0 {
				t.Errorf("got %v with status %d, want retry with no status", res.Outcome, res.StatusCode)
			}
			if res.Err == nil || !strings.Contains(res.Err.Error(), tt.wantErr) {
				t.Errorf("got error %v, want %q", res.Err, tt.wantErr)
			}
			if tt.wantIsTo != nil && !errors.Is(res.Err, tt.wantIsTo) {
				t.Errorf("got error %v, want one that is %v", res.Err, tt.wantIsTo)
			}
		})
	}
	if n := srv.conns.Load(); n != 0 {
		t.Errorf("the server accepted %d connections, want 0", n)
	}
}

func TestOutcomeString(t *testing.T) {
	for o, want := range map[webhook.Outcome]string{webhook.Retry: "retry", webhook.Delivered: "delivered", webhook.Gone: "gone", 7: "Outcome(7)"} {
		if got := o.String(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}
