#!/usr/bin/env bash
# Verifies what the Dockerfile promises where Docker cannot build: it builds the binary the
# image's build stage builds (deploy/build-static.sh, the same flags), checks that it is
# static, and runs it as the image would: alone in an otherwise empty root directory (no
# shell, no libc, no /bin: what distroless/static has for it), as user and group 65532, with
# the image's environment only (KEYWARD_ADDR, KEYWARD_DATA=/data on a fresh directory owned
# by 65532, mode 0700), waits for /readyz, and runs `keyward healthcheck` as the image's
# HEALTHCHECK does. It needs root (chroot) or, failing that, runs under setpriv instead.
#
# The one difference from the image: it listens on 127.0.0.1, not 0.0.0.0.
#
# usage: deploy/verify-container.sh
set -euo pipefail
cd "$(dirname "$0")/.."

uid=65532
work=$(mktemp -d /tmp/keyward-verify-container.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n==> %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }

version=$(git describe --always --dirty 2>/dev/null || echo dev)
step "build: deploy/build-static.sh (CGO_ENABLED=0, -trimpath, -ldflags \"-s -w -X main.version=$version -X main.commit=… -X main.date=…\")"
deploy/build-static.sh "$work/keyward" "$version"
ls -l "$work/keyward" | awk '{print $1, $5, $NF}'

step "static?"
file "$work/keyward"
file "$work/keyward" | grep -q 'statically linked' || fail "not statically linked"
if ldd "$work/keyward" 2>&1; then fail "ldd found dynamic dependencies"; fi
go version -m "$work/keyward" | grep -E 'CGO_ENABLED|-trimpath'
go version -m "$work/keyward" | grep -q 'CGO_ENABLED=0' || fail "built with cgo"
"$work/keyward" --version

# The image's file system: the binary, the data directory, and /tmp (distroless has one).
root="$work/rootfs"
install -d -m 0755 "$root"
install -m 0755 "$work/keyward" "$root/keyward"
install -d -m 1777 "$root/tmp"
install -d -m 0700 -o "$uid" -g "$uid" "$root/data"
chmod 0755 "$work"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
env=(env -i "KEYWARD_ADDR=127.0.0.1:$port" KEYWARD_DATA=/data)
if [ "$(id -u)" = 0 ] && chroot "$root" /keyward --version >/dev/null 2>&1; then
  how="chroot into $root (holding only /keyward, /data, /tmp) as $uid:$uid"
  run=("$(command -v chroot)" --userspec="$uid:$uid" --groups="$uid" "$root")
  bin=/keyward
else
  how="setpriv as $uid:$uid (no chroot here: the host's files are visible)"
  run=("$(command -v setpriv)" --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs)
  bin="$root/keyward"
  env=(env -i "KEYWARD_ADDR=127.0.0.1:$port" "KEYWARD_DATA=$root/data")
fi

step "run: $how: ${env[*]} $bin serve"
"${env[@]}" "${run[@]}" "$bin" serve >"$work/serve.log" 2>&1 &
pid=$!
ready=
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; fail "keyward exited"; }
  sleep 0.1
done
[ -n "$ready" ] || { cat "$work/serve.log"; fail "/readyz did not answer 200 within 10s"; }
curl -sS -w '  (HTTP %{http_code})\n' "http://127.0.0.1:$port/readyz"
child=$(pgrep -P "$pid" keyward || echo "$pid")
grep -E '^(Uid|Gid|Groups|CapEff|NoNewPrivs):' "/proc/$child/status"
[ "$(awk '/^Uid:/ {print $2 $3 $4 $5}' "/proc/$child/status")" = "$uid$uid$uid$uid" ] || fail "not running as $uid"
grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$child/status" || fail "the process has capabilities"
grep -q 'root admin key' "$work/serve.log" || fail "no root admin key printed on the first start"
echo "root admin key printed to stderr on the first start: yes"

step "the data directory, written by $uid"
ls -ln "$root/data" | sed 1d | awk '{print $1, $3 ":" $4, $NF}'

step "healthcheck, as the image's HEALTHCHECK runs it: ${env[*]} $bin healthcheck"
"${env[@]}" "${run[@]}" "$bin" healthcheck
echo "exit status $?"

step "healthcheck once the server is stopped (SIGTERM)"
kill -TERM "$pid"
wait "$pid" || fail "keyward did not exit cleanly on SIGTERM"
pid=
set +e
"${env[@]}" "${run[@]}" "$bin" healthcheck --timeout 2s
status=$?
set -e
echo "exit status $status"
[ "$status" = 1 ] || fail "healthcheck of a stopped server exited $status, want 1"

step "OK: static binary, runs as $uid without a shell, data on /data, healthcheck 0 when ready and 1 when not"
