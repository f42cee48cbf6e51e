package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Writes of many rows (a minute's usage counts, a flush's last-used times) go batchRows to a
// statement: per statement the driver's round (arguments, step, reset) costs more than a
// row's own work.

// batchRows is how many rows one batched statement (AddUsage's, TouchKeys') writes: at 5
// arguments a row, well within SQLite's limit of 32 766.
const batchRows = 200

// inChunks runs, in tx, statement(n) for each run of up to batchRows rows, with the
// arguments args appends for each row in order.
func inChunks[T any](ctx context.Context, tx *sql.Tx, rows []T, statement func(n int) string, args func([]any, T) []any) error {
	var stmt *sql.Stmt
	defer func() {
		if stmt != nil {
			stmt.Close()
		}
	}()
	prepared := 0
	var a []any
	for len(rows) > 0 {
		n := min(len(rows), batchRows)
		if n != prepared {
			if stmt != nil {
				stmt.Close()
			}
			var err error
			if stmt, err = tx.PrepareContext(ctx, statement(n)); err != nil {
				return fmt.Errorf("sqlite: %w", err)
			}
			prepared = n
		}
		a = a[:0]
		for _, r := range rows[:n] {
			a = args(a, r)
		}
		if _, err := stmt.ExecContext(ctx, a...); err != nil {
			return fmt.Errorf("sqlite: a batch of %d: %w", n, err)
		}
		rows = rows[n:]
	}
	return nil
}

// writeValues writes the rows of a VALUES list of n rows of cols parameters each.
func writeValues(b *strings.Builder, n, cols int) {
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?")
		for range cols - 1 {
			b.WriteString(", ?")
		}
		b.WriteString(")")
	}
}
