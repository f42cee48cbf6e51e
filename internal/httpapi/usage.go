package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

type (
	keyUsageInput struct {
		KeyIDParam
		UsageParams
	}
	usageInput struct {
		ProjectID string `query:"project_id" doc:"Only keys of this project."`
		UsageParams
	}
)

func (s *Server) usageRoutes() []route {
	tags := []string{"Rate limits"}
	return []route{
		operation(huma.Operation{
			OperationID: "get-api-key-usage", Method: http.MethodGet, Path: "/v1/api-keys/{keyID}/usage",
			Summary: "A key's verifications over time", Description: "Counts by outcome per bucket, oldest first; buckets with no verification are left out. Counts reach the report within about two seconds.", Tags: tags,
		}, s.getKeyUsage),
		operation(huma.Operation{
			OperationID: "get-usage", Method: http.MethodGet, Path: "/v1/usage",
			Summary: "Verifications over time, for the account or a project", Description: "As get-api-key-usage, summed over every key of the account, or of project_id.", Tags: tags,
		}, s.getUsage),
	}
}

func (s *Server) getKeyUsage(ctx context.Context, in *keyUsageInput) (*usageOutput, error) {
	return s.usageReport(ctx, in.UsageParams, keyward.UsageInput{KeyID: in.KeyID})
}

func (s *Server) getUsage(ctx context.Context, in *usageInput) (*usageOutput, error) {
	return s.usageReport(ctx, in.UsageParams, keyward.UsageInput{ProjectID: in.ProjectID})
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

func (s *Server) usageReport(ctx context.Context, p UsageParams, in keyward.UsageInput) (*usageOutput, error) {
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
