package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// UserAgent is the User-Agent of every webhook request.
const UserAgent = "Keyward-Webhooks/1"

// ExcerptSize bounds Result.Excerpt, the part of a response kept for the delivery log.
const ExcerptSize = 1 << 10

// maxRetryAfter bounds the Retry-After an endpoint may ask for, so that one answer cannot
// park a message past the whole schedule.
const maxRetryAfter = 24 * time.Hour

// ErrTimeout is what an attempt's error is (errors.Is) when the endpoint did not answer
// within Options.Timeout.
var ErrTimeout = errors.New("timeout")

// Outcome is what an attempt means for its message.
type Outcome int

// The outcomes. Retry is the zero Outcome, so that a Result nobody filled in never marks a
// message delivered or its endpoint gone.
const (
	// Retry: the attempt failed; try again at NextAttempt, if the schedule has a next one.
	Retry Outcome = iota
	// Delivered: the endpoint answered 2xx.
	Delivered
	// Gone: the endpoint answered 410 Gone, asking for no more webhooks; disable it.
	Gone
)

// String returns the outcome's name, as "retry".
func (o Outcome) String() string {
	switch o {
	case Retry:
		return "retry"
	case Delivered:
		return "delivered"
	case Gone:
		return "gone"
	}
	return "Outcome(" + strconv.Itoa(int(o)) + ")"
}

// Delivery is one message to send to one endpoint.
type Delivery struct {
	// URL is the endpoint's; Send checks it with CheckURL first.
	URL string
	// ID is the message's, the same on every attempt, so that the receiver can drop
	// duplicates. It must not be empty or contain ".", spaces or control characters.
	ID string
	// Timestamp is the attempt's time, signed and sent in webhook-timestamp; zero means now.
	Timestamp time.Time
	// Body is sent as it is, as JSON.
	Body []byte
	// Secrets sign the message; during a rotation, the new and the old.
	Secrets []Secret
}

// Result is what one attempt came to.
type Result struct {
	Outcome Outcome
	// StatusCode is the status the endpoint answered; 0 when it did not answer.
	StatusCode int
	// Duration is the attempt's time, from before the request to the end of reading the
	// response.
	Duration time.Duration
	// Err says why the attempt did not deliver, for the delivery log; nil when Delivered.
	// errors.Is finds ErrForbiddenAddress, ErrTimeout and ErrInvalidURL in it.
	Err error
	// Excerpt is the start of the response body, at most ExcerptSize bytes of valid UTF-8,
	// for the delivery log.
	Excerpt string
	// RetryAfter is how long the endpoint asked the sender to wait (a 429 or 503's
	// Retry-After header), at most a day; 0 when it did not ask. The deliverer retries no
	// earlier than this and no earlier than NextAttempt.
	RetryAfter time.Duration
}

// Sender makes delivery attempts. It is safe for concurrent use.
type Sender struct {
	client *http.Client
	opts   Options
}

// NewSender returns a Sender whose requests go through NewClient(opts).
func NewSender(opts Options) *Sender {
	return &Sender{client: NewClient(opts), opts: opts.withDefaults()}
}

// Send makes one attempt: it POSTs d.Body to d.URL as application/json, signed with the
// Standard Webhooks headers, reads at most Options.MaxResponseBody of the answer, and
// classifies it. 2xx is Delivered and 410 is Gone. Everything else is Retry: network errors,
// timeouts, 3xx (redirects are not followed, so the endpoint's URL must change), and every
// 4xx and 5xx. No 4xx is taken as permanent, as the spec and Svix do: a 401 or 404 is as
// often a receiver's passing mistake (a bad deploy, a rotated secret not yet installed) as a
// lasting one, and the schedule's three days leave time to fix it.
//
// A Delivery that cannot be sent as given (its URL breaks CheckURL, its ID is not
// well-formed, it has no secret) is Retry with an error saying so, and nothing is sent; one
// that is ErrInvalidURL will not go away by retrying.
func (s *Sender) Send(ctx context.Context, d Delivery) Result {
	start := time.Now()
	res := s.send(ctx, d)
	res.Duration = time.Since(start)
	return res
}

func (s *Sender) send(ctx context.Context, d Delivery) Result {
	if err := CheckURL(d.URL, s.opts); err != nil {
		return Result{Err: err}
	}
	if err := checkID(d.ID); err != nil {
		return Result{Err: err}
	}
	if !anySecret(d.Secrets) {
		return Result{Err: ErrNoSecret}
	}
	ts := d.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return Result{Err: fmt.Errorf("webhook: request: %w", err)}
	}
	req.Header = Headers(d.ID, ts, d.Body, d.Secrets...)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)

	resp, err := s.client.Do(req)
	if err != nil {
		return Result{Err: s.attemptError(ctx, err)}
	}
	defer resp.Body.Close()
	// Read only the bound; closing the body then drops the connection instead of draining
	// whatever the endpoint still sends. A failure to read is no failure to deliver: the
	// status has arrived.
	body, _ := io.ReadAll(io.LimitReader(resp.Body, s.opts.MaxResponseBody))
	res := Result{StatusCode: resp.StatusCode, Excerpt: excerpt(body)}
	code := resp.StatusCode
	switch {
	case code >= 200 && code <= 299:
		res.Outcome = Delivered
	case code == http.StatusGone:
		res.Outcome = Gone
		res.Err = errors.New("the endpoint answered 410 Gone: it asks for no more webhooks")
	case code >= 300 && code <= 399:
		res.Err = fmt.Errorf("the endpoint answered %d %s, redirecting to %.200q: redirects are not followed; change the endpoint's URL",
			code, http.StatusText(code), resp.Header.Get("Location"))
	default:
		res.Err = fmt.Errorf("the endpoint answered %d %s", code, http.StatusText(code))
		res.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return res
}

// attemptError says why a request got no answer. The URL is the endpoint's, known to the
// log already, so it is dropped; a refusal and a timeout are said plainly.
func (s *Sender) attemptError(ctx context.Context, err error) error {
	var refused *forbiddenError
	if errors.As(err, &refused) {
		return refused
	}
	if ctx.Err() != nil {
		return fmt.Errorf("webhook: the attempt was cancelled: %w", context.Cause(ctx))
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: no answer within %v", ErrTimeout, s.opts.Timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// checkID refuses a message ID that would make the signed content ambiguous (a ".") or
// could not travel in a header.
func checkID(id string) error {
	if id == "" {
		return errors.New("webhook: the message has no ID")
	}
	for _, c := range id {
		if c == '.' || c <= ' ' || c >= 0x7f {
			return fmt.Errorf("webhook: message ID %.64q may hold no '.', space, control or non-ASCII character", id)
		}
	}
	return nil
}

// excerpt is the start of a response body for the log: at most ExcerptSize bytes, cut
// within a character at worst, which ToValidUTF8 then drops.
func excerpt(body []byte) string {
	if len(body) > ExcerptSize {
		body = body[:ExcerptSize]
	}
	return strings.ToValidUTF8(string(body), "")
}

// retryAfter reads a Retry-After header, seconds or an HTTP date, bounded by maxRetryAfter;
// 0 when absent or unreadable.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseUint(v, 10, 32); err == nil {
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
	}
	return max(0, min(d, maxRetryAfter))
}
