#!/bin/sh
# Installs Debian's Chromium for the frontend's end-to-end test (frontend/e2e_test.go).
# Idempotent: does nothing when /usr/bin/chromium is already there. No tool downloads
# its own browser; this one comes from the distribution's packages.
set -eu
if [ -x /usr/bin/chromium ]; then
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version
