package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storecodec"
)

// AddUsage adds each count to the stored count of its key, minute and outcome. The whole
// batch is one statement, and so one transaction. A count is written with its key's project,
// and only if its key exists in its account; the others are dropped. A count's minute is
// truncated to the minute.
//
// The batch's counts of one key, minute and outcome are summed first (an upsert may not meet
// one row twice), and the rows are written in key order, so that two nodes adding overlapping
// batches wait for each other instead of deadlocking.
func (s *Store) AddUsage(ctx context.Context, counts []keyward.UsageCount) error {
	var (
		keyIDs, accountIDs, outcomes []string
		minutes, ns                  []int64
	)
	for _, c := range counts {
		if c.Count == 0 {
			continue // a row of 0 would be a bucket of nothing
		}
		keyIDs = append(keyIDs, c.KeyID)
		accountIDs = append(accountIDs, c.AccountID)
		minutes = append(minutes, storecodec.UsageMinute(c.Minute))
		outcomes = append(outcomes, string(c.Outcome))
		ns = append(ns, c.Count)
	}
	if len(keyIDs) == 0 {
		return nil
	}
	_, err := s.db().Exec(ctx, `
		INSERT INTO key_usage (key_id, account_id, project_id, minute, outcome, count)
		SELECT k.id, k.account_id, k.project_id, u.minute, u.outcome, sum(u.n)
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[])
			AS u (key_id, account_id, minute, outcome, n)
		JOIN api_keys k ON k.account_id = u.account_id AND k.id = u.key_id
		GROUP BY k.id, k.account_id, k.project_id, u.minute, u.outcome
		ORDER BY k.id, u.minute, u.outcome
		ON CONFLICT (key_id, minute, outcome) DO UPDATE SET count = key_usage.count + excluded.count`,
		keyIDs, accountIDs, minutes, outcomes, ns)
	if err != nil {
		return fmt.Errorf("postgres: add usage: %w", err)
	}
	return nil
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
	q.WriteString(`SELECT minute - ((minute % $1) + $1) % $1 AS start, outcome, sum(count)::bigint
		FROM key_usage WHERE account_id = $2`)
	args := []any{size, f.AccountID}
	cond := func(c string, v any) {
		args = append(args, v)
		fmt.Fprintf(&q, c, len(args))
	}
	if f.KeyID != "" {
		cond(` AND key_id = $%d`, f.KeyID)
	}
	if f.ProjectID != "" {
		cond(` AND project_id = $%d`, f.ProjectID)
	}
	if !f.From.IsZero() {
		cond(` AND minute >= $%d`, storecodec.UnixCeil(f.From))
	}
	if !f.To.IsZero() {
		cond(` AND minute < $%d`, storecodec.UnixCeil(f.To))
	}
	q.WriteString(` GROUP BY start, outcome HAVING sum(count) <> 0 ORDER BY start, outcome`)
	return query(ctx, s.db(), scanUsageBucket, "usage", q.String(), args...)
}

func scanUsageBucket(row pgx.Row) (keyward.UsageBucket, error) {
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
	tag, err := s.db().Exec(ctx, `DELETE FROM key_usage WHERE minute < $1`, storecodec.UnixCeil(before))
	if err != nil {
		return 0, fmt.Errorf("postgres: prune usage: %w", err)
	}
	return tag.RowsAffected(), nil
}

// ListUsageCounts returns up to f.Limit of the account's stored counts after f.After, ordered
// by key id, minute and outcome: the order of the table's primary key, which pages through it.
func (s *Store) ListUsageCounts(ctx context.Context, f keyward.UsageCountFilter) ([]keyward.UsageCount, error) {
	if f.Limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	var q strings.Builder
	q.WriteString(`SELECT key_id, account_id, project_id, minute, outcome, count FROM key_usage WHERE account_id = $1`)
	args := []any{f.AccountID}
	if a := f.After; a != nil {
		args = append(args, a.KeyID, storecodec.UsageMinute(a.Minute), string(a.Outcome))
		q.WriteString(` AND (key_id, minute, outcome) > ($2, $3, $4)`)
	}
	args = append(args, f.Limit)
	fmt.Fprintf(&q, ` ORDER BY key_id, minute, outcome LIMIT $%d`, len(args))
	return query(ctx, s.db(), scanUsageCount, "list usage counts", q.String(), args...)
}

func scanUsageCount(row pgx.Row) (keyward.UsageCount, error) {
	var (
		c         keyward.UsageCount
		projectID *string
		minute    int64
		outcome   string
	)
	if err := row.Scan(&c.KeyID, &c.AccountID, &projectID, &minute, &outcome, &c.Count); err != nil {
		return c, err
	}
	c.ProjectID = str(projectID)
	c.Minute = storecodec.MinuteTime(minute)
	c.Outcome = keyward.VerifyCode(outcome)
	return c, nil
}
