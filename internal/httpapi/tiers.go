package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// RateLimitJSON is a rate limit on the wire: rate per period with a burst (GCRA), and an
// optional quota per fixed window.
type RateLimitJSON struct {
	Rate               int64 `json:"rate" minimum:"1" maximum:"1000000" doc:"Verifications per period."`
	PeriodSeconds      int64 `json:"period_seconds,omitempty" minimum:"1" maximum:"86400" doc:"Default 1."`
	Burst              int64 `json:"burst,omitempty" minimum:"1" maximum:"1000000" doc:"Verifications allowed at once; default: rate."`
	QuotaLimit         int64 `json:"quota_limit,omitempty" minimum:"0" doc:"At most this many verifications in each quota window; 0 or absent for no quota."`
	QuotaWindowSeconds int64 `json:"quota_window_seconds,omitempty" minimum:"0" maximum:"2678400" doc:"The quota's window, counted from the Unix epoch: 86400 is a UTC day."`
}

func rateLimitJSON(l keyward.RateLimit) RateLimitJSON {
	return RateLimitJSON{Rate: l.Rate, PeriodSeconds: int64(l.Period / time.Second), Burst: l.Burst,
		QuotaLimit: l.QuotaLimit, QuotaWindowSeconds: int64(l.QuotaWindow / time.Second)}
}

func (l *RateLimitJSON) domain() *keyward.RateLimit {
	if l == nil {
		return nil
	}
	out := keyward.RateLimit{Rate: l.Rate, Period: time.Duration(l.PeriodSeconds) * time.Second, Burst: l.Burst,
		QuotaLimit: l.QuotaLimit, QuotaWindow: time.Duration(l.QuotaWindowSeconds) * time.Second}
	if out.Period == 0 {
		out.Period = time.Second
	}
	if out.Burst == 0 {
		out.Burst = out.Rate
	}
	return &out
}

// TierJSON is a rate-limit tier.
type TierJSON struct {
	Name             string           `json:"name"`
	Description      string           `json:"description"`
	RateLimit        RateLimitJSON    `json:"rate_limit"`
	RequiresApproval bool             `json:"requires_approval" doc:"A key gets the tier only when someone with api_keys.approve_high_tier grants it."`
	FailMode         keyward.FailMode `json:"fail_mode" enum:"fail_open,fail_closed" doc:"What verifications of the tier's keys do while Redis cannot be reached: fail_open lets them through unlimited, fail_closed answers RATE_LIMITED."`
	BuiltIn          bool             `json:"built_in" doc:"One of the tiers every account has (standard, high)."`
	UpdatedAt        *time.Time       `json:"updated_at" doc:"null for a built-in tier the account has not changed."`
}

func tierJSON(t *keyward.RateLimitTier) TierJSON {
	out := TierJSON{Name: t.Name, Description: t.Description, RateLimit: rateLimitJSON(t.Limit),
		RequiresApproval: t.RequiresApproval, FailMode: t.FailMode,
		BuiltIn: t.Name == keyward.TierStandard || t.Name == keyward.TierHigh}
	if !t.UpdatedAt.IsZero() {
		out.UpdatedAt = &t.UpdatedAt
	}
	return out
}

// TierFields are a tier's settable fields, on create and update.
type TierFields struct {
	Description      *string           `json:"description,omitempty" maxLength:"1000"`
	RateLimit        *RateLimitJSON    `json:"rate_limit,omitempty"`
	RequiresApproval *bool             `json:"requires_approval,omitempty"`
	FailMode         *keyward.FailMode `json:"fail_mode,omitempty" enum:"fail_open,fail_closed" doc:"Default fail_open."`
}

func (b TierFields) input(name string) keyward.TierInput {
	return keyward.TierInput{Name: name, Description: b.Description, Limit: b.RateLimit.domain(),
		RequiresApproval: b.RequiresApproval, FailMode: b.FailMode}
}

type createTierInput struct {
	Body struct {
		Name string `json:"name" minLength:"1" maxLength:"64" doc:"Lower-case letters, digits and '-', starting with a letter."`
		TierFields
	}
}

// TierNameParam is a tier's name in a path.
type TierNameParam struct {
	Name string `path:"name" maxLength:"64" doc:"Tier name."`
}

type updateTierInput struct {
	TierNameParam
	Body TierFields
}

type tierOutput struct {
	Body TierJSON
}

type tiersOutput struct {
	Body []TierJSON
}

func (s *Server) tierRoutes() []route {
	tags := []string{"Rate limits"}
	return []route{
		operation(huma.Operation{
			OperationID: "list-rate-limit-tiers", Method: http.MethodGet, Path: "/v1/rate-limit-tiers",
			Summary: "List rate-limit tiers", Description: "The built-in tiers (standard, high), as the account has set them, and its own, by name.", Tags: tags,
		}, s.listTiers),
		operation(huma.Operation{
			OperationID: "create-rate-limit-tier", Description: "A tier of the account's own: a rate, a burst and an optional quota, and whether keys need approval to take it. Needs rate_limit_tiers.write.", Method: http.MethodPost, Path: "/v1/rate-limit-tiers", DefaultStatus: http.StatusCreated,
			Summary: "Create a rate-limit tier", Tags: tags, Errors: []int{http.StatusConflict},
		}, s.createTier),
		operation(huma.Operation{
			OperationID: "get-rate-limit-tier", Description: "A built-in tier (standard, high) as the account has it, or one of the account's own. Needs rate_limit_tiers.read.", Method: http.MethodGet, Path: "/v1/rate-limit-tiers/{name}",
			Summary: "Get a rate-limit tier", Tags: tags,
		}, s.getTier),
		operation(huma.Operation{
			OperationID: "update-rate-limit-tier", Method: http.MethodPatch, Path: "/v1/rate-limit-tiers/{name}",
			Summary: "Update a rate-limit tier", Description: "Built-in tiers may be changed too. Every key on the tier is held to the new limit within a second, on every node.", Tags: tags,
		}, s.updateTier),
	}
}

func (s *Server) listTiers(ctx context.Context, _ *struct{}) (*tiersOutput, error) {
	ts, err := s.svc.RateLimitTiers(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	out := &tiersOutput{Body: make([]TierJSON, len(ts))}
	for i, t := range ts {
		out.Body[i] = tierJSON(t)
	}
	return out, nil
}

func (s *Server) createTier(ctx context.Context, in *createTierInput) (*tierOutput, error) {
	t, err := s.svc.CreateRateLimitTier(ctx, principal(ctx), in.Body.TierFields.input(in.Body.Name))
	if err != nil {
		return nil, err
	}
	return &tierOutput{Body: tierJSON(t)}, nil
}

func (s *Server) getTier(ctx context.Context, in *TierNameParam) (*tierOutput, error) {
	t, err := s.svc.RateLimitTier(ctx, principal(ctx), in.Name)
	if err != nil {
		return nil, err
	}
	return &tierOutput{Body: tierJSON(t)}, nil
}

func (s *Server) updateTier(ctx context.Context, in *updateTierInput) (*tierOutput, error) {
	t, err := s.svc.UpdateRateLimitTier(ctx, principal(ctx), in.Name, in.Body.input(""))
	if err != nil {
		return nil, err
	}
	return &tierOutput{Body: tierJSON(t)}, nil
}
