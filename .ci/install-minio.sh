#!/bin/sh
# Builds the MinIO server used by the storage package's real-server tests.
# Idempotent: a binary already in .cache/bin is kept, because the build takes
# minutes and produces a ~150 MB file that never changes for a pinned version.
set -eu

cd "$(dirname "$0")/.."
BIN_DIR="$PWD/.cache/bin"
VERSION="v0.0.0-20260212201848-7aac2a2c5b7c"

if [ -x "$BIN_DIR/minio" ]; then
	echo "minio already installed at $BIN_DIR/minio"
	exit 0
fi

mkdir -p "$BIN_DIR"
# A static build keeps the binary independent of the host's libc; MinIO
# builds without cgo.
CGO_ENABLED=0 GOBIN="$BIN_DIR" go install "github.com/minio/minio@$VERSION"
echo "minio installed at $BIN_DIR/minio"
