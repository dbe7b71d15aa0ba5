# Shared setup of the bench scripts (sourced, not run): builds the binary and the fake
# Replicate, starts both on loopback, registers a user, and cleans up on exit.
# The caller sets PORT and NAME (used in messages) before sourcing.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d "/tmp/nb-$NAME.XXXXXX")
BASE=http://127.0.0.1:$PORT
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ -n "${KEEP:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# need TOOL...: fail at once, naming what is missing.
need() {
	for tool in "$@"; do
		command -v "$tool" >/dev/null || { echo "$NAME: $tool is required" >&2; exit 1; }
	done
}

build() {
	echo "building..." >&2
	(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/nb" . && CGO_ENABLED=0 go build -o "$WORK/fake" ./replicate/replicatetest/cmd/fakereplicate)
}

# start_fake [FLAG...]: the fake prints its API base on its first line; sets FAKE and FAKE_ROOT.
start_fake() {
	"$WORK/fake" -addr 127.0.0.1:0 "$@" >"$WORK/fake.out" 2>"$WORK/fake.err" &
	PIDS+=($!)
	for _ in $(seq 100); do [ -s "$WORK/fake.out" ] && break; sleep 0.05; done
	FAKE=$(head -n1 "$WORK/fake.out")
	FAKE_ROOT=${FAKE%/v1}
}

# start_server [VAR=VALUE...]: serve against the fake with the given extra settings; sets SERVER.
start_server() {
	env DATA_DIR="$WORK/data" LISTEN_ADDR="127.0.0.1:$PORT" REPLICATE_API_BASE="$FAKE" \
		REPLICATE_API_TOKEN=r8_bench BCRYPT_COST=10 "$@" \
		"$WORK/nb" serve >"$WORK/server.log" 2>&1 &
	SERVER=$!
	PIDS+=($SERVER)
	for _ in $(seq 200); do curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
	curl -fsS "$BASE/healthz" >/dev/null || { echo "server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }
}

# register USER: signs up and sets TOKEN and the curl arguments auth=(...).
register() {
	TOKEN=$(curl -fsS -X POST "$BASE/api/v1/auth/register" -H 'Content-Type: application/json' \
		-d "{\"username\":\"$1\",\"email\":\"$1@example.com\",\"password\":\"$1-bench-password\"}" | jq -r .access_token)
	auth=(-H "Authorization: Bearer $TOKEN")
}

# mb FIELD: a /proc/PID/status memory field of the server, in MB.
mb() { awk -v f="$1:" '$1 == f {print int($2/1024)}' "/proc/$SERVER/status"; }
