package httpwire_test

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/keyward/keyward/internal/httpwire"
)

func TestClientIP(t *testing.T) {
	proxies := httpwire.Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	tests := []struct {
		name    string
		proxies httpwire.Proxies
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies: the peer, whatever it sends", nil, "10.1.2.3:5000", []string{"203.0.113.9"}, "10.1.2.3"},
		{"an untrusted peer's X-Forwarded-For is ignored", proxies, "198.51.100.1:5000", []string{"203.0.113.9"}, "198.51.100.1"},
		{"a trusted proxy: its client", proxies, "10.1.2.3:5000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"past every trusted hop", proxies, "10.1.2.3:5000", []string{"203.0.113.9, 10.9.9.9", "10.8.8.8"}, "203.0.113.9"},
		{"a spoofed entry left of the client stays unread", proxies, "10.1.2.3:5000", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"garbage ends the walk at the proxy that wrote it", proxies, "10.1.2.3:5000", []string{"203.0.113.9, nonsense, 10.9.9.9"}, "10.9.9.9"},
		{"a trusted proxy without the header is the client", proxies, "10.1.2.3:5000", nil, "10.1.2.3"},
		{"IPv6 loopback proxy", proxies, "[::1]:5000", []string{"2001:db8::7"}, "2001:db8::7"},
		{"IPv4-mapped peer", nil, "[::ffff:192.0.2.1]:5000", nil, "192.0.2.1"},
		{"every hop a proxy: the farthest", proxies, "10.1.2.3:5000", []string{"10.5.5.5"}, "10.5.5.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tt.peer, Header: http.Header{}}
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := tt.proxies.ClientIP(r); got.String() != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
	if got := proxies.ClientIPOf("not an address", nil); got.IsValid() {
		t.Errorf("ClientIPOf an unparsable peer = %s, want the zero Addr", got)
	}
}
