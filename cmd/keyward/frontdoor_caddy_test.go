package main

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// caddySite is the site block docs/integrations.md shows: Caddy asks Keyward's
// /gateway/forward-auth about every request and copies the identity headers into the request
// to the API. A refusal (401, 403, 429) is Keyward's own answer, headers and body.
const caddySite = `http://{{LISTEN}} {
	route {
		# Identity headers come from Keyward alone: drop any the caller sent.
		request_header -X-Keyward-*
		forward_auth {{KEYWARD}} {
			uri /gateway/forward-auth
			copy_headers X-Keyward-Key-Id X-Keyward-Account-Id X-Keyward-Project-Id X-Keyward-Environment-Id X-Keyward-User-Id X-Keyward-Role X-Keyward-Scopes
		}
		# The API never sees the key.
		request_header -Authorization
		request_header -X-API-Key
		reverse_proxy {{UPSTREAM}}
	}
}
`

// caddyfile is the whole file the test runs: no admin endpoint, no HTTPS, HTTP/1.1 only.
const caddyfile = `{
	admin off
	auto_https off
	servers {
		protocols h1
	}
}

{{SITE}}`

// startCaddy runs `caddy run` with caddyfile, in front of fd's Keyward and upstream, and
// returns its base URL.
func startCaddy(t *testing.T, fd *frontDoor) string {
	t.Helper()
	bin := lookBinary(t, "caddy", "apt-get install caddy")
	dir := t.TempDir()
	listen := freeAddr(t)
	site := render(caddySite, map[string]string{"LISTEN": listen, "KEYWARD": fd.keywardAddr(), "UPSTREAM": fd.upstream.addr()})
	conf := writeConfig(t, dir, "Caddyfile", render(caddyfile, map[string]string{"SITE": site}))
	cmd := exec.Command(bin, "run", "--config", conf, "--adapter", "caddyfile")
	// Caddy keeps its state under HOME or XDG_*: the test's directory, not the user's.
	cmd.Env = append(cmd.Environ(), "HOME="+dir, "XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "XDG_DATA_HOME="+filepath.Join(dir, "data"))
	c := startChild(t, "caddy", cmd)
	c.waitReady(t, "http://"+listen+"/health")
	return "http://" + listen
}

// TestCaddyFrontDoor: the real Caddy, with forward_auth to Keyward's /gateway/forward-auth.
func TestCaddyFrontDoor(t *testing.T) {
	fd := startFrontDoor(t)
	checkFrontDoor(t, fd, startCaddy(t, fd))
}
