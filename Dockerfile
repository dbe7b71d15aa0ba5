# nanobanana in a container: one static binary on an empty base image.
# Not exercised on the project's machines (no Docker daemon there); the test
# in deploy/docker_test.go only checks its structure. See docs/DEPLOY.md.

# --- build -------------------------------------------------------------
FROM golang:1.26-bookworm AS build
WORKDIR /src
# Dependencies first, so a source change does not refetch modules.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
# CGO off: the SQLite driver is pure Go, and a static binary runs on scratch.
RUN CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
        -o /out/nanobanana . \
 && mkdir -p /out/data

# --- run ---------------------------------------------------------------
FROM scratch
# TLS roots for calls to Replicate (and S3 over HTTPS).
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/nanobanana /nanobanana
# An empty /data owned by the runtime user: a new named volume copies this
# ownership, so the app can write its database, images and secret.key.
COPY --from=build --chown=65532:65532 /out/data /data
# No root inside the container; 65532 is the conventional "nonroot" id.
USER 65532:65532
ENV LISTEN_ADDR=0.0.0.0:8000 \
    DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8000
ENTRYPOINT ["/nanobanana"]
CMD ["serve", "--data-dir", "/data"]
