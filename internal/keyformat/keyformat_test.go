package keyformat

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"hash/crc32"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestGenerateParseRoundTrip(t *testing.T) {
	for _, prefix := range []string{"kw", "raff", "sk_live", "a1_b2_c3"} {
		k, err := Generate(prefix)
		if err != nil {
			t.Fatalf("Generate(%q): %v", prefix, err)
		}
		if !strings.HasPrefix(k.Raw, prefix+"_") {
			t.Errorf("key %q does not start with %q", k.Raw, prefix+"_")
		}
		got, err := Parse(k.Raw)
		if err != nil {
			t.Fatalf("Parse(Generate(%q)): %v", prefix, err)
		}
		if got != k {
			t.Errorf("Parse = %+v, want %+v", got, k)
		}
		if want := prefix + "_" + k.Body[:8]; k.DisplayPrefix() != want {
			t.Errorf("DisplayPrefix = %q, want %q", k.DisplayPrefix(), want)
		}
		if len(k.Last4()) != 4 || !strings.HasSuffix(k.Raw, k.Last4()) {
			t.Errorf("Last4 = %q of %q", k.Last4(), k.Raw)
		}
	}
}

func TestGenerateIsRandom(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		k, err := Generate("kw")
		if err != nil {
			t.Fatal(err)
		}
		if seen[k.Body] {
			t.Fatalf("body %q generated twice", k.Body)
		}
		seen[k.Body] = true
	}
}

func TestParseRejects(t *testing.T) {
	good, err := Generate("kw")
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(good.Raw)
	if flipped[5] == 'a' {
		flipped[5] = 'b'
	} else {
		flipped[5] = 'a'
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", ErrLength},
		{"too short", "kw_abc", ErrLength},
		{"too long", strings.Repeat("a", MaxKeyLen+1), ErrLength},
		{"no separator", "kwx" + good.Raw[3:], ErrPrefix},
		{"upper-case prefix", "KW" + good.Raw[2:], ErrPrefix},
		{"prefix starts with digit", "1w" + good.Raw[2:], ErrPrefix},
		{"non-base62 body", good.Raw[:10] + "-" + good.Raw[11:], ErrCharset},
		{"checksum mismatch", string(flipped), ErrChecksum},
		{"checksum overflow", good.Raw[:len(good.Raw)-6] + "zzzzzz", ErrChecksum},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.in)
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse(%q) = %v, want %v", tt.in, err, tt.want)
			}
		})
	}
}

// prefixPattern is ValidPrefix's rule as a regular expression, to check the hand-written
// version against.
var prefixPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

func FuzzValidPrefix(f *testing.F) {
	for _, s := range []string{"kw", "sk_live", "a__b", "_a", "a_", "9a", "aZ", strings.Repeat("a", 21)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) <= MaxPrefixLen && prefixPattern.MatchString(s)
		if got := ValidPrefix(s); got != want {
			t.Fatalf("ValidPrefix(%q) = %v, the pattern says %v", s, got, want)
		}
	})
}

func TestValidPrefix(t *testing.T) {
	for p, want := range map[string]bool{
		"kw": true, "raff": true, "sk_live": true, "a": true, "x9": true,
		"": false, "Kw": false, "9a": false, "sk__live": false, "sk_": false, "_sk": false,
		"kw-live": false, strings.Repeat("a", MaxPrefixLen+1): false, "sk_9": true, "a_b_c": true,
		"aB": false, "a__": false, "a b": false, "é": false,
	} {
		if got := ValidPrefix(p); got != want {
			t.Errorf("ValidPrefix(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestHasherVersions(t *testing.T) {
	s1 := Secret{Version: 1, Value: bytes.Repeat([]byte{1}, 32)}
	s2 := Secret{Version: 2, Value: bytes.Repeat([]byte{2}, 32)}
	h, err := NewHasher(s1, s2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.CurrentScheme(), "hmac-sha256:2"; got != want {
		t.Errorf("CurrentScheme = %q, want %q", got, want)
	}
	old, ok := h.HashVersion(1, "kw_x")
	if !ok || old == h.Hash("kw_x") {
		t.Errorf("version 1 hash should exist and differ from version 2")
	}
	if h.Hash("kw_x") != h.Hash("kw_x") {
		t.Errorf("Hash is not deterministic")
	}
	if _, err := NewHasher(Secret{Version: 1, Value: []byte("short")}); err == nil {
		t.Errorf("short secret accepted")
	}
	if _, err := NewHasher(s1, s1); err == nil {
		t.Errorf("duplicate version accepted")
	}
}

// TestHashIsHMACSHA256 checks the pooled hash against crypto/hmac directly, many times over
// so that pooled states are reused: a state not reset between uses would show here.
func TestHashIsHMACSHA256(t *testing.T) {
	s1 := Secret{Version: 1, Value: bytes.Repeat([]byte{1}, 32)}
	s2 := Secret{Version: 2, Value: bytes.Repeat([]byte{2}, 40)}
	h, err := NewHasher(s2, s1)
	if err != nil {
		t.Fatal(err)
	}
	want := func(s Secret, key string) [32]byte {
		mac := hmac.New(sha256.New, s.Value)
		mac.Write([]byte(key))
		return [32]byte(mac.Sum(nil))
	}
	for i := range 100 {
		key := strings.Repeat("k", i) // lengths below, at and beyond SHA-256's 64-byte block
		if got := h.Hash(key); got != want(s2, key) {
			t.Fatalf("Hash(%q) = %x, want %x", key, got, want(s2, key))
		}
		for _, s := range []Secret{s1, s2} {
			if got, ok := h.HashVersion(s.Version, key); !ok || got != want(s, key) {
				t.Fatalf("HashVersion(%d, %q) = %x %v, want %x", s.Version, key, got, ok, want(s, key))
			}
		}
	}
	if got, ok := h.HashVersion(3, "kw_x"); ok || got != ([32]byte{}) {
		t.Errorf("HashVersion(3) = %x %v, want zero and false", got, ok)
	}
	if got, want := h.Versions(), []int{2, 1}; !slices.Equal(got, want) {
		t.Errorf("Versions = %v, want %v", got, want)
	}
}

// TestHotPathDoesNotAllocate checks that parsing and hashing a key, which every verification
// does, allocate nothing.
func TestHotPathDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	h, err := NewHasher(Secret{Version: 1, Value: bytes.Repeat([]byte{1}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	k, err := Generate("sk_live")
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Parse(k.Raw); err != nil {
			t.Fatal(err)
		}
		if _, ok := h.HashVersion(1, k.Raw); !ok {
			t.Fatal("no version 1")
		}
		h.Hash(k.Raw)
	})
	if allocs != 0 {
		t.Errorf("Parse and HashVersion: got %v allocations, want 0", allocs)
	}
}

// base62Pattern and parseReference restate Parse's rules in the plainest way, with a copying
// CRC, to check the table-driven, copy-free version against.
var base62Pattern = regexp.MustCompile(`^[0-9A-Za-z]*$`)

func parseReference(s string) bool {
	if len(s) < 2+BodyLen+ChecksumLen || len(s) > MaxKeyLen {
		return false
	}
	sep := len(s) - BodyLen - ChecksumLen - 1
	head, sum := s[:len(s)-ChecksumLen], s[len(s)-ChecksumLen:]
	return s[sep] == '_' && ValidPrefix(s[:sep]) && base62Pattern.MatchString(s[sep+1:]) &&
		encodeChecksum(crc32.ChecksumIEEE([]byte(head))) == sum
}

// FuzzParse checks that Parse never panics, that it accepts exactly what parseReference
// does, that what it accepts round-trips, and that any accepted string has a valid prefix
// and base62 body. Its seed corpus runs in every `go test`.
func FuzzParse(f *testing.F) {
	for _, p := range []string{"kw", "raff", "sk_live"} {
		k, err := Generate(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(k.Raw)
		f.Add(k.Raw[:len(k.Raw)-1])
		f.Add(k.Raw + "0")
	}
	f.Add("")
	f.Add("kw_")
	f.Add("__________________________________________________")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := Parse(s)
		if want := parseReference(s); (err == nil) != want {
			t.Fatalf("Parse(%q) = %v, the reference accepts: %v", s, err, want)
		}
		if err != nil {
			return
		}
		if k.Raw != s || k.Prefix+"_"+k.Body+s[len(s)-ChecksumLen:] != s {
			t.Fatalf("Parse(%q) = %+v does not reassemble", s, k)
		}
		if !ValidPrefix(k.Prefix) || len(k.Body) != BodyLen {
			t.Fatalf("Parse(%q) accepted prefix %q body %q", s, k.Prefix, k.Body)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	k, _ := Generate("kw")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(k.Raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseMany parses 1000 different keys in turn, as a server does. Unlike
// BenchmarkParse, which sees one key, it lets no branch on the key's characters be learned.
func BenchmarkParseMany(b *testing.B) {
	keys := make([]string, 1000)
	for i := range keys {
		k, _ := Generate("kw")
		keys[i] = k.Raw
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Parse(keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkHashVersion is the hash as a verification computes it: under a named version.
func BenchmarkHashVersion(b *testing.B) {
	h, _ := NewHasher(Secret{Version: 2, Value: bytes.Repeat([]byte{2}, 32)}, Secret{Version: 1, Value: bytes.Repeat([]byte{1}, 32)})
	k, _ := Generate("kw")
	b.ReportAllocs()
	version := h.Versions()[0]
	for b.Loop() {
		h.HashVersion(version, k.Raw)
	}
}

// BenchmarkHashParallel checks that the pooled HMAC states do not become a point of
// contention when every core verifies.
func BenchmarkHashParallel(b *testing.B) {
	h, _ := NewHasher(Secret{Version: 1, Value: bytes.Repeat([]byte{1}, 32)})
	k, _ := Generate("kw")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Hash(k.Raw)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	h, _ := NewHasher(Secret{Version: 1, Value: bytes.Repeat([]byte{1}, 32)})
	k, _ := Generate("kw")
	b.ReportAllocs()
	for b.Loop() {
		h.Hash(k.Raw)
	}
}
