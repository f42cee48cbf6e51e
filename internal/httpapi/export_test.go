package httpapi

import "time"

// SetHeartbeat changes how often s's idle event streams get a comment line, so that a test
// sees heartbeats without waiting for them.
func SetHeartbeat(s *Server, d time.Duration) { s.heartbeat = d }
