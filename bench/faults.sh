#!/usr/bin/env bash
# Fault run of the real binary against the fake Replicate (a process of its own, which
# keeps counting across the server's deaths): JOBS generations from USERS users, KILLS
# kill -9 of the server at random moments of the whole run (each followed by a restart on
# the same data), while the fake answers RATE429 of calls 429 and RATE5XX 5xx, fails
# TRANSIENT of predictions with E6716 and drops the answers of some creates after making
# them. Then it checks what a user and a payer would: every generation completed, with
# its image on disk, and Replicate made exactly one succeeded (paid) prediction per
# generation. Prints the figures docs/RELIABILITY.md quotes; exits 1 if a check fails.
#
# What must hold: no generation left pending or running (none lost); as many succeeded
# (paid) predictions as completed generations, each with its image on disk (no paid
# image thrown away, none paid twice). A generation may fail, with its sentence, when
# Replicate stayed unreachable through its attempts (kills count as attempts too): it
# cost nothing, and the script says how many and why.
#
#   bench/faults.sh                       # 500 jobs, 5 kills, ~3-5 minutes
#   SEED=7 JOBS=200 KILLS=3 bench/faults.sh
#
# Not part of CI (its time budget); loopback only; bounded by TIMEOUT seconds.
set -euo pipefail

JOBS=${JOBS:-500}
USERS=${USERS:-10}
KILLS=${KILLS:-5}
SEED=${SEED:-$$}
RATE429=${RATE429:-0.05}
RATE5XX=${RATE5XX:-0.05}
TRANSIENT=${TRANSIENT:-0.05}
WORKERS=${WORKERS:-12}
TIMEOUT=${TIMEOUT:-900}
PORT=${PORT:-18473}
NAME=faults.sh
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

need go curl jq
RANDOM=$SEED
echo "seed $SEED: $JOBS jobs, $USERS users, $KILLS kills; fake: 429 $RATE429, 5xx $RATE5XX, E6716 $TRANSIENT, lost create answers" >&2
build
start_fake -seed "$SEED" -queue-time 300ms -run-time 1500ms \
	-rate-429 "$RATE429" -rate-5xx "$RATE5XX" -transient-rate "$TRANSIENT"
SETTINGS=(LOG_LEVEL=warn MAX_WORKERS="$WORKERS" MAX_CONCURRENT_GENERATIONS=6)
start_server "${SETTINGS[@]}"
T0=$SECONDS

TOKENS=()
for u in $(seq "$USERS"); do
	register "fault$u"
	TOKENS+=("$TOKEN")
done

# The enqueuer: each create until it is answered. A create whose answer a kill cut off
# may have been made: the client cannot tell, tries again, and the database then holds
# one generation more than asked, which is counted, not an error.
(
	for i in $(seq "$JOBS"); do
		tok=${TOKENS[$((i % USERS))]}
		until curl -fsS -m 10 -o /dev/null -X POST "$BASE/api/v1/images/generate" -H "Authorization: Bearer $tok" \
			-H 'Content-Type: application/json' \
			-d "{\"prompt\":\"fault run image $i\",\"resolution\":\"1K\",\"aspect_ratio\":\"1:1\"}" 2>/dev/null; do
			echo retry >>"$WORK/enqueue-retries"
			sleep 0.2
		done
	done
) &
ENQUEUER=$!
PIDS+=($ENQUEUER)

# The kills, at moments drawn at random over the whole expected run (about 2 s of fake
# work per job over WORKERS workers: enqueueing, creating, polling, downloading,
# storing); before each, the fake is told to drop the answers of the next two creates, so
# kills and restarts meet creates whose predictions exist unanswered.
SPAN=$((JOBS * 2 / WORKERS + 10))
mapfile -t AT < <(for _ in $(seq "$KILLS"); do echo $((2 + RANDOM % SPAN)); done | sort -n)
KILLED_AT=()
for k in $(seq "$KILLS"); do
	while [ $((SECONDS - T0)) -lt "${AT[$((k - 1))]}" ]; do sleep 0.1; done
	curl -fsS -X POST "$FAKE_ROOT/_fake/config" -H 'Content-Type: application/json' \
		-d '{"lose_next_creates": 2}' >/dev/null
	kill -9 "$SERVER"
	wait "$SERVER" 2>/dev/null || true
	KILLED_AT+=($((SECONDS - T0)))
	echo "kill -9 #$k at $((SECONDS - T0)) s" >&2
	start_server "${SETTINGS[@]}"
done
wait "$ENQUEUER"

# Until every generation is done (or the time is up).
count() { # status -> how many of that status over every user, paged
	local n=0 tok cursor page
	for tok in "${TOKENS[@]}"; do
		cursor=""
		while :; do
			page=$(curl -fsS "$BASE/api/v1/images/list?limit=100&status=$1${cursor:+&cursor=$cursor}" -H "Authorization: Bearer $tok")
			n=$((n + $(jq '.items | length' <<<"$page")))
			cursor=$(jq -r '.next_cursor // empty' <<<"$page")
			[ -z "$cursor" ] && break
		done
	done
	echo "$n"
}
deadline=$((T0 + TIMEOUT))
while :; do
	busy=$(($(count pending) + $(count running)))
	[ "$busy" -eq 0 ] && break
	if [ $SECONDS -gt $deadline ]; then
		echo "$busy generations still unfinished after $TIMEOUT s" >&2
		break
	fi
	sleep 2
done
ELAPSED=$((SECONDS - T0))

COMPLETED=$(count completed)
FAILED=$(count failed)
CANCELED=$(count canceled)
UNFINISHED=$(($(count pending) + $(count running)))
GENERATIONS=$((COMPLETED + FAILED + CANCELED + UNFINISHED))
STATS=$(curl -fsS "$FAKE_ROOT/_fake/stats")
SUCCEEDED=$(jq .succeeded <<<"$STATS")
IMAGES=$(find "$WORK/data/images" -type f \( -name '*.png' -o -name '*.jpg' -o -name '*.jpeg' -o -name '*.webp' \) ! -name '*_thumb.jpg' | wc -l)
TMPS=$(find "$WORK/data/images" -type f -name '.tmp-*' | wc -l)
RETRIES=$( [ -f "$WORK/enqueue-retries" ] && wc -l <"$WORK/enqueue-retries" || echo 0)

cat <<EOF
seed $SEED, $ELAPSED s, kills at ${KILLED_AT[*]} s
generations: $GENERATIONS ($JOBS asked; creates retried by the client after a kill: $RETRIES)
  completed $COMPLETED, failed $FAILED, canceled $CANCELED, unfinished $UNFINISHED
images on disk: $IMAGES; temporary files left by kills: $TMPS (removed by a start an hour later)
fake Replicate: created $(jq .created <<<"$STATS"), succeeded $SUCCEEDED, failed (E6716) $(jq .failed <<<"$STATS"), aborted $(jq .aborted <<<"$STATS"), canceled $(jq .canceled <<<"$STATS")
  answered 429: $(jq .throttled <<<"$STATS"), 5xx: $(jq .server_errors <<<"$STATS"), create answers dropped: $(jq .lost_responses <<<"$STATS"), gets $(jq .gets <<<"$STATS"), downloads $(jq .downloads <<<"$STATS")
EOF

if [ "$FAILED" -gt 0 ]; then
	echo "why they failed:" >&2
	for tok in "${TOKENS[@]}"; do
		curl -fsS "$BASE/api/v1/images/list?limit=100&status=failed" -H "Authorization: Bearer $tok" | jq -r '.items[].error'
	done | sort | uniq -c >&2
fi
ok=1
[ "$UNFINISHED" -eq 0 ] || { echo "FAIL: $UNFINISHED generations never finished" >&2; ok=0; }
[ "$SUCCEEDED" -eq "$COMPLETED" ] || { echo "FAIL: $SUCCEEDED paid predictions for $COMPLETED completed generations" >&2; ok=0; }
[ "$IMAGES" -eq "$COMPLETED" ] || { echo "FAIL: $IMAGES images on disk for $COMPLETED completed generations" >&2; ok=0; }
[ "$ok" -eq 1 ] && echo "OK: no job lost, none paid twice, every paid image stored"
[ "$ok" -eq 1 ]
