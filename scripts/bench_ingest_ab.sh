#!/usr/bin/env bash
# Event ingestion, before and after a change, in interleaved rounds on one machine:
#   BEFORE_BIN=/path/to/an/earlier/growstack bash scripts/bench_ingest_ab.sh
# AFTER_BIN defaults to this checkout's release build (built here). Each binary gets a
# database of its own (migrated by itself) and a server of its own; every round runs, for
# each in turn (the order flipped each round), POST /api/events/batch (500 events a request,
# 8 connections, 5 s; events/s from the table's row count) and POST /api/events/track (50
# connections, 5 s; requests/s). Prints the figures and the after/before ratios (median and
# spread) and appends them to bench/RESULTS.md.
. "$(dirname "$0")/lib.sh"
ensure_toolchain
ensure_postgres
ensure_redis
command -v wrk >/dev/null || apt_install wrk
cd "$ROOT"

: "${BEFORE_BIN:?BEFORE_BIN must name the earlier growstack binary}"
if [ -z "${AFTER_BIN:-}" ]; then
  log "building the release binary"
  cargo build --release --bin growstack
  AFTER_BIN=target/release/growstack
fi
ROUNDS="${BENCH_ROUNDS:-5}"
export RUST_LOG=warn AUTH_RATE_LIMIT_MAX=1000000 EVENTS_PER_USER_PER_MINUTE=1000000000 SCHEDULER_ENABLED=false
export GROWSTACK_ENV=local
JWT_ACCESS_SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
JWT_REFRESH_SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
export JWT_ACCESS_SECRET JWT_REFRESH_SECRET

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 100); do tcp_open 127.0.0.1 "$1" && return; sleep 0.1; done; log "port $1 never opened"; exit 1; }

# side NAME BIN PORT: a fresh database, migrated and rolled up once (as the scheduler would
# have), an admin, a server; sets TOKEN_<NAME>.
side() {
  local name=$1 bin=$2 port=$3 db="growstack_bench_$1"
  local_psql -c "DROP DATABASE IF EXISTS $db" >/dev/null
  local_psql -c "CREATE DATABASE $db" >/dev/null
  local url="postgres://postgres:postgres@127.0.0.1:5432/$db"
  DATABASE_URL="$url" "$bin" migrate >/dev/null
  DATABASE_URL="$url" "$bin" create-admin --email bench@growstack.dev --password bench-password-1 >/dev/null
  DATABASE_URL="$url" "$bin" run-task events-rollup >/dev/null
  DATABASE_URL="$url" REDIS_KEY_PREFIX="bench-$name:" PORT=$port METRICS_PORT=$((port + 100)) "$bin" serve >/dev/null 2>&1 &
  pids+=($!)
  wait_port "$port"
  local token
  token=$(curl -s -X POST "localhost:$port/api/auth/login" -H 'content-type: application/json' \
    -d '{"email":"bench@growstack.dev","password":"bench-password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])')
  printf -v "TOKEN_$name" '%s' "$token"
}
side before "$BEFORE_BIN" 3311
side after "$AFTER_BIN" 3312

python3 - >/tmp/growstack-ab-batch.json <<'PY'
import json
print(json.dumps({"events": [{"eventName": "screen_viewed", "properties": {"screen": "wallet", "i": i, "tab": "savings"}} for i in range(500)]}))
PY
script() { # script NAME TOKEN BODY-LUA
  cat >"/tmp/growstack-ab-$1.lua" <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $2"
$3
LUA
}
for name in before after; do
  token_var="TOKEN_$name"
  script "batch-$name" "${!token_var}" 'local f = io.open("/tmp/growstack-ab-batch.json", "rb"); wrk.body = f:read("*a"); f:close()'
  script "track-$name" "${!token_var}" "wrk.body = '{\"eventName\":\"screen_viewed\",\"properties\":{\"screen\":\"wallet\"}}'"
done
port_of() { if [ "$1" = before ]; then echo 3311; else echo 3312; fi; }
count() { local_psql -d "growstack_bench_$1" -c "SELECT count(*) FROM events WHERE event_name = 'screen_viewed'"; }
batch_rate() {
  local before started
  before=$(count "$1"); started=$(date +%s.%N)
  wrk -t2 -c8 -d5s -s "/tmp/growstack-ab-batch-$1.lua" "http://127.0.0.1:$(port_of "$1")/api/events/batch" >/dev/null
  python3 -c "print(round(($(count "$1") - $before) / ($(date +%s.%N) - $started)))"
}
track_rate() {
  wrk -t2 -c50 -d5s -s "/tmp/growstack-ab-track-$1.lua" "http://127.0.0.1:$(port_of "$1")/api/events/track" | awk '/Requests\/sec/ {print $2}'
}

log "event ingestion, before and after: $ROUNDS interleaved rounds"
table='| round | batch before (events/s) | batch after | ratio | track before (requests/s) | track after | ratio |'$'\n''|---|---|---|---|---|---|---|'
batch_ratios=(); track_ratios=()
for round in $(seq 1 "$ROUNDS"); do
  if (( round % 2 )); then order="before after"; else order="after before"; fi
  declare -A batch track
  for side in $order; do batch[$side]=$(batch_rate "$side"); done
  for side in $order; do track[$side]=$(track_rate "$side"); done
  b=$(python3 -c "print(round(${batch[after]} / ${batch[before]}, 3))")
  t=$(python3 -c "print(round(${track[after]} / ${track[before]}, 3))")
  batch_ratios+=("$b"); track_ratios+=("$t")
  table+=$'\n'"| $round | ${batch[before]} | ${batch[after]} | $b | ${track[before]} | ${track[after]} | $t |"
done
summarize() { python3 -c "import statistics,sys; v=[float(x) for x in sys.argv[1:]]; print(f'median {statistics.median(v):.3f}, spread {min(v):.3f}-{max(v):.3f}')" "$@"; }
batch_summary=$(summarize "${batch_ratios[@]}"); track_summary=$(summarize "${track_ratios[@]}")
echo "$table"
echo "after / before: batch $batch_summary; track $track_summary"
{
  printf '\n## %s — event ingestion before and after — %s cores, %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(uname -m)"
  printf 'before: %s; after: %s (release builds).\n\n' "${BEFORE_LABEL:-$BEFORE_BIN}" "${AFTER_LABEL:-$AFTER_BIN}"
  echo "$table"
  printf '\nafter / before: batch %s; track %s. Batch: 500 events a request, wrk -t2 -c8 -d5s, events/s from the table'"'"'s row count; track: wrk -t2 -c50 -d5s, requests/s. Each side has its own database and server; rounds interleave, the order flipped each round.\n' "$batch_summary" "$track_summary"
} >> bench/RESULTS.md
