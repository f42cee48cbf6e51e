// Package keyformat generates, parses and hashes Keyward key strings.
//
// A key reads <prefix>_<body><checksum>: the prefix names the project's key family ("kw",
// "raff", "sk_live"), the body is 36 base62 characters from crypto/rand (about 214 bits, of
// which the 28 characters never shown again carry about 166), and the checksum is the CRC32 of
// everything before it, written as 6 base62 characters. The checksum lets a verifier refuse a
// mistyped or invented string before it spends a hash, a cache probe or a database query on it;
// it is not a secret and protects nothing by itself.
//
// The package is pure: no I/O beyond crypto/rand, no state but the Hasher's secrets.
package keyformat

import (
	"crypto/rand"
	"errors"
	"hash/crc32"
)

const (
	// BodyLen is the number of random base62 characters in a key body.
	BodyLen = 36
	// ChecksumLen is the number of base62 characters that encode the CRC32.
	ChecksumLen = 6
	// MaxPrefixLen bounds a prefix so that a parser never scans unbounded input.
	MaxPrefixLen = 20
	// ShownBodyLen is how many body characters the public key_prefix reveals.
	ShownBodyLen = 8
	// MaxKeyLen is the longest string that can be a key.
	MaxKeyLen = MaxPrefixLen + 1 + BodyLen + ChecksumLen

	alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)

// DefaultPrefix is the prefix of keys whose project names no other.
const DefaultPrefix = "kw"

// Parse errors. Each names the first rule a string broke, so a caller can say why it was
// refused without revealing anything about stored keys.
var (
	ErrLength   = errors.New("key has the wrong length")
	ErrPrefix   = errors.New("key prefix is missing or malformed")
	ErrCharset  = errors.New("key body has a character outside base62")
	ErrChecksum = errors.New("key checksum does not match")
)

// ValidPrefix reports whether p can be a key prefix: lower-case letters and digits, starting
// with a letter, optionally in underscore-separated parts ("sk_live"), at most MaxPrefixLen
// characters. (As a pattern: ^[a-z][a-z0-9]*(_[a-z0-9]+)*$. It is checked by hand because it
// runs on every verification.)
func ValidPrefix(p string) bool {
	if len(p) == 0 || len(p) > MaxPrefixLen || p[0] < 'a' || p[0] > 'z' || p[len(p)-1] == '_' {
		return false
	}
	for i := 1; i < len(p); i++ {
		switch c := p[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '_' && p[i-1] != '_':
		default:
			return false
		}
	}
	return true
}

// Key is a parsed key string.
type Key struct {
	// Prefix is the part before the last underscore.
	Prefix string
	// Body is the random part, without the checksum.
	Body string
	// Raw is the whole key string as given.
	Raw string
}

// DisplayPrefix is the public handle shown in listings: the prefix and the first
// ShownBodyLen body characters, as "raff_17d70fcf".
func (k Key) DisplayPrefix() string {
	return k.Prefix + "_" + k.Body[:ShownBodyLen]
}

// Last4 is the last four characters of the key, shown to help a person tell keys apart. They
// fall inside the checksum, so they reveal nothing of the random body.
func (k Key) Last4() string {
	return k.Raw[len(k.Raw)-4:]
}

// Generate returns a new key with the given prefix. It fails only if the prefix is invalid or
// the system's random source fails.
func Generate(prefix string) (Key, error) {
	if !ValidPrefix(prefix) {
		return Key{}, ErrPrefix
	}
	body := make([]byte, BodyLen)
	if err := randomBase62(body); err != nil {
		return Key{}, err
	}
	head := prefix + "_" + string(body)
	raw := head + encodeChecksum(crc32.ChecksumIEEE([]byte(head)))
	return Key{Prefix: prefix, Body: string(body), Raw: raw}, nil
}

// randomBase62 fills dst with uniformly random base62 characters. Bytes at or above 248
// (the largest multiple of 62 that fits in a byte) are rejected so that no character is more
// likely than another.
func randomBase62(dst []byte) error {
	var buf [64]byte
	n := 0
	for n < len(dst) {
		if _, err := rand.Read(buf[:]); err != nil {
			return err
		}
		for _, b := range buf {
			if b >= 248 {
				continue
			}
			dst[n] = alphabet[b%62]
			n++
			if n == len(dst) {
				break
			}
		}
	}
	return nil
}

// Parse checks that s is a well-formed key with a matching checksum. It does not allocate
// (the strings it returns are substrings of s), and it looks at no storage.
func Parse(s string) (Key, error) {
	if len(s) < 2+BodyLen+ChecksumLen || len(s) > MaxKeyLen {
		return Key{}, ErrLength
	}
	sep := len(s) - BodyLen - ChecksumLen - 1
	if s[sep] != '_' {
		return Key{}, ErrPrefix
	}
	prefix := s[:sep]
	if !ValidPrefix(prefix) {
		return Key{}, ErrPrefix
	}
	rest := s[sep+1:]
	// One table load per character and one test at the end. A branch per character on
	// which range it falls in is mispredicted all the time when every key is different, as
	// on a server: over many keys (BenchmarkParseMany) that cost more than the rest of Parse.
	var seen byte
	for i := 0; i < len(rest); i++ {
		seen |= base62Values[rest[i]]
	}
	if seen&notBase62 != 0 {
		return Key{}, ErrCharset
	}
	head := s[:len(s)-ChecksumLen]
	want, ok := decodeChecksum(s[len(s)-ChecksumLen:])
	if !ok || crc32.ChecksumIEEE(stringBytes(head)) != want {
		return Key{}, ErrChecksum
	}
	return Key{Prefix: prefix, Body: rest[:BodyLen], Raw: s}, nil
}

// notBase62 marks a byte outside the alphabet in base62Values; every digit value is below it.
const notBase62 = 0x80

// base62Values maps a byte to its value as a base62 digit, or to notBase62.
var base62Values = func() (t [256]byte) {
	for i := range t {
		t[i] = notBase62
	}
	for i := 0; i < len(alphabet); i++ {
		t[alphabet[i]] = byte(i)
	}
	return t
}()

func encodeChecksum(sum uint32) string {
	var out [ChecksumLen]byte
	v := uint64(sum)
	for i := ChecksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[v%62]
		v /= 62
	}
	return string(out[:])
}

func decodeChecksum(s string) (uint32, bool) {
	var v uint64
	for i := 0; i < len(s); i++ {
		v = v*62 + uint64(base62Values[s[i]]) // the caller has checked that s is base62
	}
	if v > 0xFFFFFFFF {
		return 0, false
	}
	return uint32(v), true
}
