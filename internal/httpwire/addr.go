package httpwire

import "net"

// ClientHost returns the host of a request's peer address (http.Request.RemoteAddr) without
// its port, for audit records and per-address limits. It is the TCP peer: X-Forwarded-For is
// not trusted, since any client can send it.
func ClientHost(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}
