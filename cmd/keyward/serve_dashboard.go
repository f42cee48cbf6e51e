package main

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/dashboard"
	"github.com/keyward/keyward/internal/jobs"
	"github.com/keyward/keyward/internal/keyward"
)

// withDashboard puts the dashboard in front of the API, unless it is off: /ui/… is the
// dashboard's, GET / redirects there, and everything else is the API's.
func (m *Main) withDashboard(api http.Handler) (http.Handler, error) {
	if m.Config.Dashboard == "off" {
		return api, nil
	}
	d, err := dashboard.New(dashboard.Config{
		Service: m.service, Logger: m.log, Version: currentBuild().Version, OIDC: m.dashboardOIDC(), Proxies: m.proxies,
		Secure: m.Config.TLSCert != "" || strings.HasPrefix(m.Config.PublicURL, "https://"),
	})
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, dashboard.Prefix):
			d.ServeHTTP(w, r)
		case r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead), r.URL.Path == "/ui":
			dashboard.Redirect(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	}), nil
}

// dashboardOIDC is the dashboard's sign-in through the OIDC issuer, when a client id is
// configured: the access token it gets is signed in exactly as the API signs one in.
func (m *Main) dashboardOIDC() *dashboard.OIDC {
	if m.Config.OIDCClientID == "" || m.auth == nil {
		return nil
	}
	base := m.Config.PublicURL
	if base == "" {
		base = m.URL()
	}
	return &dashboard.OIDC{
		Issuer: m.Config.OIDCIssuer, ClientID: m.Config.OIDCClientID, ClientSecret: m.Config.OIDCClientSecret,
		RedirectURL: strings.TrimSuffix(base, "/") + dashboard.Prefix + "callback",
		Authenticate: func(ctx context.Context, accessToken string) (keyward.Principal, error) {
			a, err := m.auth.Authenticate(ctx, http.Header{"Authorization": {"Bearer " + accessToken}})
			return a.Principal, err
		},
	}
}

// pruneSessionsEvery is how often ended dashboard sessions are deleted (a day after they end).
const pruneSessionsEvery = time.Hour

func (m *Main) addSessionJobs() {
	m.jobs.Add(jobs.Task{Name: "prune-sessions", Every: pruneSessionsEvery, LeaderOnly: true, AtStart: true, Run: func(ctx context.Context) error {
		n, err := m.store.PruneSessions(ctx, m.Now().Add(-24*time.Hour))
		if n > 0 {
			m.log.Info("pruned dashboard sessions", "sessions", n)
		}
		return err
	}})
}
