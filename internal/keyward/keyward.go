// Package keyward is Keyward's domain: accounts, projects, environments, API keys, the rules
// that govern them, the error vocabulary, and the storage interfaces that adapters implement.
//
// It imports only the standard library and internal/keyformat, so every other package can
// depend on it and it on none of them (see docs/architecture.md).
package keyward

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"time"
)

// Account is a tenant: every project, key and credential belongs to exactly one.
type Account struct {
	ID   string
	Name string
	// KeyPrefix starts keys that belong to the account but to no project ("kw", "raff").
	KeyPrefix string
	// AllowedIPs are the networks the account's keys may be used from, unless a key has its
	// own; empty allows any.
	AllowedIPs []netip.Prefix
	// LeakPolicy says what a leak report does to the account's keys that belong to no
	// project, and to keys of projects without their own policy ("" is LeakRevoke).
	LeakPolicy string
	CreatedAt  time.Time
}

// Project groups keys that share a key prefix and usually one API.
type Project struct {
	ID        string
	AccountID string
	Name      string
	// KeyPrefix starts every key issued in the project ("kw", "raff", "sk_live").
	KeyPrefix string
	// LeakPolicy says what a leak report does to the project's keys; "" defers to the
	// account's.
	LeakPolicy string
	CreatedAt  time.Time
}

// Environment is a named stage of a project, such as production or staging.
type Environment struct {
	ID        string
	AccountID string
	ProjectID string
	Name      string
	CreatedAt time.Time
}

// NewID returns a new UUIDv7 string: time-ordered, so that ordering by id is ordering by
// creation (to the sub-millisecond fraction kept in rand_a), and unguessable in its random bits.
func NewID() string {
	var b [16]byte
	if _, err := rand.Read(b[6:]); err != nil {
		panic("keyward: crypto/rand failed: " + err.Error())
	}
	now := time.Now()
	ms := uint64(now.UnixMilli())
	frac := uint16(uint64(now.Nanosecond()%1e6) * 4096 / 1e6) // 12 bits of sub-millisecond time
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], ms)
	copy(b[0:6], ts[2:8])
	binary.BigEndian.PutUint16(b[6:8], 0x7000|frac)
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// ValidID reports whether s is a lower-case hyphenated UUID, the only form Keyward issues. A
// string that is not is a malformed request, not a missing object.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}
