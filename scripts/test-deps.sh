#!/usr/bin/env bash
# Installs what the test suite needs beyond Go: Debian's nginx and apache2 (deploy tests), chromium
# (frontend end-to-end test), python3-requests (the seed's Python example), postgresql
# (the tests start their own server with internal/pgtest; the package's own cluster
# service is not used) and a real MinIO server built from the Go module proxy into
# .cache/bin (storage adapter test).
# Idempotent: installs only what is missing. Without root it only says what is missing;
# the tests that need a missing part skip with a message naming it.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
[ -x /usr/sbin/apache2 ] && [ -e /usr/lib/apache2/modules/mod_proxy_http.so ] || missing+=(apache2)
[ -x /usr/bin/chromium ] || missing+=(chromium)
/usr/bin/python3 -c 'import requests' >/dev/null 2>&1 || missing+=(python3-requests)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# Debian keeps initdb off PATH, under /usr/lib/postgresql/VERSION/bin.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)

if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "test-deps: installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	else
		echo "test-deps: missing ${missing[*]} (install them as root with apt-get); their tests will skip" >&2
	fi
fi

bash .ci/install-minio.sh
go mod download
