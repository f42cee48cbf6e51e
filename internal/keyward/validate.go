package keyward

import (
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Limits on what a caller may store. They keep one request from growing a row, a cache entry
// or a verification response without bound.
const (
	MaxNameLen          = 128
	MaxScopes           = 64
	MaxScopeLen         = 128
	MaxMetadataBytes    = 8 << 10
	MaxRotationDays     = 3650
	MaxGracePeriod      = 30 * 24 * time.Hour
	MaxWebhookURLLength = 2048
	MaxProjectAccesses  = 100
	MaxAllowedIPs       = 100
)

// ScopePattern is the documented shape of a scope: a letter or digit, then letters, digits
// and the separators . _ : / - (as "read", "keys:write", "projects/p1.read").
var ScopePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:/\-]*$`)

// slugPattern is the shape of a role slug.
var slugPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

func validateName(field, name string) error {
	n := utf8.RuneCountInString(name)
	if n < 1 || n > MaxNameLen {
		return Errorf(EValidation, "%s must be 1 to %d characters", field, MaxNameLen)
	}
	if strings.TrimSpace(name) == "" {
		return Errorf(EValidation, "%s must not be blank", field)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return Errorf(EValidation, "%s must not contain control characters", field)
		}
	}
	return nil
}

// normalizeScopes validates scopes and drops duplicates, keeping first-seen order.
func normalizeScopes(scopes []string) ([]string, error) {
	if len(scopes) > MaxScopes {
		return nil, Errorf(EValidation, "a key may have at most %d scopes", MaxScopes)
	}
	out := make([]string, 0, len(scopes))
	seen := make(map[string]bool, len(scopes))
	for _, s := range scopes {
		if len(s) > MaxScopeLen || !ScopePattern.MatchString(s) {
			return nil, Errorf(EValidation, "scope %q must match %s and be at most %d characters", s, ScopePattern, MaxScopeLen)
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, nil
}

func validateExpiry(expiresAt *time.Time, now time.Time) error {
	if expiresAt != nil && !expiresAt.After(now) {
		return Errorf(EValidation, "expires_at must be in the future")
	}
	return nil
}

func validateMetadata(m map[string]any) error {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return Errorf(EValidation, "metadata must be a JSON object")
	}
	if len(b) > MaxMetadataBytes {
		return Errorf(EValidation, "metadata must be at most %d bytes of JSON", MaxMetadataBytes)
	}
	return nil
}

func validateRotation(days int, webhook string) error {
	if days < 0 || days > MaxRotationDays {
		return Errorf(EValidation, "rotation_interval_days must be between 1 and %d", MaxRotationDays)
	}
	if webhook == "" {
		return nil
	}
	return ValidateWebhookURL(webhook)
}

// ValidateWebhookURL checks a key's rotation_webhook_url as validateURL does.
func ValidateWebhookURL(raw string) error { return validateURL("rotation_webhook_url", raw) }

// validateURL accepts, for the named field, an absolute https URL, or http to a loopback host
// (for local development), without credentials or a fragment.
func validateURL(field, raw string) error {
	if len(raw) > MaxWebhookURLLength {
		return Errorf(EValidation, "%s must be at most %d characters", field, MaxWebhookURLLength)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return Errorf(EValidation, "%s must be an absolute URL", field)
	}
	if u.User != nil || u.Fragment != "" {
		return Errorf(EValidation, "%s must not carry credentials or a fragment", field)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return Errorf(EValidation, "%s must use https (http is allowed only for loopback hosts)", field)
	}
	return Errorf(EValidation, "%s must use https", field)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ParseAllowedIPs reads the networks a key or account may be used from: CIDR ranges or single
// addresses ("10.0.0.0/8", "203.0.113.7", "2001:db8::/32"), IPv4 or IPv6, each kept in its
// masked form, duplicates dropped. An empty list allows any network. Errors: EValidation.
func ParseAllowedIPs(in []string) ([]netip.Prefix, error) {
	if len(in) > MaxAllowedIPs {
		return nil, Errorf(EValidation, "allowed_ips may have at most %d entries", MaxAllowedIPs)
	}
	out := make([]netip.Prefix, 0, len(in))
	for _, s := range in {
		p, err := parseNetwork(strings.TrimSpace(s))
		if err != nil {
			return nil, Errorf(EValidation, "allowed_ips entry %q is neither an IP address nor a CIDR range such as 203.0.113.0/24", s)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func parseNetwork(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a := p.Addr(); a.Is4In6() {
			// ::ffff:10.0.0.0/104 is 10.0.0.0/8: requests are matched unmapped.
			if p.Bits() < 96 {
				return netip.Prefix{}, fmt.Errorf("an IPv4-mapped range must be /96 or longer")
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap().WithZone("")
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// widensNetworks reports whether going from the networks had to want lets a key be used
// from somewhere it could not be before: dropping every network, or adding one that none of
// had contains.
func widensNetworks(had, want []netip.Prefix) bool {
	if len(had) == 0 {
		return false // it could be used from anywhere already
	}
	if len(want) == 0 {
		return true
	}
	for _, w := range want {
		if !slices.ContainsFunc(had, func(h netip.Prefix) bool { return h.Bits() <= w.Bits() && h.Contains(w.Addr()) }) {
			return true
		}
	}
	return false
}
