package secretscan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// MaxReports is how many reports ParseReports accepts in one body. GitHub sends alerts in
// batches; a thousand is far more than one batch holds and bounds the work a body can ask for.
const MaxReports = 1000

// ErrInvalidReports is the error ParseReports returns, wrapped with what was wrong and, for
// one report, its position (counted from 0).
var ErrInvalidReports = errors.New("secretscan: invalid reports")

// Report is one token GitHub found. Token is a secret: it is never printed (see String).
type Report struct {
	Token  string // the string GitHub matched, exactly as found
	Type   string // the token type the partner registered the pattern under
	URL    string // where it was found
	Source string // what kind of place: content, commit, pull_request_comment, gist, …
}

// wireReport is a report as GitHub writes it. Report has no JSON tags so that encoding one by
// accident (into a log, say) does not look like the wire and is easy to spot in review.
type wireReport struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// ParseReports decodes the body of an alert: a JSON array of at most MaxReports objects,
// each with a non-empty string token, and nothing after the array. It returns an empty
// slice for an empty array. Call it only on a body that Verifier.Verify accepted.
//
// Fields GitHub may add later are ignored rather than refused: GitHub has grown the report
// before (source came later), and refusing a whole batch over a new field would leave the
// leaked tokens in it live. Everything else is strict: a field of the wrong type, a report
// that is not an object, or anything but one array fails the whole body.
func ParseReports(body []byte) ([]Report, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: not a JSON array: %w", ErrInvalidReports, noEOF(err))
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, fmt.Errorf("%w: not a JSON array", ErrInvalidReports)
	}
	reports := []Report{}
	for i := 0; dec.More(); i++ {
		if i == MaxReports {
			return nil, fmt.Errorf("%w: more than %d reports", ErrInvalidReports, MaxReports)
		}
		// A report must be an object: json would decode null into the zero wireReport,
		// which the empty-token check below would catch, but with a misleading reason.
		if !nextIsObject(body, dec.InputOffset()) {
			return nil, fmt.Errorf("%w: report %d: not a JSON object", ErrInvalidReports, i)
		}
		var w wireReport
		if err := dec.Decode(&w); err != nil {
			return nil, fmt.Errorf("%w: report %d: %w", ErrInvalidReports, i, noEOF(err))
		}
		if w.Token == "" {
			return nil, fmt.Errorf("%w: report %d: empty token", ErrInvalidReports, i)
		}
		reports = append(reports, Report(w))
	}
	if _, err := dec.Token(); err != nil { // the closing ']'
		return nil, fmt.Errorf("%w: %w", ErrInvalidReports, noEOF(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the array", ErrInvalidReports)
	}
	return reports, nil
}

// nextIsObject reports whether the next value in body after offset starts with '{'.
func nextIsObject(body []byte, offset int64) bool {
	rest := bytes.TrimLeft(body[offset:], " \t\r\n,")
	return len(rest) > 0 && rest[0] == '{'
}

// noEOF turns the io.EOF of a body that stops early into an error that says so.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// String describes the report without its token.
func (r Report) String() string {
	return fmt.Sprintf("secretscan.Report{Type:%q URL:%q Source:%q}", r.Type, r.URL, r.Source)
}

// GoString is String, so that %#v does not print the token either.
func (r Report) GoString() string { return r.String() }

// LogValue is the report without its token, for log/slog.
func (r Report) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", r.Type), slog.String("url", r.URL), slog.String("source", r.Source))
}

// Label is the partner's verdict on a reported token.
type Label string

// The labels GitHub accepts.
const (
	// TruePositive says the token is the partner's: a real secret, now public.
	TruePositive Label = "true_positive"
	// FalsePositive says the token matched the pattern but is not one of the partner's.
	FalsePositive Label = "false_positive"
)

// Feedback is one entry of the answer to an alert. Exactly one of TokenRaw and TokenHash is
// set; see the package comment for which.
type Feedback struct {
	TokenRaw  string `json:"token_raw,omitempty"`
	TokenHash string `json:"token_hash,omitempty"`
	TokenType string `json:"token_type"`
	Label     Label  `json:"label"`
}

// Feedback returns the feedback on r with label l: the raw token for a true positive, which
// is ours and already public, and only its hash for anything else, so that a secret that is
// not ours is never echoed.
func (r Report) Feedback(l Label) Feedback {
	f := Feedback{TokenType: r.Type, Label: l}
	if l == TruePositive {
		f.TokenRaw = r.Token
	} else {
		f.TokenHash = HashToken(r.Token)
	}
	return f
}

// HashToken returns the lowercase hex SHA-256 of token, the form GitHub takes in token_hash.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}
