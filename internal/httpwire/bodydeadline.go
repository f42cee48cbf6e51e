package httpwire

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// BodyDeadline bounds how long any request may take to send its body, on every route, and
// keeps a handler that answers without reading the body (a 401 before the body is looked
// at) from waiting on it: the answer goes out at once and the connection is closed.
//
// Without it, net/http reads an unread body (up to 256 KiB) before writing the answer, so a
// client sending its body a byte at a time held even an unauthenticated 401 for the
// server's whole ReadTimeout. The deadline is set on the connection when the handler starts;
// a route that streams for longer (none reads a body for long today) would have to lift it
// with http.ResponseController.
func BodyDeadline(next http.Handler, timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(timeout))
		body := &trackedBody{ReadCloser: r.Body}
		r.Body = body
		next.ServeHTTP(&closeIfUnread{ResponseWriter: w, body: body}, r)
	})
}

// trackedBody notes when its reader has seen the end of the body.
type trackedBody struct {
	io.ReadCloser
	done atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.done.Store(true)
	}
	return n, err
}

// closeIfUnread asks for the connection to be closed after an answer written before the
// body was read to its end, so that net/http does not read the rest first.
type closeIfUnread struct {
	http.ResponseWriter
	body        *trackedBody
	wroteHeader bool
}

func (w *closeIfUnread) WriteHeader(status int) {
	if !w.wroteHeader {
		w.wroteHeader = true
		if !w.body.done.Load() {
			w.Header().Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *closeIfUnread) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection's own writer.
func (w *closeIfUnread) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes a flush on, for handlers that test for http.Flusher.
func (w *closeIfUnread) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		if !w.wroteHeader {
			w.WriteHeader(http.StatusOK)
		}
		f.Flush()
	}
}
