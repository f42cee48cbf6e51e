package keyformat

import (
	"bytes"
	"errors"
	"regexp"
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

// FuzzParse checks that Parse never panics, that what it accepts round-trips, and that
// any accepted string has a valid prefix and base62 body. Its seed corpus runs in every
// `go test`.
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

func BenchmarkHash(b *testing.B) {
	h, _ := NewHasher(Secret{Version: 1, Value: bytes.Repeat([]byte{1}, 32)})
	k, _ := Generate("kw")
	b.ReportAllocs()
	for b.Loop() {
		h.Hash(k.Raw)
	}
}
