package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/keyward/keyward/internal/keyward"
)

// An outage of the database is answered 503 with Retry-After, not 500: the request was fine
// and will succeed once the database is back. The domain asks this file which of pgx's errors
// say so (see keyward.RegisterOutage).
func init() { keyward.RegisterOutage(Unavailable) }

// Unavailable reports whether err says that PostgreSQL could not be reached or would not
// serve: a connection that could not be made (refused, reset, timed out, or the caller's
// deadline passing while it was being made), a connection lost mid-statement, the pool
// closed, or the server's own "not now" (SQLSTATE class 08, connection exceptions; 57P01-03,
// shut down by an administrator, crashing, or not yet accepting connections; class 53,
// insufficient resources such as a full disk or too many connections). A statement the server
// refused for what it says (a constraint, a bad value) is not an outage, and neither is the
// caller giving up (context.Canceled outside a connection attempt).
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"),
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03":
			return true
		}
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true // whatever stopped it, including the deadline while connecting
	}
	var ne net.Error
	switch {
	case errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed),
		errors.As(err, &ne):
		return true
	case pgconn.Timeout(err) && errors.Is(err, context.DeadlineExceeded):
		// A statement that ran out of the time it was given, in pgx's words: the database
		// did not answer in time.
		return true
	}
	// pgx's connLockError and puddle's ErrClosedPool (a pool closed as the server stops) are
	// known only by their words.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool")
}
