package webhook

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"code.dny.dev/ssrf"
)

// ErrForbiddenAddress is what a refused destination's error is (errors.Is): an address the
// webhooks may not reach, found by CheckURL in a URL or by the client when it dials. The
// error's text says which address and why, as "refused: 127.0.0.1 is a loopback address".
var ErrForbiddenAddress = errors.New("webhook: forbidden address")

// ErrInvalidURL is what every error of CheckURL is (errors.Is); its text says, for people,
// what is wrong with the URL.
var ErrInvalidURL = errors.New("invalid webhook URL")

// guardian holds the address rules. Ports are not restricted (WithAnyPort): receivers run on
// all sorts of ports, and a port is only dangerous on an address that is itself refused.
var guardian = ssrf.New(ssrf.WithAnyPort())

// forbiddenError says that a destination is refused and what kind of address it is.
type forbiddenError struct {
	host string // the address, or a name that is always local (localhost)
	kind string // "a loopback address"
}

func (e *forbiddenError) Error() string { return "refused: " + e.host + " is " + e.kind }

// Is makes the error ErrForbiddenAddress.
func (e *forbiddenError) Is(target error) bool { return target == ErrForbiddenAddress }

// checkAddr refuses an address outside the public internet. The decision is the ssrf
// library's; kindOf only names it for the message. An IPv4-mapped IPv6 address is judged as
// the IPv4 address it is, since that is where a connection to it goes (the library alone
// would refuse every mapped address, public ones too).
func checkAddr(addr netip.Addr) error {
	if err := guardian.SafeAddr(addr.Unmap()); err != nil {
		return &forbiddenError{host: addr.String(), kind: kindOf(addr)}
	}
	return nil
}

// Ranges netip has no predicate for, used only to name a refusal.
var (
	metadataV4 = netip.MustParseAddr("169.254.169.254")
	broadcast  = netip.MustParseAddr("255.255.255.255")
	sharedNAT  = netip.MustParsePrefix("100.64.0.0/10")
	sixToFour  = netip.MustParsePrefix("2002::/16")
)

// kindOf names the kind of a refused address for people, most specific first.
func kindOf(addr netip.Addr) string {
	a := addr.Unmap().WithZone("")
	switch {
	case a.IsUnspecified():
		return "an unspecified address"
	case a.IsLoopback():
		return "a loopback address"
	case a == metadataV4:
		return "the link-local address of cloud metadata services"
	case a.IsMulticast():
		return "a multicast address"
	case a.IsLinkLocalUnicast():
		return "a link-local address"
	case a == broadcast:
		return "the broadcast address"
	case a.IsPrivate():
		return "a private address"
	case sharedNAT.Contains(a):
		return "a carrier-grade NAT address"
	case ssrf.IPv6NAT64Prefix.Contains(a):
		return "a NAT64 address"
	case sixToFour.Contains(a):
		return "a 6to4 address"
	}
	return "a reserved or special-purpose address"
}

// CheckURL checks an endpoint URL when it is created or changed, so that a person hears at
// once what Send would refuse: the scheme is https (or http, with opts.AllowHTTP); there is a
// host; there is no user name or password (a receiver authenticates by the signature) and no
// fragment (it is never sent); a port, if any, is 1 to 65535; and, unless opts.AllowPrivate,
// the host is neither an address outside the public internet nor localhost.
//
// A host name that resolves to a forbidden address passes here: names can change what they
// resolve to, so the client checks again, at every dial, the address it connects to.
// Errors are ErrInvalidURL, and also ErrForbiddenAddress for a refused host.
func CheckURL(raw string, opts Options) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL; say only what the parser found.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%w: %v", ErrInvalidURL, err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !opts.AllowHTTP {
			return fmt.Errorf("%w: it must use https, not http (webhooks carry signed events and, on rotation, new secrets)", ErrInvalidURL)
		}
	case "":
		return fmt.Errorf("%w: it must be absolute, starting with https://", ErrInvalidURL)
	default:
		return fmt.Errorf("%w: it must use https, not %q", ErrInvalidURL, u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("%w: it has no host", ErrInvalidURL)
	}
	if u.User != nil {
		return fmt.Errorf("%w: it must not contain a user name or password", ErrInvalidURL)
	}
	if strings.Contains(raw, "#") {
		return fmt.Errorf("%w: it must not have a fragment (#…), which is never sent", ErrInvalidURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("%w: port %s is not a port number (1 to 65535)", ErrInvalidURL, p)
		}
	}
	host := strings.ToLower(u.Hostname())
	if addr, err := netip.ParseAddr(host); err == nil {
		if opts.AllowPrivate {
			return nil
		}
		if err := checkAddr(addr); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidURL, err)
		}
		return nil
	}
	if strings.Contains(host, ":") {
		return fmt.Errorf("%w: host %q is not a valid IPv6 address", ErrInvalidURL, host)
	}
	// No top-level domain starts with a digit, but some resolvers read hosts such as "127.1",
	// "2130706433" or "0x7f.1" as IPv4 addresses: refuse them rather than guess what they
	// reach.
	labels := strings.Split(strings.TrimSuffix(host, "."), ".")
	last := labels[len(labels)-1]
	if last == "" || '0' <= last[0] && last[0] <= '9' {
		return fmt.Errorf("%w: host %q is neither an IP address in standard form nor a DNS name", ErrInvalidURL, host)
	}
	// localhost is loopback by definition (RFC 6761), whatever DNS would say.
	if !opts.AllowPrivate && last == "localhost" {
		return fmt.Errorf("%w: %w", ErrInvalidURL, &forbiddenError{host: host, kind: "a loopback name"})
	}
	return nil
}
