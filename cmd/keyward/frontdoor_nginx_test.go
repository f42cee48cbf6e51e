package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// nginxServer is the part of nginx.conf that docs/integrations.md shows: nginx asks Keyward's
// /gateway/nginx about every request with auth_request, copies the identity headers into the
// request to the API, and turns Keyward's 403 with X-Keyward-Status: 429 back into a 429.
const nginxServer = `    upstream keyward {
        server {{KEYWARD}};
        keepalive 16;
    }
    upstream api {
        server {{UPSTREAM}};
        keepalive 16;
    }

    server {
        listen {{LISTEN}};

        location / {
            auth_request /_keyward;

            # Who the key stands for, from Keyward's answer. proxy_set_header replaces a
            # header the caller sent under the same name, and drops it when empty.
            auth_request_set $keyward_key_id         $upstream_http_x_keyward_key_id;
            auth_request_set $keyward_account_id     $upstream_http_x_keyward_account_id;
            auth_request_set $keyward_project_id     $upstream_http_x_keyward_project_id;
            auth_request_set $keyward_environment_id $upstream_http_x_keyward_environment_id;
            auth_request_set $keyward_user_id        $upstream_http_x_keyward_user_id;
            auth_request_set $keyward_role           $upstream_http_x_keyward_role;
            auth_request_set $keyward_scopes         $upstream_http_x_keyward_scopes;
            proxy_set_header X-Keyward-Key-Id         $keyward_key_id;
            proxy_set_header X-Keyward-Account-Id     $keyward_account_id;
            proxy_set_header X-Keyward-Project-Id     $keyward_project_id;
            proxy_set_header X-Keyward-Environment-Id $keyward_environment_id;
            proxy_set_header X-Keyward-User-Id        $keyward_user_id;
            proxy_set_header X-Keyward-Role           $keyward_role;
            proxy_set_header X-Keyward-Scopes         $keyward_scopes;
            proxy_set_header Authorization "";   # the API never sees the key
            proxy_set_header X-API-Key "";

            # What a refusal needs, for @keyward_denied.
            auth_request_set $keyward_status      $upstream_http_x_keyward_status;
            auth_request_set $keyward_challenge   $upstream_http_www_authenticate;
            auth_request_set $keyward_retry_after $upstream_http_retry_after;
            auth_request_set $keyward_ratelimit   $upstream_http_ratelimit;
            auth_request_set $keyward_rl_policy   $upstream_http_ratelimit_policy;
            error_page 403 = @keyward_denied;

            proxy_http_version 1.1;
            proxy_set_header Connection "";      # keep-alive to the API
            proxy_pass http://api;
        }

        location = /_keyward {
            internal;
            proxy_pass http://keyward/gateway/nginx;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI    $request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For   $proxy_add_x_forwarded_for;
            proxy_http_version 1.1;
            proxy_set_header Connection "";      # keep-alive to Keyward
        }

        # auth_request passes on only 401 and 403: Keyward sends a rate limit's 429 (and an
        # outage's 503) as 403 with the true status in X-Keyward-Status. Map it back.
        location @keyward_denied {
            if ($keyward_status = 429) {
                add_header Retry-After      $keyward_retry_after always;
                add_header RateLimit        $keyward_ratelimit always;
                add_header RateLimit-Policy $keyward_rl_policy always;
                return 429;
            }
            if ($keyward_status = 503) {
                return 503;
            }
            add_header WWW-Authenticate $keyward_challenge always;   # names the missing scope
            return 403;
        }
    }
`

// nginxConf is the whole file the test runs: nginxServer inside what a test needs, every path
// below the test's directory.
const nginxConf = `{{USER}}worker_processes 1;
events {
    worker_connections 256;
}
http {
    access_log off;
    client_body_temp_path {{DIR}}/client_body_temp;
    proxy_temp_path       {{DIR}}/proxy_temp;
    fastcgi_temp_path     {{DIR}}/fastcgi_temp;
    uwsgi_temp_path       {{DIR}}/uwsgi_temp;
    scgi_temp_path        {{DIR}}/scgi_temp;

{{SERVER}}}
`

// startNginx runs nginx in the foreground with nginxConf, in front of fd's Keyward and
// upstream, and returns its base URL.
func startNginx(t *testing.T, fd *frontDoor) string {
	t.Helper()
	bin := lookBinary(t, "nginx", "apt-get install nginx")
	dir := t.TempDir()
	listen := freeAddr(t)
	// Started by root, nginx runs its workers as nobody, who may not enter the test's
	// directory (0700); as anyone else it keeps its own user and ignores the directive.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n"
	}
	server := render(nginxServer, map[string]string{"KEYWARD": fd.keywardAddr(), "UPSTREAM": fd.upstream.addr(), "LISTEN": listen})
	conf := writeConfig(t, dir, "nginx.conf", render(nginxConf, map[string]string{"USER": user, "DIR": dir, "SERVER": server}))
	cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", "stderr",
		"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;")
	c := startChild(t, "nginx", cmd)
	c.waitReady(t, "http://"+listen+"/health")
	return "http://" + listen
}

// TestNginxFrontDoor: the real nginx, with auth_request to Keyward's /gateway/nginx.
func TestNginxFrontDoor(t *testing.T) {
	fd := startFrontDoor(t)
	checkFrontDoor(t, fd, startNginx(t, fd))
}
