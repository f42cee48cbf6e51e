package postgres

import (
	"context"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keyward"
)

// The errors pgx really returns for an outage are outages, whatever a store wraps them in,
// and the errors of a statement the server refused for what it says are not.
func TestUnavailable(t *testing.T) {
	ctx := t.Context()
	// A port nothing listens on: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	_, refused := pgx.Connect(ctx, "postgres://keyward@"+closed+"/keyward?connect_timeout=5")
	outage := map[string]error{"connection refused": refused}

	dsn := testDatabase(t)
	victim, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer victim.Close(context.Background())
	killer, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer killer.Close(context.Background())
	var pid uint32
	if err := victim.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := killer.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
		t.Fatal(err)
	}
	_, outage["terminated by an administrator (57P01)"] = victim.Exec(ctx, "SELECT 1")
	_, outage["on a closed connection"] = victim.Exec(ctx, "SELECT 1")

	_, divByZero := killer.Exec(ctx, "SELECT 1/0")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, gaveUp := killer.Exec(cancelled, "SELECT 1")
	fine := map[string]error{"division by zero": divByZero, "the caller gave up": gaveUp, "nil": nil}

	for name, err := range outage {
		if err == nil {
			t.Errorf("%s: no error to classify", name)
			continue
		}
		wrapped := fmt.Errorf("postgres: something: %w", err)
		if !Unavailable(wrapped) || keyward.ErrorCode(wrapped) != keyward.EUnavailable {
			t.Errorf("%s (%v): not an outage, code %s", name, err, keyward.ErrorCode(wrapped))
		}
	}
	for name, err := range fine {
		if Unavailable(err) || (err != nil && keyward.ErrorCode(err) == keyward.EUnavailable) {
			t.Errorf("%s (%v): taken for an outage", name, err)
		}
	}
}
