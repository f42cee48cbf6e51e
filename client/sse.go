package client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// Bounds on what the event stream may send, so that a broken or hostile server cannot make
// the reader hold unbounded memory. Keyward's events are one short line of JSON.
const (
	maxEventLine = 4096
	maxEventData = 16 << 10
)

var (
	errEventLineTooLong = errors.New("keyward: event stream line too long")
	errEventTooLarge    = errors.New("keyward: event stream event too large")
)

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	id    string
	hasID bool // the event set its id, perhaps to ""
	kind  string
	data  string
}

// readEvents reads Server-Sent Events from r as the WHATWG specification parses them (lines
// ending in LF or CRLF; "field: value" with one optional space; comments start with ':';
// data lines join with LF; an event without data is not dispatched) and calls handle for
// each, and alive for each line read. It returns the error that ended the stream: r's, one
// for a line or an event over the bounds, or handle's.
func readEvents(r io.Reader, alive func(), handle func(sseEvent) error) error {
	br := bufio.NewReaderSize(r, maxEventLine)
	var ev sseEvent
	var data []byte
	hasData := false
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return errEventLineTooLong
		}
		if err != nil {
			return err
		}
		alive()
		line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
		if len(line) == 0 {
			if hasData {
				ev.data = string(data)
				if err := handle(ev); err != nil {
					return err
				}
			}
			ev, data, hasData = sseEvent{}, data[:0], false
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte{':'})
		value = bytes.TrimPrefix(value, []byte{' '})
		switch string(field) {
		case "event":
			ev.kind = string(value)
		case "data":
			if len(data)+len(value)+1 > maxEventData {
				return errEventTooLarge
			}
			if hasData {
				data = append(data, '\n')
			}
			data, hasData = append(data, value...), true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				ev.id, ev.hasID = string(value), true
			}
		}
	}
}
