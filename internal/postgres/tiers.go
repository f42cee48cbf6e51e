package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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
	_, err = s.db().Exec(ctx,
		`INSERT INTO rate_limit_tiers (`+tierColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		t.AccountID, t.Name, t.Description, t.Limit.Rate, period, t.Limit.Burst, t.Limit.QuotaLimit,
		window, t.RequiresApproval, string(t.FailMode), ts(t.CreatedAt), ts(t.UpdatedAt))
	return writeError(err, "rate limit tier "+t.Name, violations{
		"rate_limit_tiers_pkey":         conflict("the account has a rate limit tier named %q already", t.Name),
		"rate_limit_tiers_account_fkey": notFound("account", t.AccountID),
	})
}

// RateLimitTier returns the account's stored tier. Errors: ENotFound.
func (s *Store) RateLimitTier(ctx context.Context, accountID, name string) (*keyward.RateLimitTier, error) {
	t, err := scanTier(s.db().QueryRow(ctx,
		`SELECT `+tierColumns+` FROM rate_limit_tiers WHERE account_id = $1 AND name = $2`, accountID, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("rate limit tier", name)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: rate limit tier %s: %w", name, err)
	}
	return t, nil
}

// ListRateLimitTiers returns the account's stored tiers, by name.
func (s *Store) ListRateLimitTiers(ctx context.Context, accountID string) ([]*keyward.RateLimitTier, error) {
	return query(ctx, s.db(), scanTier, "list rate limit tiers",
		`SELECT `+tierColumns+` FROM rate_limit_tiers WHERE account_id = $1 ORDER BY name`, accountID)
}

// UpdateRateLimitTier writes t's description, limit, requires_approval, fail mode and
// updated_at. Errors: ENotFound; EValidation for a limit that is not in whole seconds.
func (s *Store) UpdateRateLimitTier(ctx context.Context, t *keyward.RateLimitTier) error {
	period, window, err := storecodec.LimitSeconds(t.Limit)
	if err != nil {
		return err
	}
	return s.execOne(ctx, "rate limit tier", t.Name, nil,
		`UPDATE rate_limit_tiers SET description = $1, rate = $2, period_seconds = $3, burst = $4,
			quota_limit = $5, quota_window_seconds = $6, requires_approval = $7, fail_mode = $8,
			updated_at = $9
		WHERE account_id = $10 AND name = $11`,
		t.Description, t.Limit.Rate, period, t.Limit.Burst, t.Limit.QuotaLimit, window,
		t.RequiresApproval, string(t.FailMode), ts(t.UpdatedAt), t.AccountID, t.Name)
}

func scanTier(row pgx.Row) (*keyward.RateLimitTier, error) {
	var (
		t                                       keyward.RateLimitTier
		rate, period, burst, quotaLimit, window int64
		failMode                                string
		createdAt, updatedAt                    time.Time
	)
	err := row.Scan(&t.AccountID, &t.Name, &t.Description, &rate, &period, &burst,
		&quotaLimit, &window, &t.RequiresApproval, &failMode, &createdAt, &updatedAt)
	if err != nil {
		return nil, err
	}
	t.Limit = storecodec.LimitFromSeconds(rate, period, burst, quotaLimit, window)
	t.FailMode = keyward.FailMode(failMode)
	t.CreatedAt = createdAt.UTC()
	t.UpdatedAt = updatedAt.UTC()
	return &t, nil
}

const tierRequestColumns = `id, account_id, key_id, tier, status, requested_by, created_at,
	decided_by, decided_at, reason`

// CreateTierRequest inserts r as it is, decided or not. Errors: ENotFound if its key is
// absent or another account's; EConflict if its id is taken.
func (s *Store) CreateTierRequest(ctx context.Context, r *keyward.TierRequest) error {
	_, err := s.db().Exec(ctx,
		`INSERT INTO tier_requests (`+tierRequestColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.ID, r.AccountID, r.KeyID, r.Tier, string(r.Status), r.RequestedBy, ts(r.CreatedAt),
		nullString(r.DecidedBy), nullTS(r.DecidedAt), r.Reason)
	return writeError(err, "tier request "+r.ID, violations{
		"tier_requests_pkey":     conflict("tier request %s already exists", r.ID),
		"tier_requests_key_fkey": notFound("key", r.KeyID),
	})
}

// TierRequest returns the account's tier request. Errors: ENotFound, also for another
// account's.
func (s *Store) TierRequest(ctx context.Context, accountID, id string) (*keyward.TierRequest, error) {
	r, err := scanTierRequest(s.db().QueryRow(ctx,
		`SELECT `+tierRequestColumns+` FROM tier_requests WHERE account_id = $1 AND id = $2`, accountID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("tier request", id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: tier request %s: %w", id, err)
	}
	return r, nil
}

// ListTierRequests returns up to f.Limit of the account's requests matching f with id >
// f.After, by id.
func (s *Store) ListTierRequests(ctx context.Context, f keyward.TierRequestFilter) ([]*keyward.TierRequest, error) {
	if f.Limit <= 0 {
		return nil, nil // PostgreSQL refuses a negative LIMIT
	}
	var q strings.Builder
	q.WriteString(`SELECT ` + tierRequestColumns + ` FROM tier_requests WHERE account_id = $1 AND id > $2`)
	args := []any{f.AccountID, f.After}
	cond := func(c string, v any) {
		args = append(args, v)
		fmt.Fprintf(&q, c, len(args))
	}
	if f.KeyID != "" {
		cond(` AND key_id = $%d`, f.KeyID)
	}
	if f.Status != "" {
		cond(` AND status = $%d`, string(f.Status))
	}
	cond(` ORDER BY id LIMIT $%d`, f.Limit)
	return query(ctx, s.db(), scanTierRequest, "list tier requests", q.String(), args...)
}

// DecideTierRequest moves the account's pending request r.ID to r.Status with r.DecidedBy,
// r.DecidedAt and r.Reason, and when it is approved gives the request's key the request's
// tier, in one transaction; r is then the request as stored. Errors: ENotFound, also for
// another account's; EConflict if it is no longer pending; EValidation if r.Status is neither
// approved nor rejected.
//
// Of two decisions of one request, the second waits for the first's row lock and then, at
// READ COMMITTED, finds the request no longer pending.
func (s *Store) DecideTierRequest(ctx context.Context, r *keyward.TierRequest) error {
	if r.Status != keyward.TierRequestApproved && r.Status != keyward.TierRequestRejected {
		return keyward.Errorf(keyward.EValidation, "a tier request is decided by approving or rejecting it, not %q", r.Status)
	}
	var decided *keyward.TierRequest
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		decided, err = scanTierRequest(tx.QueryRow(ctx,
			`UPDATE tier_requests SET status = $1, decided_by = $2, decided_at = $3, reason = $4
			WHERE account_id = $5 AND id = $6 AND status = $7 RETURNING `+tierRequestColumns,
			string(r.Status), nullString(r.DecidedBy), nullTS(r.DecidedAt), r.Reason,
			r.AccountID, r.ID, string(keyward.TierRequestPending)))
		if errors.Is(err, pgx.ErrNoRows) {
			var found bool
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tier_requests WHERE account_id = $1 AND id = $2)`,
				r.AccountID, r.ID).Scan(&found)
			switch {
			case err != nil:
				return fmt.Errorf("postgres: decide tier request %s: %w", r.ID, err)
			case !found:
				return notFound("tier request", r.ID)
			}
			return keyward.Errorf(keyward.EConflict, "tier request %s has been decided already", r.ID)
		}
		if err != nil {
			return fmt.Errorf("postgres: decide tier request %s: %w", r.ID, err)
		}
		if decided.Status != keyward.TierRequestApproved {
			return nil
		}
		// The foreign key keeps the key there and in the request's account.
		_, err = tx.Exec(ctx, `UPDATE api_keys SET rate_limit_tier = $1 WHERE account_id = $2 AND id = $3`,
			decided.Tier, decided.AccountID, decided.KeyID)
		if err != nil {
			return fmt.Errorf("postgres: decide tier request %s: %w", r.ID, err)
		}
		return nil
	})
	if err != nil {
		return writeError(err, "tier request "+r.ID, nil)
	}
	*r = *decided
	return nil
}

func scanTierRequest(row pgx.Row) (*keyward.TierRequest, error) {
	var (
		r         keyward.TierRequest
		status    string
		createdAt time.Time
		decidedBy *string
		decidedAt *time.Time
	)
	err := row.Scan(&r.ID, &r.AccountID, &r.KeyID, &r.Tier, &status, &r.RequestedBy, &createdAt,
		&decidedBy, &decidedAt, &r.Reason)
	if err != nil {
		return nil, err
	}
	r.Status = keyward.TierRequestStatus(status)
	r.CreatedAt = createdAt.UTC()
	r.DecidedBy = str(decidedBy)
	r.DecidedAt = utc(decidedAt)
	return &r, nil
}
