# Everyday targets; `make release` builds the Linux binaries (scripts/release.sh).
.PHONY: build test vet release clean

build:
	CGO_ENABLED=0 go build -o nanobanana .

test:
	go test ./...

vet:
	go vet ./...

release:
	scripts/release.sh

clean:
	rm -rf dist nanobanana
