# Everyday targets; `make release` builds the binaries of every supported system
# (scripts/release.sh).
.PHONY: build test vet release clean bench

build:
	CGO_ENABLED=0 go build -o nanobanana .

# The whole suite: installs missing test tools (as root), runs every test with real
# SQLite, loopback HTTP, the fake Replicate, nginx, Chromium, MinIO and PostgreSQL, runs
# the jobs and server suites again on PostgreSQL (db/postgres's own tests, the store's
# conformance suite among them, always run on PostgreSQL), builds the binary for every
# supported system, then fuzzes briefly.
test:
	scripts/test-deps.sh
	go test -shuffle=on -timeout 20m ./...
	NANOBANANA_TEST_DB=postgres go test -shuffle=on -timeout 10m ./jobs ./server
	scripts/cross-build.sh
	scripts/fuzz.sh

vet:
	go vet ./...

release:
	scripts/release.sh

clean:
	rm -rf dist nanobanana
