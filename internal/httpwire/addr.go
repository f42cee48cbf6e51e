package httpwire

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientHost returns the host of a request's peer address (http.Request.RemoteAddr) without
// its port. It is the TCP peer: X-Forwarded-For is not trusted, since any client can send it.
func ClientHost(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// Proxies are the networks of the reverse proxies in front of Keyward whose
// X-Forwarded-For it believes (--trusted-proxies). The zero value trusts none.
type Proxies []netip.Prefix

// trusts reports whether a is one of the proxies.
func (ps Proxies) trusts(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is the address a request came from: the TCP peer, unless the peer is a trusted
// proxy, in which case the X-Forwarded-For entries are read from the right (the nearest hop
// first), past every trusted proxy, and the first address that is not one is the client's.
// An entry that is not an address ends the walk at the last proxy that wrote it: what lies
// to its left was written by someone nobody trusts. A peer that is not a trusted proxy is
// the client, whatever headers it sends. The zero Addr when the peer address does not parse.
func (ps Proxies) ClientIP(r *http.Request) netip.Addr {
	return ps.clientIP(r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
}

// ClientIPOf is ClientIP for a request described by its peer address and its
// X-Forwarded-For values, as the gateways forward them.
func (ps Proxies) ClientIPOf(remoteAddr string, forwardedFor []string) netip.Addr {
	return ps.clientIP(remoteAddr, forwardedFor)
}

func (ps Proxies) clientIP(remoteAddr string, forwardedFor []string) netip.Addr {
	peer, err := netip.ParseAddr(ClientHost(remoteAddr))
	if err != nil {
		return netip.Addr{}
	}
	client := peer.Unmap().WithZone("")
	if !ps.trusts(client) {
		return client
	}
	// Every header line, then every comma-separated entry, nearest hop last.
	var hops []string
	for _, v := range forwardedFor {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return client
		}
		client = a.Unmap().WithZone("")
		if !ps.trusts(client) {
			return client
		}
	}
	return client
}
