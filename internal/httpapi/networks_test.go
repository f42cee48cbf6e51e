package httpapi_test

import (
	"net/http"
	"testing"
)

// TestKeyNetworks: a key limited to some networks verifies FORBIDDEN from elsewhere, and
// when nobody says where the request came from; a key without networks of its own takes its
// account's.
func TestKeyNetworks(t *testing.T) {
	e := newEnv(t)
	own := e.key(map[string]any{"name": "office", "allowed_ips": []string{"203.0.113.0/24", "2001:db8::1"}})
	plain := e.key(map[string]any{"name": "anywhere"})

	var k struct {
		AllowedIPs []string `json:"allowed_ips"`
	}
	e.must(http.StatusOK, "GET", "/v1/api-keys/"+own.ID, nil).decode(t, &k)
	if len(k.AllowedIPs) != 2 || k.AllowedIPs[0] != "203.0.113.0/24" || k.AllowedIPs[1] != "2001:db8::1/128" {
		t.Errorf("allowed_ips = %v, want the two networks, as ranges", k.AllowedIPs)
	}
	for _, tc := range []struct {
		name, key, ip, want string
	}{
		{"inside its range", own.Key, "203.0.113.77", "VALID"},
		{"its single IPv6 address", own.Key, "2001:db8::1", "VALID"},
		{"outside", own.Key, "198.51.100.1", "FORBIDDEN"},
		{"IPv4-mapped, inside", own.Key, "::ffff:203.0.113.8", "VALID"},
		{"origin not given", own.Key, "", "FORBIDDEN"},
		{"a key without networks, from anywhere", plain.Key, "198.51.100.1", "VALID"},
		{"a key without networks, origin not given", plain.Key, "", "VALID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{"key": tc.key}
			if tc.ip != "" {
				body["ip"] = tc.ip
			}
			var v struct{ Code string }
			e.doAs("", "POST", "/v1/keys/verify", body).decode(t, &v)
			if v.Code != tc.want {
				t.Errorf("verify from %q = %s, want %s", tc.ip, v.Code, tc.want)
			}
		})
	}
	if r := e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": own.Key, "ip": "not-an-ip"}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("verify with a bad ip = %d %s, want 422", r.status, r.body)
	}
	if r := e.do("POST", "/v1/api-keys", map[string]any{"name": "bad", "allowed_ips": []string{"10.0.0.0/33"}}); r.status != http.StatusUnprocessableEntity {
		t.Errorf("creating a key with a bad network = %d %s, want 422", r.status, r.body)
	}

	// The account's networks apply to its keys that have none of their own.
	var who struct{ Account struct{ ID string } }
	e.must(http.StatusOK, "GET", "/v1/whoami", nil).decode(t, &who)
	e.must(http.StatusOK, "PATCH", "/v1/accounts/"+who.Account.ID, map[string]any{"allowed_ips": []string{"192.0.2.0/24"}})
	for ip, want := range map[string]string{"192.0.2.10": "VALID", "198.51.100.1": "FORBIDDEN"} {
		var v struct{ Code string }
		e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": plain.Key, "ip": ip}).decode(t, &v)
		if v.Code != want {
			t.Errorf("a key of an account limited to 192.0.2.0/24, from %s = %s, want %s", ip, v.Code, want)
		}
	}
	var v struct{ Code string }
	e.doAs("", "POST", "/v1/keys/verify", map[string]any{"key": own.Key, "ip": "203.0.113.1"}).decode(t, &v)
	if v.Code != "VALID" {
		t.Errorf("a key with networks of its own, inside them = %s, want VALID: its own win over the account's", v.Code)
	}
	e.must(http.StatusOK, "PATCH", "/v1/accounts/"+who.Account.ID, map[string]any{"allowed_ips": []string{}})
}

// TestKeyNetworksOnManagementRoutes: a key used from outside its networks may not call the
// management API either; X-Forwarded-For from a peer that is not a trusted proxy changes
// nothing; and a key's holder may narrow its networks but not lift them.
func TestKeyNetworksOnManagementRoutes(t *testing.T) {
	e := newEnv(t)
	elsewhere := e.key(map[string]any{"name": "elsewhere", "role_id": "admin", "allowed_ips": []string{"203.0.113.0/24"}})
	local := e.key(map[string]any{"name": "local", "role_id": "admin", "allowed_ips": []string{"127.0.0.0/8", "::1"}})
	if r := e.doAs(elsewhere.Key, "GET", "/v1/projects", nil); r.status != http.StatusForbidden {
		t.Errorf("a key limited to 203.0.113.0/24, used from loopback = %d %s, want 403", r.status, r.body)
	}
	if r := e.doAs(local.Key, "GET", "/v1/projects", nil); r.status != http.StatusOK {
		t.Errorf("a key limited to loopback, used from loopback = %d %s, want 200", r.status, r.body)
	}
	// The test server trusts no proxy: the header is anyone's to send.
	req, _ := http.NewRequest("GET", e.url+"/v1/projects", nil)
	req.Header.Set("Authorization", "Bearer "+elsewhere.Key)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("a spoofed X-Forwarded-For from an untrusted peer = %d, want 403: the peer is the client", res.StatusCode)
	}

	user := e.must(http.StatusCreated, "POST", "/v1/users", map[string]any{"email": "nina@example.com", "role_id": "member"}).object(t)["id"].(string)
	mine := e.key(map[string]any{"name": "nina's", "user_id": user, "allowed_ips": []string{"127.0.0.0/8", "::1/128"}})
	if r := e.doAs(mine.Key, "PATCH", "/v1/api-keys/"+mine.ID, map[string]any{"allowed_ips": []string{"127.0.0.1", "::1"}}); r.status != http.StatusOK {
		t.Errorf("a member narrowing their key's networks = %d %s, want 200", r.status, r.body)
	}
	for name, nets := range map[string][]string{"dropping them": {}, "adding one": {"127.0.0.1", "::1", "198.51.100.0/24"}} {
		if r := e.doAs(mine.Key, "PATCH", "/v1/api-keys/"+mine.ID, map[string]any{"allowed_ips": nets}); r.status != http.StatusForbidden {
			t.Errorf("a member lifting their key's networks by %s = %d %s, want 403", name, r.status, r.body)
		}
	}
	if r := e.do("PATCH", "/v1/api-keys/"+mine.ID, map[string]any{"allowed_ips": []string{}}); r.status != http.StatusOK {
		t.Errorf("an admin lifting the member's key's networks = %d %s, want 200", r.status, r.body)
	}
}
