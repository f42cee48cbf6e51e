package seal_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/keyward/keyward/internal/keyformat"
	"github.com/keyward/keyward/internal/seal"
)

func secrets(versions ...int) []keyformat.Secret {
	var out []keyformat.Secret
	for _, v := range versions {
		out = append(out, keyformat.Secret{Version: v, Value: bytes.Repeat([]byte{byte(v)}, 32)})
	}
	return out
}

func TestSealOpens(t *testing.T) {
	s, err := seal.New(secrets(1), "test purpose")
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal([]byte("whsec_secret"), []byte("row-1"))
	if bytes.Contains(sealed, []byte("whsec_secret")) {
		t.Fatal("the sealed value holds the plaintext")
	}
	plain, err := s.Open(sealed, []byte("row-1"))
	if err != nil || string(plain) != "whsec_secret" {
		t.Fatalf("Open = %q, %v", plain, err)
	}
	if again := s.Seal([]byte("whsec_secret"), []byte("row-1")); bytes.Equal(again, sealed) {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
}

func TestSealRefuses(t *testing.T) {
	s, _ := seal.New(secrets(1), "purpose a")
	other, _ := seal.New(secrets(1), "purpose b")
	sealed := s.Seal([]byte("v"), []byte("row-1"))
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"other row":     func() ([]byte, error) { return s.Open(sealed, []byte("row-2")) },
		"other purpose": func() ([]byte, error) { return other.Open(sealed, []byte("row-1")) },
		"tampered":      func() ([]byte, error) { return s.Open(tampered, []byte("row-1")) },
		"short":         func() ([]byte, error) { return s.Open(sealed[:3], []byte("row-1")) },
		"truncated":     func() ([]byte, error) { return s.Open(sealed[:10], []byte("row-1")) },
	} {
		if _, err := open(); !errors.Is(err, seal.ErrOpen) {
			t.Errorf("%s: err = %v, want ErrOpen", name, err)
		}
	}
}

// A new server-secret version seals new values; values sealed under the old one still open,
// and a node without the old version says which version it lacks.
func TestSealVersions(t *testing.T) {
	old, _ := seal.New(secrets(1), "p")
	both, _ := seal.New(secrets(1, 2), "p")
	onlyNew, _ := seal.New(secrets(2), "p")
	sealedOld := old.Seal([]byte("v"), nil)
	if p, err := both.Open(sealedOld, nil); err != nil || string(p) != "v" {
		t.Fatalf("both.Open(old) = %q, %v", p, err)
	}
	sealedNew := both.Seal([]byte("v"), nil)
	if p, err := onlyNew.Open(sealedNew, nil); err != nil || string(p) != "v" {
		t.Fatalf("new value under version 2: %q, %v", p, err)
	}
	if _, err := onlyNew.Open(sealedOld, nil); !errors.Is(err, seal.ErrOpen) {
		t.Fatalf("old value without version 1: %v", err)
	}
	if _, err := seal.New(nil, "p"); err == nil {
		t.Fatal("New without secrets succeeded")
	}
	if _, err := seal.New(secrets(1), ""); err == nil {
		t.Fatal("New without a purpose succeeded")
	}
}
