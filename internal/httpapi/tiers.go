package httpapi

import (
	"context"
	"net/http"
	"net/url"
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

// TierRequestJSON is a request for a tier that needs approval.
type TierRequestJSON struct {
	ID          string                    `json:"id"`
	KeyID       string                    `json:"key_id"`
	Tier        string                    `json:"tier"`
	Status      keyward.TierRequestStatus `json:"status" enum:"pending,approved,rejected"`
	RequestedBy string                    `json:"requested_by"`
	CreatedAt   time.Time                 `json:"created_at"`
	DecidedBy   *string                   `json:"decided_by"`
	DecidedAt   *time.Time                `json:"decided_at"`
	Reason      *string                   `json:"reason"`
}

func tierRequestJSON(r *keyward.TierRequest) *TierRequestJSON {
	if r == nil {
		return nil
	}
	return &TierRequestJSON{ID: r.ID, KeyID: r.KeyID, Tier: r.Tier, Status: r.Status, RequestedBy: r.RequestedBy,
		CreatedAt: r.CreatedAt, DecidedBy: optional(r.DecidedBy), DecidedAt: r.DecidedAt, Reason: optional(r.Reason)}
}

type tierRequestOutput struct {
	Body *TierRequestJSON
}

// TierRequestIDParam is a tier request's id in a path.
type TierRequestIDParam struct {
	RequestID string `path:"requestID" doc:"Tier request id."`
}

type decideTierInput struct {
	TierRequestIDParam
	Body *struct {
		Reason string `json:"reason,omitempty" maxLength:"1000"`
	}
}

type listTierRequestsInput struct {
	KeyID  string `query:"key_id" doc:"Only requests for this key."`
	Status string `query:"status" enum:"pending,approved,rejected" doc:"Only requests in this state."`
	PageParams
}

type listTierRequestsOutput struct {
	PageHeaders
	Body []*TierRequestJSON
}

func (s *Server) registerTiers() {
	tags := []string{"Rate limits"}
	register(s, s.managed(huma.Operation{
		OperationID: "list-rate-limit-tiers", Method: http.MethodGet, Path: "/v1/rate-limit-tiers",
		Summary: "List rate-limit tiers", Description: "The built-in tiers (standard, high), as the account has set them, and its own, by name.", Tags: tags,
	}), func(ctx context.Context, _ *struct{}) (*tiersOutput, error) {
		ts, err := s.svc.RateLimitTiers(ctx, principal(ctx))
		if err != nil {
			return nil, err
		}
		out := &tiersOutput{Body: make([]TierJSON, len(ts))}
		for i, t := range ts {
			out.Body[i] = tierJSON(t)
		}
		return out, nil
	})

	register(s, s.managed(huma.Operation{
		OperationID: "create-rate-limit-tier", Method: http.MethodPost, Path: "/v1/rate-limit-tiers", DefaultStatus: http.StatusCreated,
		Summary: "Create a rate-limit tier", Tags: tags, Errors: []int{http.StatusConflict},
	}), func(ctx context.Context, in *createTierInput) (*tierOutput, error) {
		t, err := s.svc.CreateRateLimitTier(ctx, principal(ctx), in.Body.TierFields.input(in.Body.Name))
		if err != nil {
			return nil, err
		}
		return &tierOutput{Body: tierJSON(t)}, nil
	})

	register(s, s.managed(huma.Operation{
		OperationID: "get-rate-limit-tier", Method: http.MethodGet, Path: "/v1/rate-limit-tiers/{name}",
		Summary: "Get a rate-limit tier", Tags: tags,
	}), func(ctx context.Context, in *TierNameParam) (*tierOutput, error) {
		t, err := s.svc.RateLimitTier(ctx, principal(ctx), in.Name)
		if err != nil {
			return nil, err
		}
		return &tierOutput{Body: tierJSON(t)}, nil
	})

	register(s, s.managed(huma.Operation{
		OperationID: "update-rate-limit-tier", Method: http.MethodPatch, Path: "/v1/rate-limit-tiers/{name}",
		Summary: "Update a rate-limit tier", Description: "Built-in tiers may be changed too. Every key on the tier is held to the new limit within a second, on every node.", Tags: tags,
	}), func(ctx context.Context, in *updateTierInput) (*tierOutput, error) {
		t, err := s.svc.UpdateRateLimitTier(ctx, principal(ctx), in.Name, in.Body.input(""))
		if err != nil {
			return nil, err
		}
		return &tierOutput{Body: tierJSON(t)}, nil
	})

	register(s, s.managed(huma.Operation{
		OperationID: "request-rate-limit-tier", Method: http.MethodPost, Path: "/v1/api-keys/{keyID}/tier-requests", DefaultStatus: http.StatusCreated,
		Summary:     "Ask for a key's tier",
		Description: "A tier that needs no approval, or asked for by someone who may approve it (api_keys.approve_high_tier), is granted at once: the request comes back approved. Otherwise it comes back pending until approved or rejected.",
		Tags:        tags, Errors: []int{http.StatusConflict},
	}), func(ctx context.Context, in *struct {
		KeyIDParam
		Body struct {
			Tier string `json:"tier" minLength:"1" maxLength:"64"`
		}
	}) (*tierRequestOutput, error) {
		r, err := s.svc.RequestTier(ctx, principal(ctx), in.KeyID, in.Body.Tier)
		if err != nil {
			return nil, err
		}
		return &tierRequestOutput{Body: tierRequestJSON(r)}, nil
	})

	register(s, s.managed(huma.Operation{
		OperationID: "list-tier-requests", Method: http.MethodGet, Path: "/v1/tier-requests",
		Summary: "List tier requests", Description: "Oldest first. More pages are announced in X-Next-Cursor and Link.", Tags: tags,
	}), func(ctx context.Context, in *listTierRequestsInput) (*listTierRequestsOutput, error) {
		pg, err := in.page()
		if err != nil {
			return nil, err
		}
		rs, next, err := s.svc.TierRequests(ctx, principal(ctx), in.KeyID, keyward.TierRequestStatus(in.Status), pg)
		if err != nil {
			return nil, err
		}
		out := &listTierRequestsOutput{Body: make([]*TierRequestJSON, len(rs))}
		for i, r := range rs {
			out.Body[i] = tierRequestJSON(r)
		}
		out.PageHeaders = nextPage("/v1/tier-requests", url.Values{"key_id": {in.KeyID}, "status": {in.Status}}, in.Limit, next)
		return out, nil
	})

	register(s, s.managed(huma.Operation{
		OperationID: "get-tier-request", Method: http.MethodGet, Path: "/v1/tier-requests/{requestID}",
		Summary: "Get a tier request", Tags: tags,
	}), func(ctx context.Context, in *TierRequestIDParam) (*tierRequestOutput, error) {
		r, err := s.svc.TierRequest(ctx, principal(ctx), in.RequestID)
		if err != nil {
			return nil, err
		}
		return &tierRequestOutput{Body: tierRequestJSON(r)}, nil
	})

	for _, d := range []struct {
		verb    string
		approve bool
	}{{"approve", true}, {"reject", false}} {
		register(s, s.managed(huma.Operation{
			OperationID: d.verb + "-tier-request", Method: http.MethodPost, Path: "/v1/tier-requests/{requestID}/" + d.verb,
			Summary:     map[bool]string{true: "Approve a tier request", false: "Reject a tier request"}[d.approve],
			Description: "Needs api_keys.approve_high_tier. An approval gives the key the tier at once, on every node within a second. A request is decided once (409 after).",
			Tags:        tags, Errors: []int{http.StatusConflict},
		}), func(ctx context.Context, in *decideTierInput) (*tierRequestOutput, error) {
			var reason string
			if in.Body != nil {
				reason = in.Body.Reason
			}
			r, err := s.svc.DecideTierRequest(ctx, principal(ctx), in.RequestID, d.approve, reason)
			if err != nil {
				return nil, err
			}
			return &tierRequestOutput{Body: tierRequestJSON(r)}, nil
		})
	}

	register(s, s.managed(huma.Operation{
		OperationID: "get-api-key-usage", Method: http.MethodGet, Path: "/v1/api-keys/{keyID}/usage",
		Summary: "A key's verifications over time", Description: "Counts by outcome per bucket, oldest first; buckets with no verification are left out. Counts reach the report within about two seconds.", Tags: tags,
	}), func(ctx context.Context, in *struct {
		KeyIDParam
		UsageParams
	}) (*usageOutput, error) {
		return s.usage(ctx, in.UsageParams, keyward.UsageInput{KeyID: in.KeyID})
	})

	register(s, s.managed(huma.Operation{
		OperationID: "get-usage", Method: http.MethodGet, Path: "/v1/usage",
		Summary: "Verifications over time, for the account or a project", Description: "As get-api-key-usage, summed over every key of the account, or of project_id.", Tags: tags,
	}), func(ctx context.Context, in *struct {
		ProjectID string `query:"project_id" doc:"Only keys of this project."`
		UsageParams
	}) (*usageOutput, error) {
		return s.usage(ctx, in.UsageParams, keyward.UsageInput{ProjectID: in.ProjectID})
	})
}

// UsageParams choose a usage report's span and buckets.
type UsageParams struct {
	From        time.Time `query:"from" doc:"Start (RFC 3339); default: to minus 24 hours."`
	To          time.Time `query:"to" doc:"End, exclusive (RFC 3339); default: now."`
	Granularity string    `query:"granularity" enum:"minute,hour,day" default:"hour"`
}

// UsageJSON is a usage report.
type UsageJSON struct {
	KeyID       *string           `json:"key_id"`
	ProjectID   *string           `json:"project_id"`
	From        time.Time         `json:"from"`
	To          time.Time         `json:"to"`
	Granularity string            `json:"granularity"`
	Total       int64             `json:"total"`
	Buckets     []UsageBucketJSON `json:"buckets"`
}

// UsageBucketJSON is one bucket of a usage report.
type UsageBucketJSON struct {
	Start    time.Time        `json:"start"`
	Total    int64            `json:"total"`
	Outcomes map[string]int64 `json:"outcomes" doc:"Counts by verification code (VALID, RATE_LIMITED, …); codes with no count are left out."`
}

type usageOutput struct {
	Body UsageJSON
}

var granularities = map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}

func (s *Server) usage(ctx context.Context, p UsageParams, in keyward.UsageInput) (*usageOutput, error) {
	in.To, in.From, in.Granularity = p.To, p.From, granularities[p.Granularity]
	if in.To.IsZero() {
		in.To = s.svc.Now()
	}
	if in.From.IsZero() {
		in.From = in.To.Add(-24 * time.Hour)
	}
	buckets, err := s.svc.Usage(ctx, principal(ctx), in)
	if err != nil {
		return nil, err
	}
	out := UsageJSON{KeyID: optional(in.KeyID), ProjectID: optional(in.ProjectID), From: in.From.UTC(), To: in.To.UTC(),
		Granularity: p.Granularity, Buckets: []UsageBucketJSON{}}
	for _, b := range buckets {
		n := len(out.Buckets)
		if n == 0 || !out.Buckets[n-1].Start.Equal(b.Start) {
			out.Buckets = append(out.Buckets, UsageBucketJSON{Start: b.Start.UTC(), Outcomes: map[string]int64{}})
			n++
		}
		out.Buckets[n-1].Outcomes[string(b.Outcome)] += b.Count
		out.Buckets[n-1].Total += b.Count
		out.Total += b.Count
	}
	return &usageOutput{Body: out}, nil
}
