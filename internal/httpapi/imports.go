package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/internal/keyward"
)

// maxImportBody bounds an import's body: MaxImportKeys keys of a few hundred bytes each.
const maxImportBody = 16 << 20

// ImportKeyJSON is one key to import.
type ImportKeyJSON struct {
	Key           string         `json:"key,omitempty" maxLength:"512" doc:"The secret in the clear (16 to 512 characters). Keyward keeps only a hash of it."`
	SHA256        string         `json:"sha256,omitempty" maxLength:"88" doc:"Instead of key: the unsalted SHA-256 of the secret, as the old system stored it, in hex (64 digits) or base64 (standard or URL-safe, padded or not)."`
	Prefix        string         `json:"prefix,omitempty" maxLength:"32" doc:"What lists show of the key (key_prefix). Default: the first characters of key; none for a sha256 import."`
	Name          string         `json:"name" minLength:"1" maxLength:"128"`
	ProjectID     string         `json:"project_id,omitempty"`
	EnvironmentID string         `json:"environment_id,omitempty"`
	Scopes        []string       `json:"scopes,omitempty" maxItems:"64"`
	AllowedIPs    []string       `json:"allowed_ips,omitempty" maxItems:"100"`
	ExpiresAt     *time.Time     `json:"expires_at,omitempty"`
	Metadata      map[string]any `json:"metadata,omitempty" doc:"Your own JSON object: a good place for the old system's ids."`
}

type importKeysInput struct {
	Body struct {
		Keys []ImportKeyJSON `json:"keys" minItems:"1" maxItems:"10000"`
	}
}

// ImportResultJSON is what an import made.
type ImportResultJSON struct {
	Imported int      `json:"imported"`
	KeyIDs   []string `json:"key_ids" doc:"The new keys' ids, in the order of the request."`
}

type importKeysOutput struct {
	Body ImportResultJSON
}

type reportLeakInput struct {
	Body struct {
		Key string `json:"key" minLength:"1" maxLength:"16384" doc:"The secret that leaked."`
		URL string `json:"url,omitempty" maxLength:"2048" doc:"Where it was found."`
	}
}

// LeakReceiptJSON acknowledges a report without saying whether the string was a key.
type LeakReceiptJSON struct {
	Status string `json:"status" enum:"received"`
}

type reportLeakOutput struct {
	Body LeakReceiptJSON
}

func (s *Server) importRoutes() []route {
	tags := []string{"API keys"}
	return []route{
		operation(huma.Operation{
			OperationID: "import-api-keys", Method: http.MethodPost, Path: "/v1/api-keys/import", DefaultStatus: http.StatusCreated,
			Summary:     "Import keys from another system",
			Description: "Up to 10 000 keys in one call, all or none. Each arrives as its secret (hashed on arrival) or the SHA-256 its old system kept. Keys not in Keyward's format verify through a bounded lookup and are rehashed under the server secret on their first successful verification.",
			Tags:        tags, Errors: []int{http.StatusConflict}, MaxBodyBytes: maxImportBody,
		}, s.importKeys),
	}
}

// leakRoutes are public: holding a secret is the authority to report it.
func (s *Server) leakRoutes() []route {
	return []route{
		operation(huma.Operation{
			OperationID: "report-leaked-api-key", Method: http.MethodPost, Path: "/v1/api-keys/report-leak", DefaultStatus: http.StatusAccepted,
			Summary:     "Report a leaked key",
			Description: "Needs no credential: the secret is the authority. If it is a live key, the leak is recorded on it and announced (api_key.leaked), and the key is revoked unless its project's or account's leak_policy is notify. The answer is the same whether or not the string was a key.",
			Tags:        []string{"Leaks"}, Security: []map[string][]string{},
		}, s.reportLeak),
	}
}

func (s *Server) importKeys(ctx context.Context, in *importKeysInput) (*importKeysOutput, error) {
	items := make([]keyward.ImportKeyInput, len(in.Body.Keys))
	for i, k := range in.Body.Keys {
		items[i] = keyward.ImportKeyInput{
			CreateKeyInput: keyward.CreateKeyInput{
				ProjectID: k.ProjectID, EnvironmentID: k.EnvironmentID, Name: k.Name, Scopes: k.Scopes,
				AllowedIPs: k.AllowedIPs, ExpiresAt: k.ExpiresAt, Metadata: k.Metadata,
			},
			Secret: k.Key, SHA256: k.SHA256, Prefix: k.Prefix,
		}
	}
	keys, err := s.svc.ImportKeys(ctx, principal(ctx), items)
	if err != nil {
		return nil, err
	}
	out := &importKeysOutput{Body: ImportResultJSON{Imported: len(keys), KeyIDs: make([]string, len(keys))}}
	for i, k := range keys {
		out.Body.KeyIDs[i] = k.ID
	}
	return out, nil
}

func (s *Server) reportLeak(ctx context.Context, in *reportLeakInput) (*reportLeakOutput, error) {
	if _, err := s.leaked(ctx, in.Body.Key, keyward.LeakReport{Source: "report", URL: in.Body.URL}); err != nil {
		return nil, err
	}
	return &reportLeakOutput{Body: LeakReceiptJSON{Status: "received"}}, nil
}

// leaked finds the key secret belongs to and reports it leaked. It reports whether the secret
// was a live key; a string that is not one is no error.
func (s *Server) leaked(ctx context.Context, secret string, r keyward.LeakReport) (bool, error) {
	k, err := s.verifier.Find(ctx, secret)
	if err != nil {
		return false, err
	}
	if k == nil {
		return false, nil
	}
	_, err = s.svc.ReportLeak(ctx, k, r)
	if keyward.ErrorCode(err) == keyward.ENotFound {
		return false, nil
	}
	return err == nil, err
}
