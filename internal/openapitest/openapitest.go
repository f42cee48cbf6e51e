// Package openapitest holds a server to the OpenAPI document it serves: a handler wrapper
// checks every answer the server writes in a test (status, content type, body) against the
// document, so that a response that breaks its own schema fails the test that provoked it.
//
// It is a test helper, imported only by _test.go files: the validator it wraps,
// libopenapi-validator, never reaches the binary.
package openapitest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	verrors "github.com/pb33f/libopenapi-validator/errors"
	"github.com/pb33f/libopenapi-validator/helpers"
)

// maxChecked bounds how much of a body is kept for checking: a larger body (an export, a
// long stream) is checked for its status and content type only.
const maxChecked = 4 << 20

// Checker checks responses against one document and keeps what broke it.
type Checker struct {
	v validator.Validator

	mu         sync.Mutex
	checked    int
	violations []string
}

// checkers are shared between servers that serve the same document: building a validator
// compiles every schema, and a test package starts hundreds of servers.
var (
	checkersMu sync.Mutex
	checkers   = map[[32]byte]validator.Validator{}
)

// New is a Checker for the OpenAPI document doc (JSON or YAML, 3.0 or 3.1).
func New(doc []byte) (*Checker, error) {
	sum := sha256.Sum256(doc)
	checkersMu.Lock()
	defer checkersMu.Unlock()
	if v, ok := checkers[sum]; ok {
		return &Checker{v: v}, nil
	}
	d, err := libopenapi.NewDocument(doc)
	if err != nil {
		return nil, fmt.Errorf("openapitest: parsing the document: %w", err)
	}
	v, errs := validator.NewValidator(d)
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapitest: building the validator: %v", errs)
	}
	checkers[sum] = v
	return &Checker{v: v}, nil
}

// Checked returns how many answers were checked against a described path.
func (c *Checker) Checked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checked
}

// Violations returns what the checked responses broke, one line each, in the order seen.
func (c *Checker) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.violations)
}

// Check checks one answer to req. A path the document does not describe is not checked:
// the fallback's 404 for an unknown path, or a route documented elsewhere.
func (c *Checker) Check(req *http.Request, status int, header http.Header, body []byte) {
	res := &http.Response{
		StatusCode: status,
		Header:     header.Clone(),
		Body:       http.NoBody,
		Request:    req,
	}
	if body != nil {
		res.Body = readCloser{bytes.NewReader(body)}
		res.ContentLength = int64(len(body))
	}
	ok, errs := c.v.ValidateHttpResponse(req, res)
	if ok && string(bytes.TrimSpace(body)) == "null" && strings.Contains(header.Get("Content-Type"), "json") {
		// The validator takes a body of null for no body; no route here answers null.
		ok = false
		errs = append(errs, &verrors.ValidationError{Message: "the body is null"})
	}
	if ok {
		c.mu.Lock()
		c.checked++
		c.mu.Unlock()
		return
	}
	lines, described := violations(fmt.Sprintf("%s %s -> %d", req.Method, req.URL.Path, status), errs)
	if !described {
		return
	}
	c.mu.Lock()
	c.checked++
	c.violations = append(c.violations, lines...)
	c.mu.Unlock()
}

// Handler wraps h: each answer h writes is checked once it is complete. Streams
// (text/event-stream) are checked for their status and content type, not their events.
func (c *Checker) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The check needs the request's method, path and headers, and the body as the
		// handler read it: a copy is kept as it reads.
		req := r.Clone(r.Context())
		req.Body = http.NoBody
		var sent bytes.Buffer
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = teeBody{Reader: io.TeeReader(io.LimitReader(r.Body, maxChecked), &sent), Closer: r.Body}
		}
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if rec.status < 300 {
			// The server took the request: the document must take it too.
			req.Body = io.NopCloser(bytes.NewReader(sent.Bytes()))
			c.CheckRequest(req)
		}
		body := rec.body.Bytes()
		if rec.overflow {
			return
		}
		if r.Method == http.MethodHead {
			body = nil
		}
		c.Check(req, rec.status, w.Header(), body)
	})
}

type teeBody struct {
	io.Reader
	io.Closer
}

// CheckRequest checks a request the server accepted against the document: an accepted
// request the document would refuse means the document is stricter than the server.
//
// Three leniencies of the server are more than a document can say, and docs/api.md states
// them as rules; the request is checked as the server reads it:
//   - a body without a Content-Type, or with any +json type, is read as JSON (a document
//     names media types one by one): it is checked as application/json;
//   - a query parameter given with an empty value is read as absent (OpenAPI's
//     allowEmptyValue is deprecated, and validators ignore it): it is dropped;
//   - null for a property of the body's top-level object, and a body that is just null, are
//     read as absent (the property not sent, an empty object): they are dropped. A property
//     the document requires is then missing, and still reported.
func (c *Checker) CheckRequest(req *http.Request) {
	if req.ContentLength != 0 || req.Method != http.MethodGet {
		ct, _, _ := strings.Cut(req.Header.Get("Content-Type"), ";")
		if ct = strings.TrimSpace(ct); ct == "" || strings.HasSuffix(ct, "+json") {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if q := req.URL.Query(); len(q) > 0 {
		for name, values := range q {
			if slices.Contains(values, "") {
				delete(q, name)
			}
		}
		req.URL.RawQuery = q.Encode()
	}
	if req.Body != nil && req.Body != http.NoBody && strings.HasSuffix(req.Header.Get("Content-Type"), "json") {
		body, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(withoutNulls(body)))
	}
	ok, errs := c.v.ValidateHttpRequest(req)
	if ok {
		return
	}
	lines, described := violations(fmt.Sprintf("accepted %s %s", req.Method, req.URL.Path), errs)
	if !described {
		return
	}
	c.mu.Lock()
	c.violations = append(c.violations, lines...)
	c.mu.Unlock()
}

// recorder passes a response through and keeps a copy of its status and body.
type recorder struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	overflow bool
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if strings.HasPrefix(r.Header().Get("Content-Type"), "text/event-stream") || r.body.Len()+len(p) > maxChecked {
		r.overflow = true
	} else {
		r.body.Write(p)
	}
	return r.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection (flushes, deadlines).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush keeps streams streaming through handlers that assert http.Flusher.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack keeps upgrades working through the wrapper.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.overflow = true
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// withoutNulls is body with its top-level null properties dropped, and {} for a body that is
// null; any other body as it is.
func withoutNulls(body []byte) []byte {
	trimmed := bytes.TrimSpace(body)
	if string(trimmed) == "null" {
		return []byte("{}")
	}
	var obj map[string]json.RawMessage
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &obj) != nil {
		return body
	}
	dropped := false
	for k, v := range obj {
		if string(bytes.TrimSpace(v)) == "null" {
			delete(obj, k)
			dropped = true
		}
	}
	if !dropped {
		return body
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return body
	}
	return out
}

// violations are the validator's errors as lines after what, one each. described is false
// when the document does not describe the path or method: nothing to hold the server to.
func violations(what string, errs []*verrors.ValidationError) (lines []string, described bool) {
	for _, e := range errs {
		if e.ValidationType == helpers.PathValidation {
			return nil, false
		}
		line := what + ": " + e.Message
		if e.Reason != "" && e.Reason != e.Message {
			line += ": " + e.Reason
		}
		for _, f := range e.SchemaValidationErrors {
			line += fmt.Sprintf(" [%s at %s]", f.Reason, f.FieldPath)
		}
		lines = append(lines, line)
	}
	return lines, true
}
