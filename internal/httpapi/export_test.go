package httpapi

import (
	"net/http"
	"time"
)

// SetHeartbeat changes how often s's idle event streams get a comment line, so that a test
// sees heartbeats without waiting for them.
func SetHeartbeat(s *Server, d time.Duration) { s.heartbeat = d }

// RouterPattern is the pattern s's router chooses for r, as if ServeHTTP had no fast path.
func RouterPattern(s *Server, r *http.Request) string {
	_, pattern := s.mux.Handler(r)
	return pattern
}

// VerifyPattern is the pattern of the route ServeHTTP matches before its router.
const VerifyPattern = verifyPattern
