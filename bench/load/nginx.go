package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The -nginx mode measures what putting Keyward in front of an API with nginx's
// auth_request costs. One nginx listens on two ports and proxies both to the same upstream,
// the bare server in a process of its own, over kept-alive connections: on one port it first
// asks Keyward's /gateway/nginx about every request, configured as docs/integrations.md
// shows; on the other it lets every request through. The run drives the two alternately with
// the same requests: GET /v1/orders with one of the seeded keys as Authorization: Bearer.

// nginxBenchConf is the nginx configuration of the -nginx mode. The server on {{AUTH}} is
// docs/integrations.md's, with the upstream's keep-alive pool sized for the run.
const nginxBenchConf = `{{USER}}worker_processes {{WORKERS}};
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path {{DIR}}/client_body_temp;
    proxy_temp_path       {{DIR}}/proxy_temp;
    fastcgi_temp_path     {{DIR}}/fastcgi_temp;
    uwsgi_temp_path       {{DIR}}/uwsgi_temp;
    scgi_temp_path        {{DIR}}/scgi_temp;

    upstream keyward {
        server {{KEYWARD}};
        keepalive 128;
    }
    upstream api {
        server {{UPSTREAM}};
        keepalive 128;
    }

    # Without auth: straight to the API.
    server {
        listen {{PLAIN}};
        location / {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://api;
        }
    }

    # With auth: Keyward first.
    server {
        listen {{AUTH}};

        location / {
            auth_request /_keyward;
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
            proxy_set_header Authorization "";
            proxy_set_header X-API-Key "";

            auth_request_set $keyward_status      $upstream_http_x_keyward_status;
            auth_request_set $keyward_challenge   $upstream_http_www_authenticate;
            auth_request_set $keyward_retry_after $upstream_http_retry_after;
            auth_request_set $keyward_ratelimit   $upstream_http_ratelimit;
            auth_request_set $keyward_rl_policy   $upstream_http_ratelimit_policy;
            error_page 403 = @keyward_denied;

            proxy_http_version 1.1;
            proxy_set_header Connection "";
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
            proxy_set_header Connection "";
        }

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
            add_header WWW-Authenticate $keyward_challenge always;
            return 403;
        }
    }
}
`

// nginxPath is where the API behind nginx is asked; any path would do.
const nginxPath = "/v1/orders"

// nginxProcess is an nginx this program started in the foreground, with a temporary
// directory that stop removes.
type nginxProcess struct {
	dir             string
	plainURL, auth  string
	cmd             *exec.Cmd
	out             *serverLog
	exited          chan struct{}
	waitErr         error
	master, workers int
}

// findNginx is bin, or nginx on PATH, or /usr/sbin/nginx (not on a user's PATH on Debian).
func findNginx(bin string) (string, error) {
	if bin != "" {
		return bin, nil
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p, nil
	}
	if info, err := os.Stat("/usr/sbin/nginx"); err == nil && !info.IsDir() {
		return "/usr/sbin/nginx", nil
	}
	return "", errors.New("nginx is not installed (apt-get install nginx), or pass -nginx-bin")
}

// startNginx starts nginx with nginxBenchConf in front of keyward and upstream (host:port
// each) and waits until both its ports answer. On error nothing is left running.
func startNginx(ctx context.Context, bin, workers, keyward, upstream string) (_ *nginxProcess, err error) {
	bin, err = findNginx(bin)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "keyward-bench-nginx-")
	if err != nil {
		return nil, err
	}
	n := &nginxProcess{dir: dir, out: newServerLog(20)}
	defer func() {
		if err != nil {
			n.stop()
		}
	}()
	plain, err := freeAddr()
	if err != nil {
		return nil, err
	}
	auth, err := freeAddr()
	if err != nil {
		return nil, err
	}
	n.plainURL, n.auth = "http://"+plain, "http://"+auth
	// Started by root, nginx runs its workers as nobody, who may not enter the temporary
	// directory (0700); as anyone else it ignores the directive.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;\n"
	}
	conf := nginxBenchConf
	for k, v := range map[string]string{"USER": user, "WORKERS": workers, "DIR": dir, "KEYWARD": keyward,
		"UPSTREAM": upstream, "PLAIN": plain, "AUTH": auth} {
		conf = strings.ReplaceAll(conf, "{{"+k+"}}", v)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	n.cmd = exec.Command(bin, "-p", dir, "-c", confPath, "-e", "stderr",
		"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;")
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	setProcAttrs(n.cmd)
	if err := n.cmd.Start(); err != nil {
		n.cmd = nil
		return nil, fmt.Errorf("starting nginx: %w", err)
	}
	n.master = n.cmd.Process.Pid
	n.exited = make(chan struct{})
	go func() {
		n.waitErr = n.cmd.Wait()
		close(n.exited)
	}()
	if err := n.waitReady(ctx, 30*time.Second); err != nil {
		return nil, err
	}
	return n, nil
}

// waitReady waits until both ports answer (any status: the auth port answers 401 without a
// key).
func (n *nginxProcess) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	hc := &http.Client{Timeout: time.Second}
	for _, u := range []string{n.plainURL, n.auth} {
		for {
			resp, err := hc.Get(u + nginxPath)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				break
			}
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-n.exited:
				return fmt.Errorf("nginx exited (%v); its last output:\n%s", n.waitErr, strings.Join(n.out.tail(), "\n"))
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("nginx did not answer within %s; its last output:\n%s", limit, strings.Join(n.out.tail(), "\n"))
			}
		}
	}
	return nil
}

// pids are nginx's master and its workers.
func (n *nginxProcess) pids() []int { return append([]int{n.master}, childPIDs(n.master)...) }

// stop asks nginx to stop at once (SIGTERM to the master, which stops its workers), kills its
// process group if it has not stopped within 10 s, and removes its directory.
func (n *nginxProcess) stop() error {
	var err error
	if n.cmd != nil {
		select {
		case <-n.exited:
		default:
			n.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-n.exited:
			case <-time.After(10 * time.Second):
				err = errors.New("nginx did not stop within 10 s of SIGTERM and was killed")
			}
		}
		syscall.Kill(-n.master, syscall.SIGKILL) // workers left behind, if any
		<-n.exited
	}
	return errors.Join(err, os.RemoveAll(n.dir))
}

// benchNginx runs the -nginx comparison: rounds of nginx alone, then nginx with Keyward,
// with the same requests, reporting each side's CPU (nginx, Keyward, the upstream).
func benchNginx(ctx context.Context, o options, rep *report, baseURL string, keywardPID int, secrets [][]byte, progress io.Writer) error {
	bs, err := startBare(false)
	if err != nil {
		return fmt.Errorf("starting the upstream: %w", err)
	}
	defer bs.stop()
	up, err := url.Parse(bs.url)
	if err != nil {
		return err
	}
	kw, err := url.Parse(baseURL)
	if err != nil {
		return err
	}
	fmt.Fprintf(progress, "starting nginx (worker_processes %s) in front of %s and the upstream %s …\n", o.nginxWorkers, kw.Host, up.Host)
	ng, err := startNginx(ctx, o.nginxBin, o.nginxWorkers, kw.Host, up.Host)
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := ng.stop(); stopErr != nil {
			rep.Failures = append(rep.Failures, stopErr.Error())
		}
	}()
	rep.Settings.NginxWorkers = o.nginxWorkers

	groups := []procGroup{{name: "nginx", pids: ng.pids()}}
	if keywardPID != 0 {
		groups = append(groups, procGroup{name: "keyward", pids: []int{keywardPID}})
	}
	groups = append(groups, procGroup{name: "upstream", pids: []int{bs.pid}})
	probe := cpuProbe(0, groups...)

	plain := newTarget("nginx", ng.plainURL+nginxPath, false, o.conc, o.reqTimeout).bearerGET(upstreamAnswer, `"valid":true`)
	defer plain.close()
	guarded := newTarget("nginx+keyward", ng.auth+nginxPath, false, o.conc, o.reqTimeout).bearerGET(upstreamAnswer, `"valid":true`)
	defer guarded.close()

	c := &comparison{Endpoint: "GET " + nginxPath + " through nginx", Baseline: plain.name, Subject: guarded.name}
	rep.FrontDoor = c
	for r := range o.rounds {
		c.Rounds = append(c.Rounds, round{})
		rd := &c.Rounds[r]
		for _, side := range []struct {
			t    *target
			into **phase
		}{{plain, &rd.Bare}, {guarded, &rd.Keyward}} {
			fmt.Fprintf(progress, "nginx round %d/%d: %s, %d connections, %s …\n", r+1, o.rounds, side.t.name, o.conc, o.duration)
			p := load(ctx, side.t, secrets, o.conc, o.warmup, o.duration, probe)
			side.t.close()
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			*side.into = &p
			rep.check(fmt.Sprintf("nginx round %d %s", r+1, side.t.name), p)
		}
	}
	return nil
}
