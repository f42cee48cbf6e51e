package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

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
	refilledAt sql.NullInt64
}

// dest returns the scan destinations, in the order of creditColumnList.
func (c *nullCredits) dest() []any {
	return []any{&c.Remaining, &c.Interval, &c.Amount, &c.Day, &c.refilledAt, &c.Version}
}

// credits returns what was scanned: nil for no row.
func (c *nullCredits) credits() *keyward.Credits {
	return c.Credits(fromNullMicros(c.refilledAt))
}

// SetCredits sets the usage credits of the account's key lineage, or with a nil c removes
// them. Errors: ENotFound if no key of the account has the lineage.
func (s *Store) SetCredits(ctx context.Context, accountID, lineageID string, c *keyward.Credits) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		found, err := exists(ctx, tx, `SELECT 1 FROM api_keys WHERE lineage_id = ? AND account_id = ?`, lineageID, accountID)
		if err != nil {
			return err
		}
		if !found {
			return notFound("key lineage", lineageID)
		}
		if c == nil {
			_, err := tx.ExecContext(ctx, `DELETE FROM key_credits WHERE lineage_id = ? AND account_id = ?`, lineageID, accountID)
			if err != nil {
				return fmt.Errorf("sqlite: credits of lineage %s: %w", lineageID, err)
			}
			return nil
		}
		return writeCredits(ctx, tx, accountID, lineageID, c, false)
	})
}

// writeCredits writes c as the lineage's credits, replacing those it has, or with keep only if
// it has none.
func writeCredits(ctx context.Context, tx *sql.Tx, accountID, lineageID string, c *keyward.Credits, keep bool) error {
	interval, amount, day := storecodec.RefillColumns(c.Refill)
	// Another account's credits of the lineage, which only a key given another account's
	// lineage could meet, are left alone: the lineage is not found in this account.
	conflict := `DO UPDATE SET remaining = excluded.remaining,
		refill_interval = excluded.refill_interval, refill_amount = excluded.refill_amount,
		refill_day = excluded.refill_day, refilled_at = excluded.refilled_at,
		version = excluded.version
		WHERE key_credits.account_id = excluded.account_id`
	if keep {
		conflict = `DO NOTHING`
	}
	res, err := tx.ExecContext(ctx,
		`INSERT INTO key_credits (lineage_id, account_id, `+strings.Join(creditColumnList, ", ")+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (lineage_id) `+conflict,
		lineageID, accountID, c.Remaining, interval, amount, day, nullRefilledAt(c.RefilledAt), c.Version)
	if keep {
		if err != nil {
			return fmt.Errorf("sqlite: credits of lineage %s: %w", lineageID, err)
		}
		return nil
	}
	return affected(res, err, "write credits of", "key lineage", lineageID)
}

// SpendCredits applies a due refill to the lineage's credits and then takes cost from them if
// they cover it. It runs in a transaction on the write connection, which takes SQLite's write
// lock before it reads: concurrent spends take turns, and each sees what the last left.
// Errors: ENotFound if the lineage has no credits; EValidation for a negative cost.
func (s *Store) SpendCredits(ctx context.Context, lineageID string, cost int64, now time.Time) (keyward.CreditSpend, error) {
	if cost < 0 {
		return keyward.CreditSpend{}, keyward.Errorf(keyward.EValidation, "a cost may not be negative")
	}
	var spend keyward.CreditSpend
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var nc nullCredits
		err := tx.QueryRowContext(ctx,
			`SELECT `+strings.Join(creditColumnList, ", ")+` FROM key_credits WHERE lineage_id = ?`, lineageID).
			Scan(nc.dest()...)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("credits of key lineage", lineageID)
		}
		if err != nil {
			return fmt.Errorf("sqlite: spend credits of lineage %s: %w", lineageID, err)
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
		_, err = tx.ExecContext(ctx, `UPDATE key_credits SET remaining = ?, refilled_at = ? WHERE lineage_id = ?`,
			after.Remaining, nullRefilledAt(after.RefilledAt), lineageID)
		if err != nil {
			return fmt.Errorf("sqlite: spend credits of lineage %s: %w", lineageID, err)
		}
		return nil
	})
	if err != nil {
		return keyward.CreditSpend{}, err
	}
	return spend, nil
}

// nullRefilledAt stores the zero time, credits never refilled, as NULL.
func nullRefilledAt(t time.Time) any {
	return nullMicros(storecodec.RefilledAtColumn(t))
}

// MirrorCredits writes back the mirrors that are newer than what is stored, in one
// transaction; see keyward.KeyStore.
func (s *Store) MirrorCredits(ctx context.Context, mirrors []keyward.CreditMirror) error {
	if len(mirrors) == 0 {
		return nil
	}
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		for _, m := range mirrors {
			at := nullRefilledAt(m.RefilledAt)
			_, err := tx.ExecContext(ctx, `UPDATE key_credits SET remaining = ?, refilled_at = ?
				WHERE lineage_id = ? AND version = ?
				AND (coalesce(refilled_at, -1) < coalesce(?, -1)
					OR (coalesce(refilled_at, -1) = coalesce(?, -1) AND remaining > ?))`,
				m.Remaining, at, m.LineageID, m.Version, at, at, m.Remaining)
			if err != nil {
				return fmt.Errorf("sqlite: mirror credits of lineage %s: %w", m.LineageID, err)
			}
		}
		return nil
	})
}
