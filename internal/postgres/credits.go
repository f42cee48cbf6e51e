package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storecodec"
)

// creditColumnList are the columns of key_credits that make a keyward.Credits, in the order
// nullCredits scans them.
var creditColumnList = []string{"remaining", "refill_interval", "refill_amount", "refill_day", "refilled_at", "version"}

// creditColumnsOf lists the credit columns of the relation named table.
func creditColumnsOf(table string) string {
	return table + "." + strings.Join(creditColumnList, ", "+table+".")
}

// nullCredits scans the credit columns, which are all NULL when a key read with a LEFT JOIN
// has no credits.
type nullCredits struct {
	storecodec.CreditColumns
	refilledAt *time.Time
}

// dest returns the scan destinations, in the order of creditColumnList.
func (c *nullCredits) dest() []any {
	return []any{&c.Remaining, &c.Interval, &c.Amount, &c.Day, &c.refilledAt, &c.Version}
}

// credits returns what was scanned: nil for no row.
func (c *nullCredits) credits() *keyward.Credits {
	return c.Credits(c.refilledAt)
}

// SetCredits sets the usage credits of the account's key lineage, or with a nil c removes
// them, in one statement. Errors: ENotFound if no key of the account has the lineage.
func (s *Store) SetCredits(ctx context.Context, accountID, lineageID string, c *keyward.Credits) error {
	const lineageExists = `EXISTS (SELECT 1 FROM api_keys WHERE lineage_id = $1 AND account_id = $2)`
	if c == nil {
		// The DELETE runs whether or not the SELECT reads what it returns.
		var found bool
		err := s.db().QueryRow(ctx,
			`WITH gone AS (DELETE FROM key_credits WHERE lineage_id = $1 AND account_id = $2)
			SELECT `+lineageExists, lineageID, accountID).Scan(&found)
		if err != nil {
			return fmt.Errorf("postgres: credits of lineage %s: %w", lineageID, err)
		}
		if !found {
			return notFound("key lineage", lineageID)
		}
		return nil
	}
	interval, amount, day := storecodec.RefillColumns(c.Refill)
	tag, err := s.db().Exec(ctx,
		`INSERT INTO key_credits (lineage_id, account_id, `+strings.Join(creditColumnList, ", ")+`)
		SELECT $1, $2, $3::bigint, $4::text, $5::bigint, $6::integer, $7::timestamptz, $8::bigint
		WHERE `+lineageExists+`
		ON CONFLICT (lineage_id) DO UPDATE SET remaining = excluded.remaining,
			refill_interval = excluded.refill_interval, refill_amount = excluded.refill_amount,
			refill_day = excluded.refill_day, refilled_at = excluded.refilled_at,
			version = excluded.version
		WHERE key_credits.account_id = excluded.account_id`,
		lineageID, accountID, c.Remaining, interval, amount, day, nullRefilledAt(c.RefilledAt), c.Version)
	if err != nil {
		return writeError(err, "credits of key lineage "+lineageID, nil)
	}
	if tag.RowsAffected() == 0 {
		return notFound("key lineage", lineageID)
	}
	return nil
}

// insertCredits is the step that inserts k.Credits as its lineage's credits unless the
// lineage has some already.
func insertCredits(k *keyward.Key) step {
	c := k.Credits
	interval, amount, day := storecodec.RefillColumns(c.Refill)
	return step{
		sql: `INSERT INTO key_credits (lineage_id, account_id, ` + strings.Join(creditColumnList, ", ") + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (lineage_id) DO NOTHING`,
		args: []any{k.LineageID, k.AccountID, c.Remaining, interval, amount, day, nullRefilledAt(c.RefilledAt), c.Version},
		explain: func(err error) error {
			return writeError(err, "credits of key lineage "+k.LineageID, nil)
		},
	}
}

// SpendCredits applies a due refill to the lineage's credits and then takes cost from them if
// they cover it, in a transaction that locks the credits' row before it reads it: concurrent
// spends of one lineage take turns, and each sees what the last left. Errors: ENotFound if
// the lineage has no credits; EValidation for a negative cost.
func (s *Store) SpendCredits(ctx context.Context, lineageID string, cost int64, now time.Time) (keyward.CreditSpend, error) {
	if cost < 0 {
		return keyward.CreditSpend{}, keyward.Errorf(keyward.EValidation, "a cost may not be negative")
	}
	var spend keyward.CreditSpend
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var nc nullCredits
		err := tx.QueryRow(ctx,
			`SELECT `+strings.Join(creditColumnList, ", ")+` FROM key_credits WHERE lineage_id = $1
			FOR NO KEY UPDATE`, lineageID).Scan(nc.dest()...)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("credits of key lineage", lineageID)
		}
		if err != nil {
			return fmt.Errorf("postgres: spend credits of lineage %s: %w", lineageID, err)
		}
		before := nc.credits()
		after := before.Refilled(now)
		if after.Remaining >= cost {
			after.Remaining -= cost
			spend.OK = true
		}
		spend.Remaining = after.Remaining
		if after.Remaining == before.Remaining && after.RefilledAt.Equal(before.RefilledAt) {
			return nil // nothing spent, nothing refilled
		}
		_, err = tx.Exec(ctx, `UPDATE key_credits SET remaining = $1, refilled_at = $2 WHERE lineage_id = $3`,
			after.Remaining, nullRefilledAt(after.RefilledAt), lineageID)
		if err != nil {
			return fmt.Errorf("postgres: spend credits of lineage %s: %w", lineageID, err)
		}
		return nil
	})
	if err != nil {
		return keyward.CreditSpend{}, writeError(err, "credits of key lineage "+lineageID, nil)
	}
	return spend, nil
}

// nullRefilledAt stores the zero time, credits never refilled, as NULL.
func nullRefilledAt(t time.Time) any {
	return nullTS(storecodec.RefilledAtColumn(t))
}

// MirrorCredits writes back the mirrors that are newer than what is stored, in one
// transaction and in lineage order (so that nodes writing at once lock rows in the same
// order); see keyward.KeyStore.
func (s *Store) MirrorCredits(ctx context.Context, mirrors []keyward.CreditMirror) error {
	if len(mirrors) == 0 {
		return nil
	}
	sorted := slices.SortedFunc(slices.Values(mirrors), func(a, b keyward.CreditMirror) int { return strings.Compare(a.LineageID, b.LineageID) })
	return s.inTx(ctx, func(tx pgx.Tx) error {
		for _, m := range sorted {
			_, err := tx.Exec(ctx, `UPDATE key_credits SET remaining = $2, refilled_at = $3::timestamptz
				WHERE lineage_id = $1 AND version = $4
				AND (coalesce(refilled_at, '-infinity') < coalesce($3::timestamptz, '-infinity')
					OR (refilled_at IS NOT DISTINCT FROM $3::timestamptz AND remaining > $2))`,
				m.LineageID, m.Remaining, nullRefilledAt(m.RefilledAt), m.Version)
			if err != nil {
				return fmt.Errorf("postgres: mirror credits of lineage %s: %w", m.LineageID, err)
			}
		}
		return nil
	})
}
