package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

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

// requestTierInput is an alias of an anonymous struct, not a type of its own, because huma
// names an anonymous input's body schema after the operation (RequestRateLimitTierRequest),
// and the published document has that name.
type requestTierInput = struct {
	KeyIDParam
	Body struct {
		Tier string `json:"tier" minLength:"1" maxLength:"64"`
	}
}

func (s *Server) tierRequestRoutes() []route {
	tags := []string{"Rate limits"}
	decide := "Needs api_keys.approve_high_tier. An approval gives the key the tier at once, on every node within a second. A request is decided once (409 after)."
	return []route{
		operation(huma.Operation{
			OperationID: "request-rate-limit-tier", Method: http.MethodPost, Path: "/v1/api-keys/{keyID}/tier-requests", DefaultStatus: http.StatusCreated,
			Summary:     "Ask for a key's tier",
			Description: "A tier that needs no approval, or asked for by someone who may approve it (api_keys.approve_high_tier), is granted at once: the request comes back approved. Otherwise it comes back pending until approved or rejected.",
			Tags:        tags, Errors: []int{http.StatusConflict},
		}, s.requestTier),
		operation(huma.Operation{
			OperationID: "list-tier-requests", Method: http.MethodGet, Path: "/v1/tier-requests",
			Summary: "List tier requests", Description: "Oldest first. More pages are announced in X-Next-Cursor and Link.", Tags: tags,
		}, s.listTierRequests),
		operation(huma.Operation{
			OperationID: "get-tier-request", Description: "A request for a key's tier: pending, approved or rejected, and by whom. Needs api_keys.read.", Method: http.MethodGet, Path: "/v1/tier-requests/{requestID}",
			Summary: "Get a tier request", Tags: tags,
		}, s.getTierRequest),
		operation(huma.Operation{
			OperationID: "approve-tier-request", Method: http.MethodPost, Path: "/v1/tier-requests/{requestID}/approve",
			Summary: "Approve a tier request", Description: decide, Tags: tags, Errors: []int{http.StatusConflict},
		}, s.approveTierRequest),
		operation(huma.Operation{
			OperationID: "reject-tier-request", Method: http.MethodPost, Path: "/v1/tier-requests/{requestID}/reject",
			Summary: "Reject a tier request", Description: decide, Tags: tags, Errors: []int{http.StatusConflict},
		}, s.rejectTierRequest),
	}
}

func (s *Server) requestTier(ctx context.Context, in *requestTierInput) (*tierRequestOutput, error) {
	r, err := s.svc.RequestTier(ctx, principal(ctx), in.KeyID, in.Body.Tier)
	if err != nil {
		return nil, err
	}
	return &tierRequestOutput{Body: tierRequestJSON(r)}, nil
}

func (s *Server) listTierRequests(ctx context.Context, in *listTierRequestsInput) (*listTierRequestsOutput, error) {
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
}

func (s *Server) getTierRequest(ctx context.Context, in *TierRequestIDParam) (*tierRequestOutput, error) {
	r, err := s.svc.TierRequest(ctx, principal(ctx), in.RequestID)
	if err != nil {
		return nil, err
	}
	return &tierRequestOutput{Body: tierRequestJSON(r)}, nil
}

func (s *Server) approveTierRequest(ctx context.Context, in *decideTierInput) (*tierRequestOutput, error) {
	return s.decideTierRequest(ctx, in, true)
}

func (s *Server) rejectTierRequest(ctx context.Context, in *decideTierInput) (*tierRequestOutput, error) {
	return s.decideTierRequest(ctx, in, false)
}

func (s *Server) decideTierRequest(ctx context.Context, in *decideTierInput, approve bool) (*tierRequestOutput, error) {
	var reason string
	if in.Body != nil {
		reason = in.Body.Reason
	}
	r, err := s.svc.DecideTierRequest(ctx, principal(ctx), in.RequestID, approve, reason)
	if err != nil {
		return nil, err
	}
	return &tierRequestOutput{Body: tierRequestJSON(r)}, nil
}
