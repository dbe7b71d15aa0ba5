#!/usr/bin/env bash
# Runs every Go fuzz target briefly (FUZZTIME, default 50000 inputs each, 3-8 s here) on
# top of its seed corpus, which plain `go test` already runs. The default is a count, not
# a duration: with a duration, Go 1.26's fuzzing coordinator can report its own deadline
# as a failure ("context deadline exceeded", no failing input) when the time runs out
# while a worker is busy (go.dev/issue/75804); a count has no deadline to race.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-50000x}
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target ($fuzztime)"
		go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg" >/tmp/fuzz.$$.log 2>&1 || { cat /tmp/fuzz.$$.log; exit 1; }
	done
done
rm -f /tmp/fuzz.$$.log
