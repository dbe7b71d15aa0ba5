#!/usr/bin/env bash
# Peak memory of the real binary while MAX_WORKERS=3 workers finish 4K images from the
# fake Replicate (real 4K image bytes: download, store, thumbnail).
#
#   bench/memory.sh              # 30 generations of 4K PNG
#   COUNT=60 FORMAT=jpg bench/memory.sh
#
# Prints VmHWM (the kernel's own high-water mark of resident memory) and the largest
# VmRSS seen by sampling every 50 ms. Loopback only; bounded by TIMEOUT seconds.
set -euo pipefail

COUNT=${COUNT:-30}
FORMAT=${FORMAT:-png}
ASPECT=${ASPECT:-1:1}   # 1:1 at 4K is the largest image: 4096x4096
WORKERS=${WORKERS:-3}
TIMEOUT=${TIMEOUT:-300}
PORT=${PORT:-18472}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/nb-mem.XXXXXX)
BASE=http://127.0.0.1:$PORT
PIDS=()

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

for tool in go curl jq; do
	command -v "$tool" >/dev/null || { echo "memory.sh: $tool is required" >&2; exit 1; }
done
echo "building..." >&2
(cd "$ROOT" && CGO_ENABLED=0 go build -o "$WORK/nb" . && CGO_ENABLED=0 go build -o "$WORK/fake" ./replicate/replicatetest/cmd/fakereplicate)

"$WORK/fake" -addr 127.0.0.1:0 -queue-time 10ms -run-time 100ms >"$WORK/fake.out" 2>"$WORK/fake.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/fake.out" ] && break; sleep 0.05; done
FAKE=$(head -n1 "$WORK/fake.out")

DATA_DIR=$WORK/data LISTEN_ADDR=127.0.0.1:$PORT REPLICATE_API_BASE=$FAKE REPLICATE_API_TOKEN=r8_memtest \
	LOG_LEVEL=warn BCRYPT_COST=10 MAX_WORKERS=$WORKERS MAX_CONCURRENT_GENERATIONS=$WORKERS \
	"$WORK/nb" serve >"$WORK/server.log" 2>&1 &
SERVER=$!
PIDS+=($SERVER)
for _ in $(seq 200); do curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.05; done
curl -fsS "$BASE/healthz" >/dev/null || { echo "server did not start:" >&2; cat "$WORK/server.log" >&2; exit 1; }

field() { awk -v f="$1:" '$1 == f {print int($2/1024)}' "/proc/$SERVER/status"; }
IDLE=$(field VmRSS)

TOKEN=$(curl -fsS -X POST "$BASE/api/v1/auth/register" -H 'Content-Type: application/json' \
	-d '{"username":"memtest","email":"memtest@example.com","password":"mem-test-password"}' | jq -r .access_token)
auth=(-H "Authorization: Bearer $TOKEN")

start=$(date +%s.%N)
for i in $(seq "$COUNT"); do
	curl -fsS -X POST "$BASE/api/v1/images/generate" "${auth[@]}" -H 'Content-Type: application/json' \
		-d "{\"prompt\":\"memory test $i\",\"resolution\":\"4K\",\"aspect_ratio\":\"$ASPECT\",\"output_format\":\"$FORMAT\",\"generation_mode\":\"text-to-image\"}" >/dev/null
done

peak=0 done=0 failed=0
deadline=$((SECONDS + TIMEOUT))
while [ $SECONDS -lt $deadline ]; do
	v=$(field VmRSS)
	[ "$v" -gt "$peak" ] && peak=$v
	if [ $((SECONDS % 1)) -eq 0 ]; then
		list=$(curl -fsS "$BASE/api/v1/images/list?limit=100" "${auth[@]}")
		done=$(jq '[.items[] | select(.status == "completed")] | length' <<<"$list")
		failed=$(jq '[.items[] | select(.status == "failed" or .status == "canceled")] | length' <<<"$list")
		[ $((done + failed)) -ge "$COUNT" ] && break
	fi
	sleep 0.05
done
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
bytes=$(curl -fsS "$BASE/api/v1/images/list?limit=1&status=completed" "${auth[@]}" | jq '.items[0] | "\(.width)x\(.height) \(.bytes) bytes"' -r)

echo
echo "nanobanana memory test: $(nproc) cores, MAX_WORKERS=$WORKERS, $COUNT x 4K $FORMAT ($bytes each)"
echo "completed $done, failed $failed, in ${elapsed%.*} s"
echo "VmRSS idle ${IDLE} MB; peak sampled VmRSS ${peak} MB; VmHWM $(field VmHWM) MB"
[ "$failed" -eq 0 ] && [ "$done" -ge "$COUNT" ] || { echo "not every generation completed; see the server log:" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
