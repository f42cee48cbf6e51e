package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/verify"
)

// A key is an OAuth client: its id is the client_id and the key itself the client_secret.
// Clients authenticates such clients through the one verdict on credentials, and slows down
// guessing: after too many failures in a window, a client_id at an address, or an address,
// is refused without its secret being judged. Keys are high-entropy, so the limit is not what makes
// guessing hopeless; it keeps a guesser from using the endpoint as a fast oracle and from
// burning the node's CPU and the store's reads.
//
// A limit alone would hand the guesser a weapon: a key's id is no secret (every token carries
// it), and behind one proxy every client shares an address, so failing on a key's behalf
// would lock its real client out, or every client behind the proxy. So a client that
// authenticated recently is remembered by a digest of its secret, and a blocked request
// whose secret matches that digest is judged anyway: the limits stop those who do not hold
// the secret, never its owner. Matching costs one SHA-256 and a map read, not a store read,
// so a blocked guesser still burns nothing.

// Failure limits of client authentication.
const (
	clientFailureLimit  = 10
	addressFailureLimit = 50
	failureWindow       = time.Minute
	failureNames        = 10_000
	// A client's proof is remembered for provenFor after it last authenticated, for up to
	// provenClients clients (32 bytes and an id each: about 10 MB at most).
	provenFor     = 24 * time.Hour
	provenClients = 100_000
)

// Verdicts gives the one verdict on a credential; *verify.Verifier is one.
type Verdicts interface {
	Check(ctx context.Context, secret string, req verify.Requirements) (verify.Result, error)
}

// Clients authenticates OAuth clients. It is safe for concurrent use.
type Clients struct {
	verdicts                        Verdicts
	clientFailures, addressFailures *Limiter
	proven                          *provenSecrets
}

// NewClients returns a Clients judging secrets with verdicts; now may be nil for time.Now.
func NewClients(verdicts Verdicts, now func() time.Time) *Clients {
	return &Clients{
		verdicts:        verdicts,
		clientFailures:  NewLimiter(clientFailureLimit, failureWindow, failureNames, now),
		addressFailures: NewLimiter(addressFailureLimit, failureWindow, failureNames, now),
		proven:          newProvenSecrets(provenFor, provenClients, now),
	}
}

// Client is a key that authenticated as an OAuth client.
type Client struct {
	Key      *keyward.Key
	Identity *keyward.Identity
}

// ClientError is a refusal in RFC 6749 §5.2's terms. Code says what it is in the domain's,
// which the transport maps to a status: EUnauthenticated (invalid_client, 401), EInvalid
// (invalid_request, invalid_scope, unauthorized_client: 400), ERateLimited (429, with
// RetryAfter when known) and EUnavailable (503).
type ClientError struct {
	Code        keyward.Code
	OAuthCode   string
	Description string
	RetryAfter  time.Duration
}

func (e *ClientError) Error() string { return e.OAuthCode + ": " + e.Description }

// ClientAuthFailed is the seed's own wording for a client that did not authenticate.
const ClientAuthFailed = "Client authentication failed"

// InvalidClient is the refusal of a client that did not authenticate.
func InvalidClient(desc string) *ClientError {
	return &ClientError{Code: keyward.EUnauthenticated, OAuthCode: "invalid_client", Description: desc}
}

// InvalidRequest is the refusal of a malformed request.
func InvalidRequest(desc string) *ClientError {
	return &ClientError{Code: keyward.EInvalid, OAuthCode: "invalid_request", Description: desc}
}

// Authenticate checks the credentials a client presented from addr (the caller's IP address,
// for the failure limits and the key's networks):
// its secret must be a live key, judged by the one verdict, whose id is id. The refusal is a
// *ClientError.
func (c *Clients) Authenticate(ctx context.Context, id, secret, addr string) (*Client, *ClientError) {
	if id == "" || secret == "" {
		return nil, InvalidClient(ClientAuthFailed)
	}
	// Failures are counted per client_id at an address, and per address whatever the
	// client_id (higher, because clients behind one proxy share it): counted per client_id
	// alone, a guesser anywhere would block the id everywhere, on every node, including those
	// where its client has not proved its secret yet. Past either limit only a secret this
	// client proved before is judged.
	clientAt := id + " " + addr
	digest := sha256.Sum256([]byte(secret))
	for _, name := range []struct {
		l *Limiter
		n string
	}{{c.clientFailures, clientAt}, {c.addressFailures, addr}} {
		if wait, blocked := name.l.Blocked(name.n); blocked && !c.proven.matches(id, digest) {
			return nil, &ClientError{Code: keyward.ERateLimited, OAuthCode: "temporarily_unavailable",
				Description: "too many failed client authentications; retry later", RetryAfter: wait}
		}
	}
	ip, _ := netip.ParseAddr(addr)
	res, err := c.verdicts.Check(ctx, secret, verify.Requirements{KeyOnly: true, ClientIP: ip})
	if err != nil {
		return nil, &ClientError{Code: keyward.EUnavailable, OAuthCode: "temporarily_unavailable", Description: "the client could not be checked; retry"}
	}
	// The id is compared in constant time, as the secret's hash was: a mismatch must not
	// tell how much of a guessed id was right.
	limited := res.Code == keyward.VerifyRateLimited || res.Code == keyward.VerifyUsageExceeded
	if res.Key == nil || subtle.ConstantTimeCompare([]byte(res.Key.ID), []byte(id)) != 1 ||
		(!res.Valid && res.Code != keyward.VerifyDisabled && res.Code != keyward.VerifyForbidden && !limited) {
		c.clientFailures.Fail(clientAt)
		c.addressFailures.Fail(addr)
		c.proven.forget(id, digest)
		return nil, InvalidClient(ClientAuthFailed)
	}
	// The secret is the client's: whatever the verdict says next (a limit, a network), it
	// proved it holds it.
	c.proven.remember(id, digest)
	// The right key, over its rate limit or out of credits: no failed authentication, but
	// no token either, until the limit allows.
	if limited {
		f := &ClientError{Code: keyward.ERateLimited, OAuthCode: "temporarily_unavailable", Description: "the client's key is over its rate limit; retry later"}
		if res.Code == keyward.VerifyUsageExceeded {
			f.Description = "the client's key has spent its usage credits"
		} else if res.Limited {
			f.RetryAfter = max(res.RateLimit.RetryAfter, time.Second)
		}
		return nil, f
	}
	switch {
	case res.Code == keyward.VerifyForbidden:
		return nil, &ClientError{Code: keyward.EInvalid, OAuthCode: "unauthorized_client", Description: "the key may not be used from this network"}
	case !res.Valid:
		return nil, &ClientError{Code: keyward.EInvalid, OAuthCode: "unauthorized_client", Description: "the key's user is disabled"}
	}
	return &Client{Key: res.Key, Identity: res.Identity}, nil
}

// GrantScopes is the scope a token for k gets: the key's when none is asked for, else the
// ones asked (space-separated), each of which the key must hold.
func GrantScopes(k *keyward.Key, requested string) ([]string, *ClientError) {
	asked := strings.Fields(requested)
	if len(asked) == 0 {
		return slices.Clone(k.Scopes), nil
	}
	var out []string
	for _, sc := range asked {
		if !slices.Contains(k.Scopes, sc) {
			return nil, &ClientError{Code: keyward.EInvalid, OAuthCode: "invalid_scope", Description: "the scope " + strconv.Quote(sc) + " is not among the key's scopes"}
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}
