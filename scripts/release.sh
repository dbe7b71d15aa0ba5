#!/bin/sh
# Builds static, trimmed, versioned nanobanana binaries for every supported system
# (the list in scripts/cross-build.sh, which CI builds on every run) into dist/, with a
# SHA-256 list, and prints their sizes.
#
#   scripts/release.sh                 # version from git describe
#   VERSION=v1.2.3 scripts/release.sh  # or given
#   TARGETS="linux/amd64 linux/arm64" scripts/release.sh   # only some systems
#
# `nanobanana version` of each binary prints VERSION and COMMIT.
set -eu

cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
TARGETS=${TARGETS:-$(scripts/cross-build.sh --list)}
OUT=dist

mkdir -p "$OUT"
for target in $TARGETS; do
	os=${target%/*}
	arch=${target#*/}
	bin="$OUT/nanobanana-$VERSION-$os-$arch"
	if [ "$os" = windows ]; then
		bin="$bin.exe"
	fi
	# CGO off makes the binary static (the SQLite driver is pure Go);
	# -trimpath keeps build paths out of it; -s -w drop symbol tables.
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION -X main.commit=$COMMIT" \
		-o "$bin" .
done

(cd "$OUT" && sha256sum nanobanana-"$VERSION"-* > "SHA256SUMS-$VERSION")

echo "nanobanana $VERSION (commit $COMMIT):"
for f in "$OUT"/nanobanana-"$VERSION"-*; do
	size=$(wc -c < "$f")
	printf '  %-48s %10d bytes (%s MiB)\n' "$f" "$size" "$(awk "BEGIN { printf \"%.1f\", $size / 1048576 }")"
done
echo "checksums: $OUT/SHA256SUMS-$VERSION"
