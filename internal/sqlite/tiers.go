package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/storecodec"
)

const tierColumns = `account_id, name, description, rate, period_seconds, burst, quota_limit,
	quota_window_seconds, requires_approval, fail_mode, created_at, updated_at`

// CreateRateLimitTier inserts t. Errors: EConflict if the account has a stored tier of its
// name; ENotFound if the account does not exist; EValidation for a limit that is not in whole
// seconds.
func (s *Store) CreateRateLimitTier(ctx context.Context, t *keyward.RateLimitTier) error {
	period, window, err := storecodec.LimitSeconds(t.Limit)
	if err != nil {
		return err
	}
	_, err = s.writer().ExecContext(ctx,
		`INSERT INTO rate_limit_tiers (`+tierColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.AccountID, t.Name, t.Description, t.Limit.Rate, period, t.Limit.Burst, t.Limit.QuotaLimit,
		window, t.RequiresApproval, string(t.FailMode), micros(t.CreatedAt), micros(t.UpdatedAt))
	if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
		return &keyward.Error{Code: keyward.ENotFound, Message: fmt.Sprintf("account %s not found", t.AccountID), Cause: err}
	}
	if err != nil {
		return insertError(err, "rate limit tier", t.Name, "rate_limit_tiers.name",
			fmt.Sprintf("the account has a rate limit tier named %q already", t.Name))
	}
	return nil
}

// RateLimitTier returns the account's stored tier. Errors: ENotFound.
func (s *Store) RateLimitTier(ctx context.Context, accountID, name string) (*keyward.RateLimitTier, error) {
	t, err := scanTier(s.reader().QueryRowContext(ctx,
		`SELECT `+tierColumns+` FROM rate_limit_tiers WHERE account_id = ? AND name = ?`, accountID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("rate limit tier", name)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: rate limit tier %s: %w", name, err)
	}
	return t, nil
}

// ListRateLimitTiers returns the account's stored tiers, by name.
func (s *Store) ListRateLimitTiers(ctx context.Context, accountID string) ([]*keyward.RateLimitTier, error) {
	return query(ctx, s.reader(), scanTier, "list rate limit tiers",
		`SELECT `+tierColumns+` FROM rate_limit_tiers WHERE account_id = ? ORDER BY name`, accountID)
}

// UpdateRateLimitTier writes t's description, limit, requires_approval, fail mode and
// updated_at. Errors: ENotFound; EValidation for a limit that is not in whole seconds.
func (s *Store) UpdateRateLimitTier(ctx context.Context, t *keyward.RateLimitTier) error {
	period, window, err := storecodec.LimitSeconds(t.Limit)
	if err != nil {
		return err
	}
	res, err := s.writer().ExecContext(ctx,
		`UPDATE rate_limit_tiers SET description = ?, rate = ?, period_seconds = ?, burst = ?,
			quota_limit = ?, quota_window_seconds = ?, requires_approval = ?, fail_mode = ?,
			updated_at = ?
		WHERE account_id = ? AND name = ?`,
		t.Description, t.Limit.Rate, period, t.Limit.Burst, t.Limit.QuotaLimit, window,
		t.RequiresApproval, string(t.FailMode), micros(t.UpdatedAt), t.AccountID, t.Name)
	return affected(res, err, "update", "rate limit tier", t.Name)
}

func scanTier(row scanner) (*keyward.RateLimitTier, error) {
	var (
		t                                       keyward.RateLimitTier
		rate, period, burst, quotaLimit, window int64
		failMode                                string
		createdAt, updatedAt                    int64
	)
	err := row.Scan(&t.AccountID, &t.Name, &t.Description, &rate, &period, &burst,
		&quotaLimit, &window, &t.RequiresApproval, &failMode, &createdAt, &updatedAt)
	if err != nil {
		return nil, err
	}
	t.Limit = storecodec.LimitFromSeconds(rate, period, burst, quotaLimit, window)
	t.FailMode = keyward.FailMode(failMode)
	t.CreatedAt = fromMicros(createdAt)
	t.UpdatedAt = fromMicros(updatedAt)
	return &t, nil
}

const tierRequestColumns = `id, account_id, key_id, tier, status, requested_by, created_at,
	decided_by, decided_at, reason`

// CreateTierRequest inserts r as it is, decided or not. Errors: ENotFound if its key is
// absent or another account's; EConflict if its id is taken.
func (s *Store) CreateTierRequest(ctx context.Context, r *keyward.TierRequest) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx,
			`INSERT INTO tier_requests (`+tierRequestColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.AccountID, r.KeyID, r.Tier, string(r.Status), r.RequestedBy, micros(r.CreatedAt),
			nullString(r.DecidedBy), nullMicros(r.DecidedAt), r.Reason)
		if isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) {
			if err := missingReference(ctx, tx, keyRef(r.AccountID, r.KeyID)); err != nil {
				return err
			}
		}
		if err != nil {
			return insertError(err, "tier request", r.ID, "tier_requests.id", fmt.Sprintf("tier request %s already exists", r.ID))
		}
		return nil
	})
}

// TierRequest returns the account's tier request. Errors: ENotFound, also for another
// account's.
func (s *Store) TierRequest(ctx context.Context, accountID, id string) (*keyward.TierRequest, error) {
	r, err := scanTierRequest(s.reader().QueryRowContext(ctx,
		`SELECT `+tierRequestColumns+` FROM tier_requests WHERE account_id = ? AND id = ?`, accountID, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("tier request", id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: tier request %s: %w", id, err)
	}
	return r, nil
}

// ListTierRequests returns up to f.Limit of the account's requests matching f with id >
// f.After, by id.
func (s *Store) ListTierRequests(ctx context.Context, f keyward.TierRequestFilter) ([]*keyward.TierRequest, error) {
	if f.Limit <= 0 {
		return nil, nil // SQLite would read a negative LIMIT as no limit at all
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + tierRequestColumns + ` FROM tier_requests WHERE account_id = ? AND id > ?`)
	args := []any{f.AccountID, f.After}
	if f.KeyID != "" {
		q.WriteString(` AND key_id = ?`)
		args = append(args, f.KeyID)
	}
	if f.Status != "" {
		q.WriteString(` AND status = ?`)
		args = append(args, string(f.Status))
	}
	q.WriteString(` ORDER BY id LIMIT ?`)
	args = append(args, f.Limit)
	return query(ctx, s.reader(), scanTierRequest, "list tier requests", q.String(), args...)
}

// DecideTierRequest moves the account's pending request r.ID to r.Status with r.DecidedBy,
// r.DecidedAt and r.Reason, and when it is approved gives the request's key the request's
// tier, in one transaction; r is then the request as stored. Errors: ENotFound, also for
// another account's; EConflict if it is no longer pending; EValidation if r.Status is neither
// approved nor rejected.
func (s *Store) DecideTierRequest(ctx context.Context, r *keyward.TierRequest) error {
	if r.Status != keyward.TierRequestApproved && r.Status != keyward.TierRequestRejected {
		return keyward.Errorf(keyward.EValidation, "a tier request is decided by approving or rejecting it, not %q", r.Status)
	}
	var decided *keyward.TierRequest
	err := s.writeTx(ctx, func(tx *sql.Tx) error {
		var err error
		decided, err = scanTierRequest(tx.QueryRowContext(ctx,
			`UPDATE tier_requests SET status = ?, decided_by = ?, decided_at = ?, reason = ?
			WHERE account_id = ? AND id = ? AND status = ? RETURNING `+tierRequestColumns,
			string(r.Status), nullString(r.DecidedBy), nullMicros(r.DecidedAt), r.Reason,
			r.AccountID, r.ID, string(keyward.TierRequestPending)))
		if errors.Is(err, sql.ErrNoRows) {
			found, err := exists(ctx, tx, `SELECT 1 FROM tier_requests WHERE account_id = ? AND id = ?`, r.AccountID, r.ID)
			if err != nil {
				return err
			}
			if !found {
				return notFound("tier request", r.ID)
			}
			return keyward.Errorf(keyward.EConflict, "tier request %s has been decided already", r.ID)
		}
		if err != nil {
			return fmt.Errorf("sqlite: decide tier request %s: %w", r.ID, err)
		}
		if decided.Status != keyward.TierRequestApproved {
			return nil
		}
		// The foreign key keeps the key there and in the request's account.
		_, err = tx.ExecContext(ctx, `UPDATE api_keys SET rate_limit_tier = ? WHERE account_id = ? AND id = ?`,
			decided.Tier, decided.AccountID, decided.KeyID)
		if err != nil {
			return fmt.Errorf("sqlite: decide tier request %s: %w", r.ID, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	*r = *decided
	return nil
}

func scanTierRequest(row scanner) (*keyward.TierRequest, error) {
	var (
		r         keyward.TierRequest
		status    string
		createdAt int64
		decidedBy sql.NullString
		decidedAt sql.NullInt64
	)
	err := row.Scan(&r.ID, &r.AccountID, &r.KeyID, &r.Tier, &status, &r.RequestedBy, &createdAt,
		&decidedBy, &decidedAt, &r.Reason)
	if err != nil {
		return nil, err
	}
	r.Status = keyward.TierRequestStatus(status)
	r.CreatedAt = fromMicros(createdAt)
	r.DecidedBy = decidedBy.String
	r.DecidedAt = fromNullMicros(decidedAt)
	return &r, nil
}
