#!/bin/sh
# Builds the nanobanana binary for every system it supports, the way releases are built
# (CGO off), into a temporary directory that is removed afterwards, so that a change
# that breaks one of them fails CI (`make test`) rather than a user's build. Stops at
# the first target that does not build and names it.
#
#   scripts/cross-build.sh                              # every supported target
#   scripts/cross-build.sh --list                       # print them (scripts/release.sh builds the same)
#   TARGETS="windows/amd64" scripts/cross-build.sh      # some of them
#
# Only the binary (package main and what it imports) must build everywhere: the tests
# and their helpers (internal/pgtest, internal/proctest) are Linux-first.
set -eu

cd "$(dirname "$0")/.."

SUPPORTED="linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 freebsd/amd64"

if [ "${1:-}" = "--list" ]; then
	echo "$SUPPORTED"
	exit 0
fi
if [ $# -gt 0 ]; then
	echo "usage: scripts/cross-build.sh [--list]" >&2
	exit 2
fi

TARGETS=${TARGETS:-$SUPPORTED}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

for target in $TARGETS; do
	os=${target%/*}
	arch=${target#*/}
	echo "cross-build: $target"
	if ! CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -o "$out/nanobanana-$os-$arch" .; then
		echo "cross-build: FAILED: nanobanana does not build for $target" >&2
		exit 1
	fi
done
echo "cross-build: ok ($TARGETS)"
