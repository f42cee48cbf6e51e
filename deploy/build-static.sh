#!/bin/sh
# Builds keyward as the container image ships it: a static binary (CGO_ENABLED=0, so no libc
# and nothing to load at run time), without the builder's paths (-trimpath), without debug
# symbols (-s -w), with its version set (-X main.version). The Dockerfile and
# deploy/verify-container.sh both build through this script, so the binary verified here is
# built the way the image's is.
#
# usage: deploy/build-static.sh OUTPUT [VERSION]
set -eu
out=${1:?usage: deploy/build-static.sh OUTPUT [VERSION]}
version=${2:-${VERSION:-dev}}
cd "$(dirname "$0")/.."
CGO_ENABLED=0 GOOS=${GOOS:-linux} go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$out" ./cmd/keyward
