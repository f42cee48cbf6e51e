package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/httpwire"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/secretscan"
)

// maxAlertBody bounds a secret scanning alert: GitHub sends up to a few hundred tokens.
const maxAlertBody = 1 << 20

// registerSecretScanning serves GitHub's secret scanning partner contract: GitHub posts the
// tokens it found that match Keyward's registered pattern, signed with its published keys,
// and Keyward answers which were its keys.
func (s *Server) registerSecretScanning() {
	registry := s.api.OpenAPI().Components.Schemas
	reportSchema := registry.Schema(reflect.TypeFor[[]secretscan.Report](), true, "SecretScanningReports")
	feedbackSchema := registry.Schema(reflect.TypeFor[[]secretscan.Feedback](), true, "SecretScanningFeedback")
	problemSchema := registry.Schema(reflect.TypeFor[httpwire.Problem](), true, "Problem")
	problem := func(desc string) *huma.Response {
		return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/problem+json": {Schema: problemSchema}}}
	}
	s.handle(http.MethodPost, "/v1/secret-scanning/github", s.audited("", s.githubAlert), &huma.Operation{
		OperationID: "github-secret-scanning",
		Summary:     "Receive GitHub secret scanning alerts",
		Description: "GitHub's secret scanning partner contract. The body must be signed by one of GitHub's published keys (Github-Public-Key-Identifier, Github-Public-Key-Signature: ECDSA P-256 over SHA-256 of the body). Every token that is a live Keyward key is treated as leaked (recorded, announced as api_key.leaked, revoked unless the leak policy says notify) and answered true_positive with token_raw; any other is false_positive, answered by token_hash only, so that a secret that is not ours is never echoed.",
		Tags:        []string{"Leaks"}, Security: []map[string][]string{},
		Parameters: []*huma.Param{
			{Name: secretscan.HeaderKeyID, In: "header", Required: true, Schema: &huma.Schema{Type: "string"}},
			{Name: secretscan.HeaderSignature, In: "header", Required: true, Schema: &huma.Schema{Type: "string"}},
		},
		RequestBody: &huma.RequestBody{Content: map[string]*huma.MediaType{"application/json": {Schema: reportSchema}}},
		Responses: map[string]*huma.Response{
			"200": {Description: "One feedback entry per token.", Content: map[string]*huma.MediaType{"application/json": {Schema: feedbackSchema}}},
			"400": problem("The body is not an array of alerts."),
			"401": problem("The signature is missing, malformed, by an unknown key, or does not match."),
			"404": problem("Secret scanning is off on this server (--secret-scanning-keys-url off)."),
			"413": problem("The body is too large."),
			"503": problem("GitHub's public keys could not be fetched, or the store could not be read; GitHub retries."),
		},
	})
}

func (s *Server) githubAlert(w http.ResponseWriter, r *http.Request) {
	if s.scanning == nil {
		httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusNotFound, "secret scanning is off on this server"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAlertBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusRequestEntityTooLarge, "the body is larger than 1 MiB"))
			return
		}
		httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusBadRequest, "the body could not be read"))
		return
	}
	err = s.scanning.Verify(r.Context(), r.Header.Get(secretscan.HeaderKeyID), r.Header.Get(secretscan.HeaderSignature), body)
	switch {
	case errors.Is(err, secretscan.ErrKeyFetch):
		s.log.Warn("secret scanning: GitHub's public keys could not be fetched", "err", err)
		httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusServiceUnavailable, "the signing keys could not be fetched; retry"))
		return
	case err != nil:
		p := httpwire.NewProblem(http.StatusUnauthorized, "the alert's signature does not verify: "+err.Error())
		httpwire.WriteProblem(w, p)
		return
	}
	reports, err := secretscan.ParseReports(body)
	if err != nil {
		httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusBadRequest, err.Error()))
		return
	}
	feedback := make([]secretscan.Feedback, len(reports))
	for i, rep := range reports {
		ours, err := s.leaked(r.Context(), rep.Token, keyward.LeakReport{Source: "github", URL: rep.URL})
		if err != nil {
			s.log.Error("secret scanning: acting on a report failed", "err", err)
			httpwire.WriteProblem(w, httpwire.NewProblem(http.StatusServiceUnavailable, "the alert could not be processed; retry"))
			return
		}
		label := secretscan.FalsePositive
		if ours {
			label = secretscan.TruePositive
		}
		feedback[i] = rep.Feedback(label)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(feedback)
}
