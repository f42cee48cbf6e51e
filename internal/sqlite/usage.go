package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storecodec"
)

// AddUsage adds each count to the stored count of its key, minute and outcome, in one
// transaction: one sync for the batch. A count is written with its key's project, and only if
// its key exists in its account; the others are dropped. A count's minute is truncated to the
// minute.
//
// A minute's write of a busy node is tens of thousands of counts: they go batchRows to a
// statement (see batch.go).
func (s *Store) AddUsage(ctx context.Context, counts []keyward.UsageCount) error {
	counts = slices.DeleteFunc(slices.Clone(counts), func(c keyward.UsageCount) bool {
		return c.Count == 0 // a row of 0 would be a bucket of nothing
	})
	if len(counts) == 0 {
		return nil
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		return inChunks(ctx, tx, counts, addUsageSQL, func(args []any, c keyward.UsageCount) []any {
			return append(args, c.KeyID, c.AccountID, storecodec.UsageMinute(c.Minute), string(c.Outcome), c.Count)
		})
	})
}

// addUsageSQL is the statement that adds n counts, given as (key id, account id, minute,
// outcome, count) in that order: each joined to its key, which drops counts of keys not in
// their account and supplies the project. Two counts of one key, minute and outcome in one
// statement add up, as the second meets the first's row as a conflict.
func addUsageSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO key_usage (key_id, account_id, project_id, minute, outcome, count)
		SELECT k.id, k.account_id, k.project_id, v.column3, v.column4, v.column5
		FROM (VALUES `)
	writeValues(&b, n, 5)
	// WHERE true: without a WHERE, SQLite would read ON CONFLICT as the join's ON.
	b.WriteString(`) AS v JOIN api_keys k ON k.id = v.column1 AND k.account_id = v.column2
		WHERE true
		ON CONFLICT (key_id, minute, outcome) DO UPDATE SET count = count + excluded.count`)
	return b.String()
}

// Usage sums the account's counts matching f into buckets of f.Granularity, ordered by start
// and then outcome, leaving out buckets with no count. Errors: EValidation for a granularity
// that is not a whole number of minutes.
func (s *Store) Usage(ctx context.Context, f keyward.UsageFilter) ([]keyward.UsageBucket, error) {
	size, err := storecodec.BucketSeconds(f.Granularity)
	if err != nil {
		return nil, err
	}
	// A bucket starts at the multiple of its size at or before the minute: % truncates
	// towards zero, so a minute before 1970 needs the size added back.
	var q strings.Builder
	q.WriteString(`SELECT minute - ((minute % ?) + ?) % ? AS start, outcome, sum(count)
		FROM key_usage WHERE account_id = ?`)
	args := []any{size, size, size, f.AccountID}
	if f.KeyID != "" {
		q.WriteString(` AND key_id = ?`)
		args = append(args, f.KeyID)
	}
	if f.ProjectID != "" {
		q.WriteString(` AND project_id = ?`)
		args = append(args, f.ProjectID)
	}
	if !f.From.IsZero() {
		q.WriteString(` AND minute >= ?`)
		args = append(args, storecodec.UnixCeil(f.From))
	}
	if !f.To.IsZero() {
		q.WriteString(` AND minute < ?`)
		args = append(args, storecodec.UnixCeil(f.To))
	}
	q.WriteString(` GROUP BY start, outcome HAVING sum(count) <> 0 ORDER BY start, outcome`)
	return query(ctx, s.reader(), scanUsageBucket, "usage", q.String(), args...)
}

func scanUsageBucket(row scanner) (keyward.UsageBucket, error) {
	var (
		b       keyward.UsageBucket
		start   int64
		outcome string
	)
	if err := row.Scan(&start, &outcome, &b.Count); err != nil {
		return b, err
	}
	b.Start = storecodec.MinuteTime(start)
	b.Outcome = keyward.VerifyCode(outcome)
	return b, nil
}

// PruneUsage deletes the counts of minutes before before and reports how many rows went.
func (s *Store) PruneUsage(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.writer().ExecContext(ctx, `DELETE FROM key_usage WHERE minute < ?`, storecodec.UnixCeil(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune usage: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune usage: %w", err)
	}
	return n, nil
}

// ListUsageCounts returns up to f.Limit of the account's stored counts after f.After, ordered
// by key id, minute and outcome: the order of the table's primary key, which pages through it.
func (s *Store) ListUsageCounts(ctx context.Context, f keyward.UsageCountFilter) ([]keyward.UsageCount, error) {
	if f.Limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	var q strings.Builder
	q.WriteString(`SELECT key_id, account_id, project_id, minute, outcome, count FROM key_usage WHERE account_id = ?`)
	args := []any{f.AccountID}
	if a := f.After; a != nil {
		q.WriteString(` AND (key_id, minute, outcome) > (?, ?, ?)`)
		args = append(args, a.KeyID, storecodec.UsageMinute(a.Minute), string(a.Outcome))
	}
	q.WriteString(` ORDER BY key_id, minute, outcome LIMIT ?`)
	args = append(args, f.Limit)
	return query(ctx, s.reader(), scanUsageCount, "list usage counts", q.String(), args...)
}

func scanUsageCount(row scanner) (keyward.UsageCount, error) {
	var (
		c         keyward.UsageCount
		projectID sql.NullString
		minute    int64
		outcome   string
	)
	if err := row.Scan(&c.KeyID, &c.AccountID, &projectID, &minute, &outcome, &c.Count); err != nil {
		return c, err
	}
	c.ProjectID = projectID.String
	c.Minute = storecodec.MinuteTime(minute)
	c.Outcome = keyward.VerifyCode(outcome)
	return c, nil
}
