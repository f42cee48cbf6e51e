package httpwire_test

import (
	"testing"

	"github.com/keyward/keyward/internal/httpwire"
)

func TestClientHost(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7:51234":  "192.0.2.7",
		"[2001:db8::1]:80": "2001:db8::1",
		"192.0.2.7":        "192.0.2.7", // no port: as it is
		"@":                "@",         // a unix socket's peer
		"":                 "",
	} {
		if got := httpwire.ClientHost(addr); got != want {
			t.Errorf("ClientHost(%q) = %q, want %q", addr, got, want)
		}
	}
}
