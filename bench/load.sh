#!/usr/bin/env bash
# Load test of the real binary: status (read one), list of 20 and durable create, with
# wrk on loopback, plus the server's memory idle and under each load. Prints a table.
#
#   bench/load.sh                 # 8 s per endpoint, wrk -t2 -c64 reads, -c16 creates
#   DURATION=4s bench/load.sh     # shorter
#
# Needs go, wrk (apt-get install -y wrk), curl, jq. The loader runs on the same machine as
# the server: every figure it prints is "server and wrk sharing the cores".
set -euo pipefail

DURATION=${DURATION:-8s}
READ_CONNS=${READ_CONNS:-64}
CREATE_CONNS=${CREATE_CONNS:-16}
THREADS=${THREADS:-2}
PORT=${PORT:-18471}
LOG_LEVEL=${LOG_LEVEL:-info}
BENCH=$(cd "$(dirname "$0")" && pwd)
NAME=load.sh
# shellcheck source=bench/lib.sh
. "$BENCH/lib.sh"

need go wrk curl jq
build
start_fake
start_server LOG_LEVEL="$LOG_LEVEL" MAX_WORKERS=3
register loadtest

# Twenty-five finished generations, so the list has 20 real rows and status reads a
# completed one (the common case: a gallery being looked at).
for i in $(seq 25); do
	ID=$(curl -fsS -X POST "$BASE/api/v1/images/generate" "${auth[@]}" -H 'Content-Type: application/json' \
		-d "{\"prompt\":\"load test seed $i\",\"resolution\":\"1K\",\"aspect_ratio\":\"1:1\",\"generation_mode\":\"text-to-image\"}" | jq -r .image_id)
done
for _ in $(seq 600); do
	n=$(curl -fsS "$BASE/api/v1/images/list?limit=100&status=completed" "${auth[@]}" | jq '.items | length')
	[ "$n" -ge 25 ] && break
	sleep 0.1
done
[ "$(curl -fsS "$BASE/api/v1/images/status/$ID" "${auth[@]}" | jq -r .status)" = completed ] ||
	{ echo "seed generations did not complete" >&2; exit 1; }

# From here on creates must not make the workers busy (that would measure image work,
# not the enqueue): predictions now wait an hour in "starting", so only MAX_WORKERS jobs
# are in flight, each blocked in one long Prefer: wait call.
curl -fsS -X POST "$FAKE_ROOT/_fake/config" -H 'Content-Type: application/json' \
	-d '{"queue_time": 3600000000000}' >/dev/null

rss() { mb VmRSS; }
hwm() { mb VmHWM; }

# peak_rss FILE: sample VmRSS every 100 ms until killed, keeping the largest in FILE.
peak_rss() {
	local max=0 v
	while :; do
		v=$(rss) || break
		[ "$v" -gt "$max" ] && { max=$v; echo "$max" >"$1"; }
		sleep 0.1
	done
}

sleep 2
IDLE=$(rss)
SETUP_HWM=$(hwm) # the seed's 25 image downloads and thumbnails

export NB_TOKEN=$TOKEN NB_ID=$ID
declare -A RPS P50 P99 PEAK ERRS
run() { # name script conns
	local name=$1 script=$2 conns=$3 out=$WORK/wrk-$1.txt
	echo 0 >"$WORK/peak-$name"
	peak_rss "$WORK/peak-$name" &
	local sampler=$!
	wrk -t"$THREADS" -c"$conns" -d"$DURATION" --latency -s "$BENCH/$script" "$BASE" >"$out"
	kill "$sampler"; wait "$sampler" 2>/dev/null || true
	RPS[$name]=$(awk '/^Requests\/sec/ {printf "%d", $2}' "$out")
	P50[$name]=$(awk '$1 == "50%" {print $2}' "$out")
	P99[$name]=$(awk '$1 == "99%" {print $2}' "$out")
	ERRS[$name]=$(awk '/Non-2xx/ {print $NF} /Socket errors/ {print "socket:" $0}' "$out" | tr '\n' ' ')
	PEAK[$name]=$(cat "$WORK/peak-$name")
	sleep 1
}
run status status.lua "$READ_CONNS"
run list list.lua "$READ_CONNS"
run generate generate.lua "$CREATE_CONNS"

echo
echo "nanobanana load test: $(nproc) cores, wrk -t$THREADS on the same machine, $DURATION per run, LOG_LEVEL=$LOG_LEVEL"
printf '%-42s %10s %9s %9s %10s %s\n' endpoint req/s p50 p99 "peak RSS" errors
printf '%-42s %10s %9s %9s %9sM %s\n' "GET /api/v1/images/status/{id} (-c$READ_CONNS)" "${RPS[status]}" "${P50[status]}" "${P99[status]}" "${PEAK[status]}" "${ERRS[status]:-none}"
printf '%-42s %10s %9s %9s %9sM %s\n' "GET /api/v1/images/list?limit=20 (-c$READ_CONNS)" "${RPS[list]}" "${P50[list]}" "${P99[list]}" "${PEAK[list]}" "${ERRS[list]:-none}"
printf '%-42s %10s %9s %9s %9sM %s\n' "POST /api/v1/images/generate (-c$CREATE_CONNS)" "${RPS[generate]}" "${P50[generate]}" "${P99[generate]}" "${PEAK[generate]}" "${ERRS[generate]:-none}"
echo "memory: VmRSS idle ${IDLE}M (after setup, before load); VmHWM after setup ${SETUP_HWM}M, over the whole run $(hwm)M"
