package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers, as the spec spells them. http.Header writes them in
// canonical case (Webhook-Id); header names are case-insensitive, so receivers read either.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far a message's timestamp may be from the receiver's clock, either
// way, when Verify is given no tolerance: the spec's and the official libraries' five
// minutes.
const DefaultTolerance = 5 * time.Minute

// signatureVersion marks an HMAC-SHA256 signature; asymmetric ones ("v1a") are not made
// here, and Verify passes over them.
const signatureVersion = "v1"

// The errors Verify returns, wrapped with what was wrong.
var (
	ErrMissingHeader       = errors.New("webhook: missing signature header")
	ErrMalformedHeader     = errors.New("webhook: malformed signature header")
	ErrTimestamp           = errors.New("webhook: timestamp outside the tolerance")
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
	ErrNoSecret            = errors.New("webhook: no secret to sign or verify with")
)

// Sign returns the value of the webhook-signature header for a message: for each secret, in
// order, "v1," and the standard base64 of HMAC-SHA256(key, id + "." + unix seconds + "." +
// body), separated by spaces. During a rotation pass both the new and the old secret, so
// that a receiver that knows either accepts the message. Zero secrets are skipped; with none
// left the result is "".
//
// The id must not contain "." (the spec's rule, so that id and timestamp cannot be shifted
// into each other); Sender.Send checks that.
func Sign(id string, ts time.Time, body []byte, secrets ...Secret) string {
	unix := strconv.FormatInt(ts.Unix(), 10)
	var b strings.Builder
	for _, s := range secrets {
		if s.IsZero() {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(signatureVersion + ",")
		b.WriteString(base64.StdEncoding.EncodeToString(s.mac(id, unix, body)))
	}
	return b.String()
}

// Headers returns the three Standard Webhooks headers for a message, signed with secrets as
// Sign does.
func Headers(id string, ts time.Time, body []byte, secrets ...Secret) http.Header {
	h := make(http.Header, 3)
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, Sign(id, ts, body, secrets...))
	return h
}

// mac is the HMAC-SHA256 of the signed content, written piece by piece rather than
// concatenated so that a large body is not copied.
func (s Secret) mac(id, unix string, body []byte) []byte {
	h := hmac.New(sha256.New, *s.key)
	_, _ = io.WriteString(h, id)
	_, _ = io.WriteString(h, ".")
	_, _ = io.WriteString(h, unix)
	_, _ = io.WriteString(h, ".")
	_, _ = h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received message as a Standard Webhooks receiver does: the three headers
// are present, the timestamp is within tolerance of now (either way; zero or less means
// DefaultTolerance), and one of the header's v1 signatures is the message's signature under
// one of the secrets, compared in constant time. Entries of other versions, and entries that
// cannot be read, are passed over as the official libraries do; a header with no readable v1
// entry at all is malformed.
//
// It returns nil, or an error that wraps ErrNoSecret, ErrMissingHeader, ErrMalformedHeader,
// ErrTimestamp or ErrNoMatchingSignature.
func Verify(header http.Header, body []byte, tolerance time.Duration, now time.Time, secrets ...Secret) error {
	if !anySecret(secrets) {
		return ErrNoSecret
	}
	id, tsText, signatures := header.Get(HeaderID), header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	for _, name := range []string{HeaderID, HeaderTimestamp, HeaderSignature} {
		if header.Get(name) == "" {
			return fmt.Errorf("%w: %s", ErrMissingHeader, name)
		}
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s %.32q is not a number of Unix seconds", ErrMalformedHeader, HeaderTimestamp, tsText)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts := time.Unix(unix, 0)
	if age := now.Sub(ts); age > tolerance {
		return fmt.Errorf("%w: the message is %v old, more than %v", ErrTimestamp, age.Truncate(time.Second), tolerance)
	} else if -age > tolerance {
		return fmt.Errorf("%w: the message is %v in the future, more than %v", ErrTimestamp, (-age).Truncate(time.Second), tolerance)
	}

	// The signed content uses the number as Sign writes it, as the official libraries do, so
	// that a timestamp written with a leading zero or a plus sign signs the same.
	unixText := strconv.FormatInt(unix, 10)
	var macs [][]byte
	for _, s := range secrets {
		if !s.IsZero() {
			macs = append(macs, s.mac(id, unixText, body))
		}
	}
	readable := false
	for _, entry := range strings.Split(signatures, " ") {
		version, encoded, ok := strings.Cut(entry, ",")
		if !ok || version != signatureVersion {
			continue
		}
		// Strict, so that only the one spelling Sign writes matches, as the official
		// libraries' comparison of the encoded text does.
		got, err := base64.StdEncoding.Strict().DecodeString(encoded)
		if err != nil || len(got) != sha256.Size {
			continue
		}
		readable = true
		for _, want := range macs {
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	if !readable {
		return fmt.Errorf("%w: %s has no v1 signature", ErrMalformedHeader, HeaderSignature)
	}
	return ErrNoMatchingSignature
}

// anySecret reports whether secrets hold one that is not zero.
func anySecret(secrets []Secret) bool {
	for _, s := range secrets {
		if !s.IsZero() {
			return true
		}
	}
	return false
}
