package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/keyward/keyward/internal/events"
	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
)

// EventJSON is the data of one event of the change stream.
type EventJSON struct {
	KeyID     *string `json:"key_id" doc:"The key that changed (key_changed); null otherwise."`
	AccountID *string `json:"account_id" doc:"The account the change is in; null for a reset."`
}

type streamEventsInput struct {
	LastEventID string `header:"Last-Event-ID" maxLength:"100" doc:"The id of the last event seen, to resume after a break: the events missed follow, if this server still holds them all; otherwise the stream starts with a reset."`
}

// heartbeatEvery is how often an idle stream gets a comment line, so that proxies keep it
// open and the client can tell a quiet stream from a dead one.
const heartbeatEvery = 15 * time.Second

// streamWriteWindow bounds each write to a stream: a client that does not read for this
// long is gone, and the server's own WriteTimeout (for the whole response) must not end a
// stream that is read.
const streamWriteWindow = 10 * time.Second

func (s *Server) eventRoutes() []route {
	registry := s.api.OpenAPI().Components.Schemas
	schema := registry.Schema(reflect.TypeFor[EventJSON](), true, "EventJSON")
	problem := registry.Schema(reflect.TypeFor[httpwire.Problem](), true, "Problem")
	return []route{
		operation(huma.Operation{
			OperationID: "stream-events", Method: http.MethodGet, Path: "/v1/events",
			Summary: "Follow the changes that make cached verdicts stale",
			Description: "Server-Sent Events for whoever keeps verdicts on keys of the caller's account (the Go middleware does): " +
				"`key_changed` (drop what you hold of key_id), `account_changed` (what any key of the account stands for may have changed: drop the account's) " +
				"and `reset` (changes may have been missed: drop everything). Each event is `id: NODE-SEQ`, `event: <kind>` and `data: {\"key_id\":…,\"account_id\":…}`. " +
				"A stream that is not resumed with Last-Event-ID starts with a reset. A comment line comes every 15 s while nothing happens. " +
				"The stream ends when the server shuts down or the client falls too far behind; reconnect with Last-Event-ID, and treat any break as a reset. Needs api_keys.read.",
			Tags: []string{"Verification"},
			Responses: map[string]*huma.Response{"200": {
				Description: "The stream of events, as text/event-stream; data is an Event.",
				Content: map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{
					Type: "array", Items: schema,
					Description: "Events, each `id`, `event` (key_changed, account_changed, reset) and `data` (this schema) lines and a blank line; comment lines (starting with ':') are heartbeats.",
				}}},
			}, "503": {Description: "This server has no event stream.", Content: map[string]*huma.MediaType{"application/problem+json": {Schema: problem}}}},
		}, s.streamEvents),
	}
}

func (s *Server) streamEvents(ctx context.Context, in *streamEventsInput) (*huma.StreamResponse, error) {
	p, err := principalWith(ctx, keyward.PermKeysRead)
	if err != nil {
		return nil, err
	}
	if s.events == nil {
		return nil, keyward.Errorf(keyward.EUnavailable, "this server has no event stream")
	}
	return &huma.StreamResponse{Body: func(hctx huma.Context) {
		r, w := humago.Unwrap(hctx)
		s.stream(r, w, p.AccountID, in.LastEventID)
	}}, nil
}

// stream writes the account's events to w until the client goes, the subscription is dropped
// for falling behind, or the server shuts down.
func (s *Server) stream(r *http.Request, w http.ResponseWriter, accountID, lastID string) {
	rc := http.NewResponseController(w)
	// The request has been read: the server's ReadTimeout must not end the stream.
	_ = rc.SetReadDeadline(time.Time{})
	sub, missed, resumed := s.events.Subscribe(accountID, lastID)
	defer sub.Close()
	shutdown := s.shutdownOf(r)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: pass events on as they come
	w.WriteHeader(http.StatusOK)
	var buf []byte
	if !resumed {
		buf = append(buf, "event: "+events.KindReset+"\ndata: {\"key_id\":null,\"account_id\":null}\n\n"...)
	}
	for _, e := range missed {
		buf = appendEvent(buf, e)
	}
	if !s.flushStream(rc, w, buf) {
		return
	}
	heartbeat := time.NewTicker(s.heartbeat)
	defer heartbeat.Stop()
	for {
		buf = buf[:0]
		select {
		case e, ok := <-sub.C:
			if !ok {
				return // dropped for falling behind: the client reconnects
			}
			buf = appendEvent(buf, e)
			// Send what else is waiting in the same write.
			for more := true; more && len(buf) < 32<<10; {
				select {
				case e, ok := <-sub.C:
					if !ok {
						s.flushStream(rc, w, buf)
						return
					}
					buf = appendEvent(buf, e)
				default:
					more = false
				}
			}
		case <-heartbeat.C:
			buf = append(buf, ":\n\n"...)
		case <-r.Context().Done():
			return
		case <-shutdown:
			return
		}
		if !s.flushStream(rc, w, buf) {
			return
		}
	}
}

// flushStream writes b and flushes it to the client, within streamWriteWindow; false when the
// client is gone.
func (s *Server) flushStream(rc *http.ResponseController, w http.ResponseWriter, b []byte) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(streamWriteWindow))
	if _, err := w.Write(b); err != nil {
		return false
	}
	return rc.Flush() == nil
}

// appendEvent appends e in the stream's wire form.
func appendEvent(b []byte, e events.Event) []byte {
	data := EventJSON{}
	if e.KeyID != "" {
		data.KeyID = &e.KeyID
	}
	if e.AccountID != "" {
		data.AccountID = &e.AccountID
	}
	j, _ := json.Marshal(data) // two strings: cannot fail
	b = append(b, "id: "...)
	b = append(b, e.ID...)
	b = append(b, "\nevent: "...)
	b = append(b, e.Kind...)
	b = append(b, "\ndata: "...)
	b = append(b, j...)
	return append(b, "\n\n"...)
}

// shutdowns closes, for each http.Server that serves streams, a channel when it starts to
// shut down: Shutdown waits for every response to end, and a stream ends only when told.
type shutdowns struct {
	mu sync.Mutex
	c  map[*http.Server]chan struct{}
}

// shutdownOf is the channel closed when the http.Server serving r shuts down; nil (never
// closed) when r does not say which server it is.
func (s *Server) shutdownOf(r *http.Request) <-chan struct{} {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	if srv == nil {
		return nil
	}
	s.shutdowns.mu.Lock()
	defer s.shutdowns.mu.Unlock()
	c, ok := s.shutdowns.c[srv]
	if !ok {
		if s.shutdowns.c == nil {
			s.shutdowns.c = map[*http.Server]chan struct{}{}
		}
		// Kept after it is closed: a stream that starts late in the shutdown ends at once.
		c = make(chan struct{})
		s.shutdowns.c[srv] = c
		srv.RegisterOnShutdown(func() { close(c) })
	}
	return c
}
