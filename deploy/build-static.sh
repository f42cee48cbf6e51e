#!/bin/sh
# Builds keyward as the container image ships it: a static binary (CGO_ENABLED=0, so no libc
# and nothing to load at run time), without the builder's paths (-trimpath), without debug
# symbols (-s -w), with its version, commit and build date set (-X main.version, main.commit,
# main.date: what `keyward version` and keyward_build_info report). The Dockerfile and
# deploy/verify-container.sh both build through this script, so the binary verified here is
# built the way the image's is.
#
# usage: deploy/build-static.sh OUTPUT [VERSION]
#   COMMIT defaults to the checkout's commit (unknown outside a git clone, as in an image
#   build, which passes it as a build argument); DATE to now, in UTC.
set -eu
out=${1:?usage: deploy/build-static.sh OUTPUT [VERSION]}
version=${2:-${VERSION:-dev}}
cd "$(dirname "$0")/.."
commit=${COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
date=${DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
CGO_ENABLED=0 GOOS=${GOOS:-linux} go build -trimpath \
  -ldflags "-s -w -X main.version=$version -X main.commit=$commit -X main.date=$date" -o "$out" ./cmd/keyward
