package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/verify"
)

// UsageReportJSON reports uses of keys that the caller judged itself, from valid verdicts it
// keeps (the Go middleware does, between its calls to verify).
type UsageReportJSON struct {
	Uses []ReportedUseJSON `json:"uses" maxItems:"1000" nullable:"false" doc:"One entry per key; a key named twice is counted twice. At most 1000: send more in several reports."`
}

// ReportedUseJSON is one key's uses since the last report.
type ReportedUseJSON struct {
	KeyID      string               `json:"key_id" minLength:"1" maxLength:"64"`
	Outcomes   ReportedOutcomesJSON `json:"outcomes"`
	LastUsedAt *time.Time           `json:"last_used_at,omitempty" doc:"The latest VALID use; default: now, when there was one. It raises the key's last_used_at, never past now."`
}

// ReportedOutcomesJSON counts one key's uses by verdict: the two a caller decides itself.
type ReportedOutcomesJSON struct {
	Valid       int64 `json:"VALID,omitempty" minimum:"0" maximum:"1099511627776" doc:"Uses let through."`
	RateLimited int64 `json:"RATE_LIMITED,omitempty" minimum:"0" maximum:"1099511627776" doc:"Uses refused under the key's rate limit."`
}

// UsageReportResultJSON says what became of a report.
type UsageReportResultJSON struct {
	Recorded int `json:"recorded" doc:"Entries of the account's keys, recorded."`
	Skipped  int `json:"skipped" doc:"Entries of keys that do not exist or are not the account's, skipped."`
}

type usageReportInput struct {
	Body UsageReportJSON
}

type usageReportOutput struct {
	Body UsageReportResultJSON
}

func (s *Server) usageReportRoutes() []route {
	return []route{
		operation(huma.Operation{
			OperationID: "report-key-usage", Method: http.MethodPost, Path: "/v1/keys/usage",
			Summary: "Report uses of keys verified from a cache",
			Description: "For a caller that keeps valid verdicts in-process and follows GET /v1/events (the Go middleware reports once a second): " +
				"the counts are added to the keys' usage as if they had been verified here, and last_used_at is raised. " +
				"Only keys of the caller's account are recorded; others are skipped and counted. " +
				"The counts do not spend the keys' rate limits here: a caller that verifies in-process holds each key to its limit itself. Needs api_keys.read.",
			Tags: []string{"Verification"},
		}, s.reportKeyUsage),
	}
}

func (s *Server) reportKeyUsage(ctx context.Context, in *usageReportInput) (*usageReportOutput, error) {
	p, err := principalWith(ctx, keyward.PermKeysRead)
	if err != nil {
		return nil, err
	}
	uses := make([]verify.ReportedUse, 0, len(in.Body.Uses))
	for _, u := range in.Body.Uses {
		r := verify.ReportedUse{KeyID: u.KeyID, Outcomes: map[keyward.VerifyCode]int64{
			keyward.VerifyValid: u.Outcomes.Valid, keyward.VerifyRateLimited: u.Outcomes.RateLimited}}
		if u.LastUsedAt != nil {
			r.LastUsed = *u.LastUsedAt
		}
		uses = append(uses, r)
	}
	recorded, skipped, err := s.verifier.RecordUses(ctx, p.AccountID, uses)
	if err != nil {
		return nil, err
	}
	return &usageReportOutput{Body: UsageReportResultJSON{Recorded: recorded, Skipped: skipped}}, nil
}
