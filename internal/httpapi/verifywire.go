package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/verify"
)

// The verify route answers hundreds of thousands of times a second, mostly for keys the
// verifier holds in its cache, and most of each answer (the key's ids, role, permissions,
// projects, name, scopes, metadata, expiry) is the same every time for as long as that cache
// entry lives. So the answer is written from pieces: that part, encoded once per cache entry
// by encoding/json itself and kept in the entry's Memo, and the few fields that change
// (valid, code, ratelimit, remaining) written by hand. The bytes are exactly those
// json.Encoder writes for verifyResponse (TestVerifyAnswerIsWhatEncodingJSONWrites).

// verifyPieces are the parts of a key's verify answers that its cache entry fixes.
type verifyPieces struct {
	// identity is everything from "key_id" to "expires_at", without the braces or a
	// trailing comma.
	identity []byte
	// policy is the ratelimit_policy object for a key held to the limit it was held to when
	// the pieces were made; policyFor is that limit.
	policy    []byte
	policyFor RateLimitJSON
}

var (
	// identityStart and identityEnd frame the identity fields in json.Encoder's encoding of
	// a VerifyResponse whose valid, code, ratelimit and remaining are zero.
	identityStart = []byte(`{"valid":false,"code":"",`)
	identityEnd   = []byte(`,"ratelimit":null,"remaining":null}` + "\n")
)

// piecesOf returns res's pieces, from its memo or made now and kept there.
func piecesOf(res verify.Result, now time.Time) (*verifyPieces, bool) {
	if p, ok := res.Memo.Load().(*verifyPieces); ok {
		return p, true
	}
	whole := verifyResponse(verify.Result{Key: res.Key, Identity: res.Identity}, now)
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(whole); err != nil {
		return nil, false
	}
	b := buf.Bytes()
	if !bytes.HasPrefix(b, identityStart) || !bytes.HasSuffix(b, identityEnd) {
		return nil, false // the response's fields changed order: encode whole
	}
	p := &verifyPieces{identity: bytes.Clone(b[len(identityStart) : len(b)-len(identityEnd)])}
	if res.Limited {
		p.policyFor = rateLimitJSON(res.Policy)
		if p.policy, _ = json.Marshal(p.policyFor); p.policy == nil {
			return nil, false
		}
	}
	res.Memo.Store(p)
	return p, true
}

// appendVerifyAnswer appends res's answer, encoded as json.Encoder encodes
// verifyResponse(res, now), and reports whether it could: a credential that is not a cached
// key (an access token, an unknown key) is left to encoding/json.
func appendVerifyAnswer(dst []byte, res verify.Result, now time.Time) ([]byte, bool) {
	if res.Memo == nil || res.Key == nil || res.Token != nil {
		return dst, false
	}
	p, ok := piecesOf(res, now)
	if !ok {
		return dst, false
	}
	var policy []byte
	if res.Limited {
		policy = p.policy
		if rateLimitJSON(res.Policy) != p.policyFor {
			// Not the limit the pieces were made with (a failed-closed decision names a limit
			// of its own): encode this one.
			b, err := json.Marshal(rateLimitJSON(res.Policy))
			if err != nil {
				return dst, false
			}
			policy = b
		}
	}
	dst = append(dst, `{"valid":`...)
	dst = strconv.AppendBool(dst, res.Valid)
	dst = append(dst, `,"code":"`...)
	dst = append(dst, res.Code...) // upper-case letters and underscores: nothing to escape
	dst = append(dst, `",`...)
	dst = append(dst, p.identity...)
	dst = append(dst, `,"ratelimit":`...)
	if res.Limited {
		b := res.RateLimit.Binding()
		dst = append(dst, `{"limit":`...)
		dst = strconv.AppendInt(dst, b.Limit, 10)
		dst = append(dst, `,"remaining":`...)
		dst = strconv.AppendInt(dst, b.Remaining, 10)
		dst = append(dst, `,"reset":`...)
		dst = strconv.AppendInt(dst, now.Add(b.Reset).UnixMilli(), 10)
		dst = append(dst, '}')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"remaining":`...)
	if res.Credited {
		dst = strconv.AppendInt(dst, res.CreditsRemaining, 10)
	} else {
		dst = append(dst, "null"...)
	}
	if res.Limited {
		dst = append(dst, `,"ratelimit_policy":`...)
		dst = append(dst, policy...)
	}
	return append(dst, "}\n"...), true
}

// bufPool lends the verify route byte buffers, so that reading a request and writing an
// answer allocate nothing. A buffer that grew past maxPooledBuf (a large body, a key with
// much metadata) is not taken back, so that one large request does not keep it alive.
type bufPool struct{ pool sync.Pool }

// maxPooledBuf is the largest buffer a bufPool takes back.
const maxPooledBuf = 64 << 10

func newBufPool(size int) *bufPool {
	p := &bufPool{}
	p.pool.New = func() any { b := make([]byte, 0, size); return &b }
	return p
}

// get lends an empty buffer, and the handle to give it back with.
func (p *bufPool) get() (*[]byte, []byte) {
	bp := p.pool.Get().(*[]byte)
	return bp, (*bp)[:0]
}

// put gives back b, the buffer bp lent, as it is now (it may have grown). b must not be
// used after.
func (p *bufPool) put(bp *[]byte, b []byte) {
	if cap(b) <= maxPooledBuf {
		*bp = b[:0]
		p.pool.Put(bp)
	}
}

// answerBufs hold answers while they are written.
var answerBufs = newBufPool(1024)

// writeVerifyAnswer writes res's answer: from its pieces when it has them, else through
// encoding/json.
func writeVerifyAnswer(w http.ResponseWriter, res verify.Result, now time.Time) {
	bp, b := answerBufs.get()
	b, ok := appendVerifyAnswer(b, res, now)
	if ok {
		_, _ = w.Write(b)
	} else {
		_ = json.NewEncoder(w).Encode(verifyResponse(res, now))
	}
	answerBufs.put(bp, b)
}

// verifyDecoding reads verify requests as every plain route reads its body.
var verifyDecoding = httpwire.Decoding{Limit: httpwire.MaxJSONBody}

// bodyBufs hold verify requests' bodies while they are decoded.
var bodyBufs = newBufPool(512)

// onlyKey reads the request most verifications send, {"key":"…"} (JSON whitespace allowed
// between tokens) with a key of printable ASCII and no escapes, without encoding/json, and
// reports whether body was that. Anything else, an escape or another field or a
// differently-cased name, is left to encoding/json, which accepts or refuses it as before:
// for the bodies this accepts, both read the same key.
func onlyKey(body []byte) (string, bool) {
	i := skipSpace(body, 0)
	for _, tok := range [...]string{`{`, `"key"`, `:`} {
		if !bytes.HasPrefix(body[i:], []byte(tok)) {
			return "", false
		}
		i = skipSpace(body, i+len(tok))
	}
	if i == len(body) || body[i] != '"' {
		return "", false
	}
	start := i + 1
	end := start
	for ; end < len(body) && body[end] != '"'; end++ {
		if c := body[end]; c < 0x20 || c > 0x7e || c == '\\' {
			return "", false
		}
	}
	if end == len(body) {
		return "", false
	}
	i = skipSpace(body, end+1)
	if i == len(body) || body[i] != '}' || skipSpace(body, i+1) != len(body) {
		return "", false
	}
	return string(body[start:end]), true
}

// skipSpace returns the index of the first byte at or after i that is not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
