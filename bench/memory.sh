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
NAME=memory.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

need go curl jq bc
build
start_fake -queue-time 10ms -run-time 100ms
start_server LOG_LEVEL=warn MAX_WORKERS="$WORKERS" MAX_CONCURRENT_GENERATIONS="$WORKERS"
register memtest
IDLE=$(mb VmRSS)

start=$(date +%s.%N)
for i in $(seq "$COUNT"); do
	curl -fsS -X POST "$BASE/api/v1/images/generate" "${auth[@]}" -H 'Content-Type: application/json' \
		-d "{\"prompt\":\"memory test $i\",\"resolution\":\"4K\",\"aspect_ratio\":\"$ASPECT\",\"output_format\":\"$FORMAT\",\"generation_mode\":\"text-to-image\"}" >/dev/null
done

peak=0 done=0 failed=0
deadline=$((SECONDS + TIMEOUT))
while [ $SECONDS -lt $deadline ]; do
	v=$(mb VmRSS)
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
echo "VmRSS idle ${IDLE} MB; peak sampled VmRSS ${peak} MB; VmHWM $(mb VmHWM) MB"
[ "$failed" -eq 0 ] && [ "$done" -ge "$COUNT" ] || { echo "not every generation completed; see the server log:" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
