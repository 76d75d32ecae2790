#!/usr/bin/env bash
# The load benchmark of DESIGN.md's performance bar, in the shape of the Node guide's
# autocannon run (100 connections, 10 s, GET /api/users), against release builds on
# loopback. Prints the figures and appends them to bench/RESULTS.md.
#   1. growstack serve, GET /api/users answered from the cache;
#   2. the yardstick: a bare axum handler doing one Redis GET (examples/baseline.rs);
#   3. growstack serve with Redis unreachable, so every request runs the one SQL statement.
#   4. Event ingestion: events stored per second through POST /api/events/batch (500 a
#      request, 8 connections) against COPY of the same rows into the same table, in
#      alternating rounds; and POST /api/events/track with 100 connections.
#   5. Analytics (BENCH_CASES=analytics, not in the default run): 100,000 users and
#      5,000,000 events generated in SQL in a database of their own, then every analytics
#      endpoint uncached (median of 5 calls over a 90-day range, and the 26-week cohort
#      triangle), each with the EXPLAIN (ANALYZE, BUFFERS) plans of its statements
#      (auto_explain, read from the server log) in bench/ANALYTICS_PLANS.md.
#   6. Experiment assignment: GET /api/experiments/{key}/assignment for 200 users in turn
#      against the cached GET /api/users, 100 connections, in alternating rounds.
#   7. Soak (BENCH_CASES=soak, not in the default run): 60 s of mixed traffic at 50
#      connections (register, login, track, inbox, user list, reward claims) while Postgres,
#      Redis and the AWS stand-in are each taken away for 8 s and given back; prints the
#      answers by status, welcome emails against registrations, and duplicates.
#   8. Lambda (`scripts/bench.sh lambda`, not in the default run): release function binaries
#      run through the harness of tests/support/runtime_api.rs as Lambda runs them, each
#      with its events/ payload and a real token: init, first invocation, warm p50/p99 of
#      1,000 invocations, peak RSS and binary size against the budgets, in bench/LAMBDA.md.
#      LAMBDA_FUNCTIONS names the functions (by default one of each kind of work).
#   9. Register and login: the Argon2id cost of one hash (examples/hash_cost.rs), and
#      POST /api/auth/login and /api/auth/register with 20 connections.
# BENCH_CASES=users, auth, events or experiments (or the groups as arguments) runs those
# only. The comparisons run as BENCH_ROUNDS (5) alternating rounds and record the median
# ratio and its spread.
. "$(dirname "$0")/lib.sh"
ensure_toolchain
ensure_postgres
ensure_redis
command -v wrk >/dev/null || apt_install wrk
cd "$ROOT"

DURATION="${BENCH_DURATION:-10s}"
CONNECTIONS="${BENCH_CONNECTIONS:-100}"
DB=growstack_bench
[ -n "$(local_psql -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" ] || local_psql -c "CREATE DATABASE $DB"
export DATABASE_URL="postgres://postgres:postgres@127.0.0.1:5432/$DB"
export REDIS_KEY_PREFIX="bench:" CACHE_TTL_SECONDS=600 RUST_LOG=warn AUTH_RATE_LIMIT_MAX=100000 EVENTS_PER_USER_PER_MINUTE=100000000
# Both servers must accept the one token the benchmark signs in for.
export GROWSTACK_ENV=local
JWT_ACCESS_SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
JWT_REFRESH_SECRET="$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
export JWT_ACCESS_SECRET JWT_REFRESH_SECRET

log "building release binaries"
cargo build --release --bin growstack --example baseline --example hash_cost
BIN=target/release/growstack
$BIN migrate
$BIN create-admin --email bench@growstack.dev --password bench-password-1 >/dev/null
# 1,000 users, a third of them referred, so each page carries referrals.
local_psql -d "$DB" -c "
  INSERT INTO users (id, email, password_hash, first_name, last_name, referral_code, referred_by)
  SELECT gen_random_uuid(), 'bench' || i || '@example.com', 'x', 'Bench', 'User', upper(lpad(to_hex(i), 6, '0')), NULL
  FROM generate_series(1, 1000) i ON CONFLICT DO NOTHING;
  INSERT INTO referrals (id, referrer_id, referred_user_id, status)
  SELECT gen_random_uuid(), r.id, u.id, 'pending'
  FROM (SELECT id, row_number() OVER (ORDER BY id) n FROM users WHERE email LIKE 'bench%') u
  JOIN (SELECT id, row_number() OVER (ORDER BY id) n FROM users WHERE email LIKE 'bench%') r ON r.n = (u.n % 300) + 1
  WHERE u.n % 3 = 0 AND r.id <> u.id ON CONFLICT DO NOTHING;" >/dev/null

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 100); do tcp_open 127.0.0.1 "$1" && return; sleep 0.1; done; log "port $1 never opened"; exit 1; }

PORT=3301 METRICS_PORT=9471 $BIN serve >/dev/null 2>&1 & pids+=($!)
PORT=3302 METRICS_PORT=9472 REDIS_URL=redis://127.0.0.1:1 $BIN serve >/dev/null 2>&1 & pids+=($!)
wait_port 3301; wait_port 3302
TOKEN=$(curl -s -X POST localhost:3301/api/auth/login -H 'content-type: application/json' \
  -d '{"email":"bench@growstack.dev","password":"bench-password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])')
curl -s -o /tmp/growstack-bench-body.json -H "authorization: Bearer $TOKEN" localhost:3301/api/users
redis-cli -p 6379 -x SET bench:baseline < /tmp/growstack-bench-body.json >/dev/null 2>&1 \
  || "$VENV/bin/python" -c "import socket,sys; b=open('/tmp/growstack-bench-body.json','rb').read(); s=socket.create_connection(('127.0.0.1',6379)); s.sendall(b'*3\r\n\$3\r\nSET\r\n\$14\r\nbench:baseline\r\n\$'+str(len(b)).encode()+b'\r\n'+b+b'\r\n'); s.recv(64)"
PORT=3303 BASELINE_KEY=bench:baseline target/release/examples/baseline & pids+=($!)
wait_port 3303

# One wrk run of 5 s (or $2); prints: requests/s p99 non-2xx.
measure() {
  local out; out=$(wrk -t2 -c"$CONNECTIONS" -d"${MEASURE_FOR:-5s}" --latency "$@")
  local non2xx; non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out") ${non2xx:-0}"
}
# The median and spread of ratios: "median 0.81, spread 0.74-0.86".
summarize() {
  python3 -c "import statistics,sys; r=sorted(map(float, sys.argv[1:])); print(f'median {statistics.median(r):.2f}, spread {r[0]:.2f}-{r[-1]:.2f}')" "$@"
}
ROUNDS="${BENCH_ROUNDS:-5}"

CASES="${BENCH_CASES:-${*:-users auth events experiments}}"
if [[ " $CASES " == *" users "* ]]; then
  # On a shared machine one run swings by 40 %: the cached path and the yardstick (the same
  # bytes, from one Redis GET) alternate, the order flipping each round, and only their
  # ratio within a round is compared.
  log "GET /api/users: $ROUNDS alternating rounds of 5 s, cached against the yardstick, $CONNECTIONS connections"
  ratios=()
  table='| round | growstack cached req/s | p99 | non-2xx | yardstick req/s | p99 | ratio |'$'\n''|---|---|---|---|---|---|---|'
  for round in $(seq 1 "$ROUNDS"); do
    if (( round % 2 )); then
      read -r c_rps c_p99 c_bad <<<"$(measure -H "authorization: Bearer $TOKEN" http://127.0.0.1:3301/api/users)"
      read -r y_rps y_p99 _ <<<"$(measure http://127.0.0.1:3303/api/users)"
    else
      read -r y_rps y_p99 _ <<<"$(measure http://127.0.0.1:3303/api/users)"
      read -r c_rps c_p99 c_bad <<<"$(measure -H "authorization: Bearer $TOKEN" http://127.0.0.1:3301/api/users)"
    fi
    ratio=$(python3 -c "print(round($c_rps / $y_rps, 2))")
    ratios+=("$ratio")
    table+=$'\n'"| $round | $c_rps | $c_p99 | $c_bad | $y_rps | $y_p99 | $ratio |"
  done
  summary=$(summarize "${ratios[@]}")
  read -r p_rps p_p99 p_bad <<<"$(MEASURE_FOR=$DURATION measure -H "authorization: Bearer $TOKEN" http://127.0.0.1:3302/api/users)"
  echo "$table"
  echo "cached / yardstick: $summary (target: at least 0.85); Postgres every time: $p_rps requests/s, p99 $p_p99, non-2xx $p_bad"
  {
    printf '\n## %s — GET /api/users — %s cores, %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(uname -m)"
    echo "$table"
    printf '\ncached / yardstick: %s (target ≥ 0.85). The yardstick answers the same %s bytes from one Redis GET. wrk -t2 -c%s -d5s a round, rounds alternating (order flipped each round) in one run, release build, loopback, load generator on the same machine.\n\n' "$summary" "$(wc -c </tmp/growstack-bench-body.json)" "$CONNECTIONS"
    printf 'growstack with Redis unreachable (the one SQL statement every time), wrk -t2 -c%s -d%s: %s requests/s, p99 %s, non-2xx %s.\n' "$CONNECTIONS" "$DURATION" "$p_rps" "$p_p99" "$p_bad"
  } >> bench/RESULTS.md
fi

if [[ " $CASES " == *" events "* ]]; then
  COPY_ROWS="${BENCH_COPY_ROWS:-100000}"
  USER_ID=$(local_psql -d "$DB" -c "SELECT id FROM users WHERE email = 'bench@growstack.dev'")
  # 500 events in one request body: names, a few properties, no eventId (every row is new,
  # as COPY's are).
  python3 - >/tmp/growstack-bench-batch.json <<'PY'
import json
print(json.dumps({"events": [{"eventName": "screen_viewed", "properties": {"screen": "wallet", "i": i, "tab": "savings"}} for i in range(500)]}))
PY
  cat >/tmp/growstack-bench-batch.lua <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $TOKEN"
local f = io.open("/tmp/growstack-bench-batch.json", "rb"); wrk.body = f:read("*a"); f:close()
LUA
  cat >/tmp/growstack-bench-track.lua <<LUA
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer $TOKEN"
wrk.body = '{"eventName":"screen_viewed","properties":{"screen":"wallet"}}'
LUA
  # The same rows COPY stores: the columns the batch route writes, the same sizes (new ids
  # each round, made before the clock starts).
  copy_rows() { python3 - "$USER_ID" "$COPY_ROWS" >/tmp/growstack-bench-copy.csv <<'PY'
import json, sys, uuid, datetime
user, n = sys.argv[1], int(sys.argv[2])
now = datetime.datetime.now(datetime.timezone.utc).isoformat()
meta = json.dumps({"ip": "127.0.0.1", "userAgent": "wrk"}).replace('"', '""')
for i in range(n):
    props = json.dumps({"screen": "wallet", "i": i % 500, "tab": "savings"}).replace('"', '""')
    print(f'{uuid.uuid4()},{user},screen_viewed,"{props}","{meta}",{now},client,true')
PY
  }
  count() { local_psql -d "$DB" -c "SELECT count(*) FROM events"; }
  log "event ingestion: $ROUNDS alternating rounds of batch (8 connections, 5 s) and COPY ($COPY_ROWS rows)"
  ratios=()
  table='| round | batch route events/s | COPY events/s | ratio |'$'
''|---|---|---|---|'
  for round in $(seq 1 "$ROUNDS"); do
    before=$(count); started=$(date +%s.%N)
    wrk -t2 -c8 -d5s -s /tmp/growstack-bench-batch.lua http://127.0.0.1:3301/api/events/batch >/dev/null
    batch_rate=$(python3 -c "import sys; print(round(($(count) - $before) / ($(date +%s.%N) - $started)))")
    copy_rows
    started=$(date +%s.%N)
    local_psql -d "$DB" -c "\copy events (id, user_id, event_name, properties, metadata, occurred_at, source, activity) FROM '/tmp/growstack-bench-copy.csv' WITH (FORMAT csv)" >/dev/null
    copy_rate=$(python3 -c "print(round($COPY_ROWS / ($(date +%s.%N) - $started)))")
    ratio=$(python3 -c "print(round($batch_rate / $copy_rate, 2))")
    ratios+=("$ratio")
    table+=$'
'"| $round | $batch_rate | $copy_rate | $ratio |"
  done
  summary=$(summarize "${ratios[@]}")
  echo "$table"; echo "batch / COPY: $summary (target: at least 0.50)"
  out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s /tmp/growstack-bench-track.lua http://127.0.0.1:3301/api/events/track)
  track_rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out"); track_p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  track_non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); track_non2xx=${track_non2xx:-0}
  echo "POST /api/events/track: $track_rps requests/s, p99 $track_p99, non-2xx $track_non2xx"
  {
    printf '\n## %s — event ingestion — %s cores, %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(uname -m)"
    echo "$table"
    printf '\nbatch / COPY: %s (target ≥ 0.50). Batch: 500 events a request, wrk -t2 -c8 -d5s, events/s from the table'"'"'s row count; COPY: psql \\copy of %s rows of the same shape into the same table. Rounds alternate in one run.\n\n' "$summary" "$COPY_ROWS"
    printf 'POST /api/events/track, wrk -t2 -c%s -d%s: %s requests/s, p99 %s, non-2xx %s.\n' "$CONNECTIONS" "$DURATION" "$track_rps" "$track_p99" "$track_non2xx"
  } >> bench/RESULTS.md
fi

if [[ " $CASES " == *" auth "* ]]; then
  # Sign-up and sign-in are bound by Argon2id, which is meant to be slow: the cost of one
  # hash with the server's own hasher, then the routes with 20 connections.
  read -r hash_ms hash_rate <<<"$(target/release/examples/hash_cost)"
  cat >/tmp/growstack-bench-login.lua <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.body = '{"email":"bench@growstack.dev","password":"bench-password-1"}'
LUA
  # Every sign-up a new address and phone number (a valid Nigerian mobile: the wrk thread,
  # the run and a counter).
  run_id=$(( $(date +%s) % 1000 ))
  cat >/tmp/growstack-bench-register.lua <<LUA
local threads = 0
function setup(thread) threads = threads + 1; thread:set("tid", threads) end
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"email":"r$run_id-%d-%d@bench.test","password":"bench-password-1","firstName":"Bench","lastName":"Register","phone":"+23480%d%d%06d"}', tid, n, tid, $run_id % 10, n)
  return wrk.format("POST", "/api/auth/register", { ["content-type"] = "application/json" }, body)
end
LUA
  log "register and login, 20 connections, $DURATION each"
  read -r login_rps login_p99 login_bad <<<"$(CONNECTIONS=20 MEASURE_FOR=$DURATION measure -s /tmp/growstack-bench-login.lua http://127.0.0.1:3301/api/auth/login)"
  before=$(local_psql -d "$DB" -c "SELECT count(*) FROM users WHERE email LIKE 'r%@bench.test'")
  read -r reg_rps reg_p99 reg_bad <<<"$(CONNECTIONS=20 MEASURE_FOR=$DURATION measure -s /tmp/growstack-bench-register.lua http://127.0.0.1:3301/api/auth/register)"
  after=$(local_psql -d "$DB" -c "SELECT count(*) FROM users WHERE email LIKE 'r%@bench.test'")
  table='| route | requests/s | p99 | non-2xx |'$'\n''|---|---|---|---|'
  table+=$'\n'"| POST /api/auth/login | $login_rps | $login_p99 | $login_bad |"
  table+=$'\n'"| POST /api/auth/register | $reg_rps | $reg_p99 | $reg_bad |"
  echo "$table"
  echo "Argon2id: $hash_ms ms a hash on one core, $hash_rate hashes/s on all; $((after - before)) accounts made"
  {
    printf '\n## %s — register and login — %s cores, %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(uname -m)"
    echo "$table"
    printf '\nArgon2id with the server'"'"'s hasher and parameters (examples/hash_cost.rs): %s ms a hash one at a time, %s hashes/s with as many at once as the hasher allows. A login is one verification, a sign-up one hash plus its transaction (user, referral code, outbox rows), so both are bound by the hash rate. wrk -t2 -c20 -d%s, release build, loopback; %s accounts made by the sign-up run.\n' "$hash_ms" "$hash_rate" "$DURATION" "$((after - before))"
  } >> bench/RESULTS.md
fi

if [[ " $CASES " == *" experiments "* ]]; then
  # 200 users who sign in with the bench admin's password (one Argon2 hash, copied).
  local_psql -d "$DB" -c "
    INSERT INTO users (id, email, password_hash, first_name, last_name, referral_code, email_verified_at)
    SELECT gen_random_uuid(), 'exp' || i || '@bench.test', a.password_hash, 'Exp', 'User', 'E' || lpad(i::text, 5, '0'), now()
    FROM generate_series(1, 200) i, (SELECT password_hash FROM users WHERE email = 'bench@growstack.dev') a
    ON CONFLICT DO NOTHING" >/dev/null
  : >/tmp/growstack-bench-tokens
  for i in $(seq 1 200); do
    curl -s -X POST localhost:3301/api/auth/login -H 'content-type: application/json' \
      -d "{\"email\":\"exp$i@bench.test\",\"password\":\"bench-password-1\"}" \
      | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])' >>/tmp/growstack-bench-tokens
  done
  EXP_KEY="bench-$(date +%s)"
  EXP_ID=$(curl -s -X POST localhost:3301/api/experiments -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' \
    -d "{\"key\":\"$EXP_KEY\",\"name\":\"Bench\",\"variants\":[{\"name\":\"control\",\"weight\":50},{\"name\":\"treatment\",\"weight\":50,\"config\":{\"flow\":\"short\"}}],\"metric\":{\"eventName\":\"deposit_made\"}}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["experiment"]["id"])')
  curl -s -o /dev/null -X PATCH "localhost:3301/api/experiments/$EXP_ID" -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d '{"status":"active"}'
  cat >/tmp/growstack-bench-assign.lua <<LUA
local tokens = {}
for line in io.lines("/tmp/growstack-bench-tokens") do tokens[#tokens + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/experiments/$EXP_KEY/assignment", { authorization = "Bearer " .. tokens[(n % #tokens) + 1] })
end
LUA
  log "experiment assignment against the cached user list: $ROUNDS alternating rounds of 5 s, $CONNECTIONS connections"
  ratios=()
  table='| round | assignment req/s | p99 | non-2xx | cached list req/s | p99 | ratio |'$'\n''|---|---|---|---|---|---|---|'
  for round in $(seq 1 "$ROUNDS"); do
    read -r a_rps a_p99 a_bad <<<"$(measure -s /tmp/growstack-bench-assign.lua http://127.0.0.1:3301)"
    read -r l_rps l_p99 _ <<<"$(measure -H "authorization: Bearer $TOKEN" http://127.0.0.1:3301/api/users)"
    ratio=$(python3 -c "print(round($a_rps / $l_rps, 2))")
    ratios+=("$ratio")
    table+=$'\n'"| $round | $a_rps | $a_p99 | $a_bad | $l_rps | $l_p99 | $ratio |"
  done
  summary=$(summarize "${ratios[@]}")
  exposures=$(local_psql -d "$DB" -c "SELECT count(*) FROM experiment_exposures e JOIN experiments x ON x.id = e.experiment_id WHERE x.key = '$EXP_KEY'")
  echo "$table"; echo "assignment / cached list: $summary (target: at least 0.50); $exposures exposures recorded for 200 users"
  {
    printf '\n## %s — experiment assignment — %s cores, %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(uname -m)"
    echo "$table"
    printf '\nassignment / cached list: %s (target ≥ 0.50). GET /api/experiments/{key}/assignment for 200 signed-in users in turn (a user'"'"'s first call records the exposure in one statement; later calls the process remembers) against GET /api/users from Redis, wrk -t2 -c%s -d5s a round, rounds alternating in one run, release build; %s exposures recorded for 200 users.\n' "$summary" "$CONNECTIONS" "$exposures"
  } >> bench/RESULTS.md
fi

if [[ " $CASES " == *" soak "* ]]; then
  # Everything the soak takes away is its own: a database (connections refused and cut, the
  # server itself untouched), a Redis server, and a TCP proxy in front of moto (stopping
  # moto itself would lose its queues and mail).
  ensure_moto
  SDB=growstack_soak
  local_psql -c "DROP DATABASE IF EXISTS $SDB WITH (FORCE)" >/dev/null
  local_psql -c "CREATE DATABASE $SDB" >/dev/null
  SURL="postgres://postgres:postgres@127.0.0.1:5432/$SDB"
  SREDIS=6391 SPROXY=5091 SPORT=3310 RUN=$(date +%s)
  redis_up() { redis-server --port $SREDIS --bind 127.0.0.1 --save '' --appendonly no >/dev/null 2>&1 & SREDIS_PID=$!; pids+=($!); }
  cat >/tmp/growstack-soak-proxy.py <<'PY'
import asyncio, sys
listen, target = int(sys.argv[1]), int(sys.argv[2])
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data); await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def handle(r, w):
    try:
        tr, tw = await asyncio.open_connection("127.0.0.1", target)
    except Exception:
        w.close(); return
    await asyncio.gather(pipe(r, tw), pipe(tr, w))
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", listen)
    async with server: await server.serve_forever()
asyncio.run(main())
PY
  proxy_up() { python3 /tmp/growstack-soak-proxy.py $SPROXY "$MOTO_PORT" & SPROXY_PID=$!; pids+=($!); wait_port $SPROXY; }
  redis_up; wait_port $SREDIS; proxy_up
  export AWS_ENDPOINT_URL="http://127.0.0.1:$SPROXY"
  SOAK_ENV=$(DATABASE_URL="$SURL" $BIN provision-local --prefix "soak$(date +%s)")
  eval "$SOAK_ENV"
  DATABASE_URL="$SURL" $BIN migrate
  DATABASE_URL="$SURL" $BIN create-admin --email soak-admin@growstack.dev --password bench-password-1 >/dev/null
  DATABASE_URL="$SURL" REDIS_URL="redis://127.0.0.1:$SREDIS" PORT=$SPORT METRICS_PORT=9480 \
    SCHEDULER_INTERVAL_SECONDS=5 PASSWORD_HASH_WAIT_MS=10000 $BIN serve >/tmp/growstack-soak-server.log 2>&1 & pids+=($!)
  wait_port $SPORT
  token() { curl -s -X POST localhost:$SPORT/api/auth/login -H 'content-type: application/json' -d "{\"email\":\"$1\",\"password\":\"$2\"}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])'; }
  ADMIN=$(token soak-admin@growstack.dev bench-password-1)
  # A referrer with one completed referral to claim, many times over.
  local_psql -d "$SDB" -c "
    INSERT INTO users (id, email, password_hash, first_name, last_name, referral_code, email_verified_at)
    SELECT gen_random_uuid(), 'soak-' || w || '@growstack.dev', u.password_hash, 'Soak', w, upper(substr(md5(w), 1, 6)), now()
    FROM (VALUES ('referrer'), ('friend')) v(w), (SELECT password_hash FROM users WHERE email = 'soak-admin@growstack.dev') u;
    UPDATE users SET referred_by = (SELECT id FROM users WHERE email = 'soak-referrer@growstack.dev') WHERE email = 'soak-friend@growstack.dev';
    INSERT INTO referrals (id, referrer_id, referred_user_id, status, completed_at)
    SELECT gen_random_uuid(), r.id, f.id, 'completed', now() - interval '2 days'
    FROM users r, users f WHERE r.email = 'soak-referrer@growstack.dev' AND f.email = 'soak-friend@growstack.dev'" >/dev/null
  USER_TOKEN=$(token soak-referrer@growstack.dev bench-password-1)
  REFERRAL=$(local_psql -d "$SDB" -c "SELECT id FROM referrals")
  cat >/tmp/growstack-soak.lua <<LUA
local threads = {}
local next_id = 1
function setup(thread)
  thread:set("id", next_id); next_id = next_id + 1
  table.insert(threads, thread)
end
function init(args)
  n = 0; statuses = {}
end
local json = "application/json"
request = function()
  n = n + 1
  local k = n % 10
  if k == 0 then
    return wrk.format("POST", "/api/auth/register", { ["content-type"] = json },
      string.format('{"email":"soak-$RUN-%d-%d@example.com","password":"correct-horse-battery","firstName":"Soak","lastName":"User","phone":"+2348%02d%07d"}', id, n, id, n))
  elseif k == 1 then
    return wrk.format("POST", "/api/auth/login", { ["content-type"] = json }, '{"email":"soak-referrer@growstack.dev","password":"bench-password-1"}')
  elseif k <= 4 then
    return wrk.format("POST", "/api/events/track", { ["content-type"] = json, authorization = "Bearer $USER_TOKEN" }, '{"eventName":"screen_viewed"}')
  elseif k <= 6 then
    return wrk.format("GET", "/api/notifications", { authorization = "Bearer $USER_TOKEN" })
  elseif k <= 8 then
    return wrk.format("GET", "/api/users", { authorization = "Bearer $ADMIN" })
  else
    return wrk.format("POST", "/api/referrals/claim-reward", { ["content-type"] = json, authorization = "Bearer $USER_TOKEN" }, '{"referralId":"$REFERRAL"}')
  end
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, count in pairs(t:get("statuses")) do total[status] = (total[status] or 0) + count end
  end
  local keys = {}
  for status in pairs(total) do table.insert(keys, status) end
  table.sort(keys)
  for _, status in ipairs(keys) do io.write(string.format("STATUS %d %d\n", status, total[status])) end
end
LUA
  log "soak: 60 s of mixed traffic, 50 connections; Postgres away at 10 s, Redis at 25 s, the AWS stand-in at 40 s, 8 s each"
  wrk -t2 -c50 -d60s -s /tmp/growstack-soak.lua http://127.0.0.1:$SPORT >/tmp/growstack-soak-wrk.txt 2>&1 &
  WRK=$!
  sleep 10
  local_psql -c "ALTER DATABASE $SDB ALLOW_CONNECTIONS false" >/dev/null
  local_psql -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$SDB'" >/dev/null
  sleep 8
  local_psql -c "ALTER DATABASE $SDB ALLOW_CONNECTIONS true" >/dev/null
  sleep 7
  kill $SREDIS_PID; wait $SREDIS_PID 2>/dev/null || true
  sleep 8
  redis_up
  sleep 7
  kill $SPROXY_PID; wait $SPROXY_PID 2>/dev/null || true
  sleep 8
  proxy_up
  wait $WRK || true
  log "soak: waiting for the queues to drain (the outbox relay every 5 s, redelivery after 30 s)"
  registered=$(local_psql -d "$SDB" -c "SELECT count(*) FROM users WHERE email LIKE 'soak-$RUN-%@example.com'")
  count_welcomes() { curl -s "http://127.0.0.1:$MOTO_PORT/moto-api/data.json" | RUN=$RUN python3 -c '
import json, os, sys, collections
prefix = "soak-" + os.environ["RUN"] + "-"
data = json.load(sys.stdin)
c = collections.Counter()
for m in data.get("ses", {}).get("Message", []):
    if "Welcome" in str(m.get("subject", "")):
        for to in m.get("destinations", {}).get("ToAddresses", []):
            if to.startswith(prefix): c[to] += 1
print(len(c), sum(v - 1 for v in c.values()))' 2>/dev/null || echo "0 0"; }
  # moto now and then fails to build its dump while it is busy: such a count reads 0 and is
  # asked again.
  welcomed=0 duplicates=0
  for _ in $(seq 1 36); do
    read -r welcomed duplicates <<<"$(count_welcomes)"
    [ "${welcomed:-0}" -ge "$registered" ] && break
    sleep 5
  done
  pending=$(local_psql -d "$SDB" -c "SELECT count(*) FROM outbox WHERE sent_at IS NULL")
  paid=$(local_psql -d "$SDB" -c "SELECT count(*) FROM rewards")
  statuses=$(grep '^STATUS' /tmp/growstack-soak-wrk.txt | awk '{printf "%s: %s, ", $2, $3}' | sed 's/, $//')
  fives=$(awk '/^STATUS 5/ && $2 != 503 {s+=$3} END {print s+0}' /tmp/growstack-soak-wrk.txt)
  total=$(awk '/requests in/ {print $1}' /tmp/growstack-soak-wrk.txt)
  # wrk gives up on a request after 2 s: registrations queued behind the password hashing.
  timeouts=$(awk '/Socket errors/ {print $NF}' /tmp/growstack-soak-wrk.txt); timeouts=${timeouts:-0}
  echo "answers by status: $statuses (of $total; $timeouts given up by wrk after 2 s)"
  echo "registrations $registered, welcome emails to $welcomed of them, duplicates $duplicates, outbox unsent $pending, rewards paid $paid (one referral)"
  verdict=$([ "$fives" = 0 ] && [ "$welcomed" = "$registered" ] && [ "$duplicates" = 0 ] && [ "$paid" -le 2 ] && echo pass || echo FAIL)
  echo "goal (no 500, emails = registrations, no duplicates, one payout): $verdict"
  {
    printf '\n## %s — soak — %s cores, %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(uname -m)"
    printf -- '- answers by status: %s (of %s requests; %s given up by wrk after 2 s, registrations waiting for a password-hashing slot)\n' "$statuses" "$total" "$timeouts"
    printf -- '- registrations %s; welcome emails reached %s of them; duplicates %s; outbox rows unsent at the end %s; rewards paid for the one referral %s\n' "$registered" "$welcomed" "$duplicates" "$pending" "$paid"
    printf -- '- goal (no 500, emails = registrations, duplicates 0, paid once): %s\n\n' "$verdict"
    printf 'wrk -t2 -c50 -d60s, release build, a request mix of 1 register : 1 login : 3 track : 2 inbox : 2 user list : 1 claim; at 10 s the database refuses connections and its backends are terminated for 8 s; at 25 s Redis is killed for 8 s; at 40 s the AWS stand-in (moto, behind a proxy) is unreachable for 8 s. SCHEDULER_INTERVAL_SECONDS=5.\n'
  } >> bench/RESULTS.md
  export AWS_ENDPOINT_URL="http://127.0.0.1:$MOTO_PORT"
fi

if [[ " $CASES " == *" analytics "* ]]; then
  ADB=growstack_bench_analytics
  [ -n "$(local_psql -c "SELECT 1 FROM pg_database WHERE datname = '$ADB'")" ] || local_psql -c "CREATE DATABASE $ADB"
  AURL="postgres://postgres:postgres@127.0.0.1:5432/$ADB"
  DATABASE_URL="$AURL" $BIN migrate
  DATABASE_URL="$AURL" $BIN create-admin --email bench@growstack.dev --password bench-password-1 >/dev/null
  if [ "$(local_psql -d "$ADB" -c "SELECT count(*) FROM users")" -lt 100000 ]; then
    log "generating 100,000 users, their referrals, rewards and notifications, and 5,000,000 events (a few minutes)"
    started=$(date +%s)
    local_psql -d "$ADB" -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
-- Every month of the last 180 days has its events partition.
SELECT growstack_ensure_events_partition(
         format('events_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM')), m::date, (m + interval '1 month')::date)
FROM generate_series(date_trunc('month', now() - interval '180 days'), date_trunc('month', now()), interval '1 month') m;
-- Sign-ups over 180 days, every onboarding step, active in the last 60 days.
INSERT INTO users (id, email, password_hash, first_name, last_name, referral_code, onboarding_step, created_at, last_active_at)
SELECT gen_random_uuid(), 'a' || i || '@bench.test', 'x', 'Bench', 'User' || i, 'A' || lpad(upper(to_hex(i)), 5, '0'),
       (ARRAY['email', 'phone', 'bvn', 'selfie', 'kyc_complete'])[1 + i % 5],
       now() - (i % 180) * interval '1 day' - (i % 24) * interval '1 hour', now() - (i % 60) * interval '1 day'
FROM generate_series(1, 100000) i;
CREATE TEMP TABLE numbered AS SELECT id, created_at, row_number() OVER (ORDER BY id) AS n FROM users WHERE email LIKE 'a%@bench.test';
CREATE INDEX ON numbered (n);
-- A third referred, by 5,000 referrers, in every status.
INSERT INTO referrals (id, referrer_id, referred_user_id, status, fraud_score, created_at)
SELECT gen_random_uuid(), r.id, u.id, (ARRAY['pending', 'completed', 'failed', 'rewarded'])[1 + u.n % 4], (u.n * 37) % 100, u.created_at
FROM numbered u JOIN numbered r ON r.n = (u.n % 5000) + 1
WHERE u.n % 3 = 0 AND r.id <> u.id;
UPDATE users SET referred_by = r.referrer_id FROM referrals r WHERE r.referred_user_id = users.id;
INSERT INTO rewards (id, referral_id, user_id, side, amount, currency, status, created_at)
SELECT gen_random_uuid(), r.id, CASE s WHEN 'referrer' THEN r.referrer_id ELSE r.referred_user_id END, s, 500.00,
       CASE WHEN r.fraud_score % 2 = 0 THEN 'NGN' ELSE 'USD' END, 'available', r.created_at
FROM referrals r CROSS JOIN (VALUES ('referrer'), ('referred')) sides(s) WHERE r.status = 'rewarded';
-- Two notifications a user.
INSERT INTO notifications (id, user_id, type, channel, status, title, content, read, created_at)
SELECT gen_random_uuid(), u.id, (ARRAY['welcome', 'referral_reward', 'kyc_reminder', 'inactivity', 'custom'])[1 + (u.n + k) % 5],
       (ARRAY['email', 'sms', 'whatsapp', 'push'])[1 + (u.n + k) % 4], (ARRAY['pending', 'sent', 'failed', 'delivered', 'read'])[1 + u.n % 5],
       'Title', 'Content', u.n % 5 = 4, u.created_at + k * interval '1 day'
FROM numbered u CROSS JOIN generate_series(0, 1) k;
-- 50 events a user over the last 90 days, eight names.
INSERT INTO events (id, user_id, event_name, occurred_at, source, activity)
SELECT gen_random_uuid(), u.id,
       (ARRAY['app_opened', 'screen_viewed', 'kyc_started', 'kyc_completed', 'transfer_started', 'transfer_completed', 'card_added', 'logout'])[1 + (g * 7 + u.n) % 8],
       now() - ((g * 104729 + u.n * 7919) % 7776000) * interval '1 second', 'client', true
FROM numbered u CROSS JOIN generate_series(1, 50) g;
-- As autovacuum leaves a table at rest: statistics, and the visibility map index-only scans need.
VACUUM ANALYZE;
SQL
    log "generated in $(( $(date +%s) - started )) s"
    DATABASE_URL="$AURL" $BIN run-task events-rollup >/dev/null
  fi
  # Every statement's plan with its real timings and buffers, in the server log.
  PLANS="options=-c%20session_preload_libraries%3Dauto_explain%20-c%20auto_explain.log_min_duration%3D0%20-c%20auto_explain.log_analyze%3Don%20-c%20auto_explain.log_buffers%3Don%20-c%20auto_explain.log_timing%3Don"
  # Timed on a plain server; the plans come from a second one with auto_explain on, whose
  # per-row timing would slow the timed calls.
  PORT=3304 METRICS_PORT=9474 DATABASE_URL="$AURL" ANALYTICS_CACHE_SECONDS=0 SCHEDULER_ENABLED=false $BIN serve >/dev/null 2>&1 & pids+=($!)
  PORT=3305 METRICS_PORT=9475 DATABASE_URL="$AURL?$PLANS" ANALYTICS_CACHE_SECONDS=0 SCHEDULER_ENABLED=false $BIN serve >/dev/null 2>&1 & pids+=($!)
  wait_port 3304; wait_port 3305
  # The servers run no scheduled task (the first day's nudges would write events for every
  # idle user while the calls are timed); the rollup runs once, as the schedule keeps it.
  DATABASE_URL="$AURL" $BIN run-task events-rollup >/dev/null
  ATOKEN=$(curl -s -X POST localhost:3304/api/auth/login -H 'content-type: application/json' \
    -d '{"email":"bench@growstack.dev","password":"bench-password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])')
  PGLOG=$(ls /var/log/postgresql/postgresql-*-main.log 2>/dev/null | head -1)
  from=$(date -u -d '90 days ago' +%F); to=$(date -u +%F)
  funnel="{\"steps\":[\"app_opened\",\"kyc_started\",\"kyc_completed\"],\"windowHours\":168,\"startDate\":\"$from\",\"endDate\":\"$to\",\"groupBy\":\"referred\"}"
  table='| endpoint | median ms | spread ms | target |'$'\n''|---|---|---|---|'
  plans="# Analytics plans — $(date -u +%Y-%m-%dT%H:%MZ)"$'\n\n'"100,000 users, $(local_psql -d "$ADB" -c "SELECT count(*) FROM events") events; auto_explain (ANALYZE, BUFFERS) of one call of each endpoint, on a server of its own (its per-row timing makes these durations longer than the timed ones)."$'\n'
  for spec in "onboarding?startDate=$from&endDate=$to|300" "referrals?startDate=$from&endDate=$to|300" \
      "events?startDate=$from&endDate=$to&interval=week|300" "notifications?startDate=$from&endDate=$to|300" \
      "users?startDate=$from&endDate=$to|300" "retention?startDate=$from&endDate=$to&cohort=week&periods=13|300" \
      "retention?cohort=week&periods=26|1000" "funnels|300"; do
    path=${spec%|*}; target=${spec#*|}
    call() {
      local port=${1:-3304}
      if [ "$path" = funnels ]; then
        curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST -H "authorization: Bearer $ATOKEN" -H 'content-type: application/json' -d "$funnel" "localhost:$port/api/analytics/funnels"
      else
        curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "authorization: Bearer $ATOKEN" "localhost:$port/api/analytics/$path"
      fi
    }
    call >/dev/null # prepares the statements
    times=()
    for _ in 1 2 3 4 5; do read -r code secs <<<"$(call)"; [ "$code" = 200 ] || { log "$path answered $code"; exit 1; }; times+=("$secs"); done
    offset=$( [ -r "$PGLOG" ] && stat -c %s "$PGLOG" || echo 0)
    [ -r "$PGLOG" ] && call 3305 >/dev/null
    stats=$(python3 -c "import statistics,sys; t=sorted(1000*float(x) for x in sys.argv[1:]); print(f'{statistics.median(t):.0f} | {t[0]:.0f}-{t[-1]:.0f}')" "${times[@]}")
    median=${stats%% |*}
    verdict=$([ "$median" -le "$target" ] && echo "≤ $target ms: pass" || echo "≤ $target ms: FAIL")
    table+=$'\n'"| $path | $stats | $verdict |"
    if [ -r "$PGLOG" ]; then
      sleep 0.5
      plans+=$'\n'"## $path"$'\n\n```\n'"$(tail -c +"$((offset + 1))" "$PGLOG" | sed -n '/duration:.*plan:/,$p')"$'\n```\n'
    fi
  done
  echo "$table"
  [ -r "$PGLOG" ] || plans+=$'\n'"(the server log was not readable here: no plans)"$'\n'
  printf '%s\n' "$plans" > bench/ANALYTICS_PLANS.md
  {
    printf '\n## %s — analytics, uncached — %s cores, %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(uname -m)"
    echo "$table"
    printf '\n100,000 users (180 days of sign-ups), 5,000,000 events over 90 days, ANALYTICS_CACHE_SECONDS=0, release build; time per call through HTTP (curl), median of 5 after one warm-up call; ranges of 90 days; plans in bench/ANALYTICS_PLANS.md.\n'
  } >> bench/RESULTS.md
fi

if [[ " $CASES " == *" lambda "* ]]; then
  # One function of each kind of work: no database (health), a Redis hit (the user list),
  # a one-statement read (a user by id, the inbox), a write (an event), experiment
  # assignment and an analytics read. `LAMBDA_FUNCTIONS=all` for every endpoint's function
  # (each release binary is linked with fat LTO: most of a minute apiece here). A function
  # whose payload this run cannot fill (another user's id, a refresh token) is timed refusing
  # it, and the answer column says so.
  FUNCS="${LAMBDA_FUNCTIONS:-health users-list users-get notifications-list events-track analytics-users}"
  log "building the release functions: $FUNCS"
  cargo build --release --example lambda
  if [ "$FUNCS" = all ]; then
    cargo build --release -p growstack-functions --bins
  else
    # shellcheck disable=SC2046
    cargo build --release $(printf -- '--bin %s ' $FUNCS)
  fi
  PORT=3310 METRICS_PORT=9476 SCHEDULER_ENABLED=false $BIN serve >/dev/null 2>&1 & pids+=($!)
  wait_port 3310
  login=$(curl -s -X POST localhost:3310/api/auth/login -H 'content-type: application/json' \
    -d '{"email":"bench@growstack.dev","password":"bench-password-1"}')
  LAMBDA_ACCESS_TOKEN=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["accessToken"])' <<<"$login")
  LAMBDA_USER_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["user"]["id"])' <<<"$login")
  # The user events/users-get.json reads.
  local_psql -d "$DB" -c "INSERT INTO users (id, email, password_hash, first_name, last_name, referral_code)
    VALUES ('0192f0c4-8a6e-7c3a-9d1e-3b5f4a2c1d0e', 'lambda@example.com', 'x', 'Lambda', 'Bench', 'LAMBDA')
    ON CONFLICT DO NOTHING" >/dev/null
  # The user list's first call fills the cache the functions then hit.
  curl -s -o /dev/null -H "authorization: Bearer $LAMBDA_ACCESS_TOKEN" "localhost:3310/api/users?limit=10&offset=0"
  # The KYC webhook's function is given a signing secret, and its event is signed with it.
  table=$(KYC_WEBHOOK_SECRET=lambda-bench-kyc-webhook-secret-0123456789 \
    LAMBDA_BIN_DIR=target/release LAMBDA_FUNCTIONS="$FUNCS" LAMBDA_ACCESS_TOKEN="$LAMBDA_ACCESS_TOKEN" \
    LAMBDA_USER_ID="$LAMBDA_USER_ID" RUST_LOG=warn target/release/examples/lambda)
  echo "$table"
  {
    printf '# Lambda functions — %s — %s cores, %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(uname -m)"
    echo "$table"
    printf '\nRelease binaries (the shipped profile) started by `scripts/bench.sh lambda` through the\n'
    printf 'Runtime API of tests/support/runtime_api.rs on loopback, with local Postgres and Redis:\n'
    printf 'init is the median of 5 starts from process start to the first `next`; warm figures\n'
    printf 'are over 1,000 invocations after the first. Budgets: init ≤ 20 ms, warm p99 ≤ 5 ms for a\n'
    printf 'cache hit and ≤ 15 ms for a one-statement read (none for the functions that hash a\n'
    printf 'password: Argon2id is tens of ms of a core by design), RSS ≤ 32 MiB, binary ≤ 8 MB\n'
    printf '(decimal, stripped). `answer` is the status the function gave its events/ payload (a\n'
    printf 'refusal, for a payload naming data this run does not have, is timed too).\n'
  } > bench/LAMBDA.md
fi

if [[ " $CASES " == *" profile "* ]]; then
  # Where the cached path's time goes: the shipped build with symbols (the `profiling`
  # profile), perf record of the server under the users case's load, and the functions
  # that hold 1 % of the samples or more, in bench/PROFILE.md.
  command -v perf >/dev/null || apt_install linux-perf
  cargo build --profile profiling --bin growstack
  PORT=3312 METRICS_PORT=9478 SCHEDULER_ENABLED=false target/profiling/growstack serve >/dev/null 2>&1 & ppid=$!; pids+=($ppid)
  wait_port 3312
  curl -s -o /dev/null -H "authorization: Bearer $TOKEN" localhost:3312/api/users
  wrk -t2 -c"$CONNECTIONS" -d12s -H "authorization: Bearer $TOKEN" http://127.0.0.1:3312/api/users >/tmp/growstack-profile-wrk.txt &
  wrk_pid=$!
  sleep 2
  perf record -q -F 999 -g -p "$ppid" -o /tmp/growstack.perf -- sleep 8 2>/dev/null
  wait "$wrk_pid"
  report=$(perf report -i /tmp/growstack.perf --no-children --sort symbol --stdio --percent-limit 1 2>/dev/null \
    | grep -E '^ +[0-9.]+%' | sed -E 's/ +\[\.\] / /; s/ +\[k\] / (kernel) /; s/ +- +- *$//' | head -40)
  echo "$report"
  {
    printf '# Profile of the cached GET /api/users — %s — %s cores, %s\n\n' "$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)" "$(uname -m)"
    printf 'target/profiling/growstack (the release profile with symbols) under wrk -t2 -c%s, %s requests/s while sampled; perf record -F 999 -g for 8 s, self time by function, 1 %% or more:\n\n```\n%s\n```\n' \
      "$CONNECTIONS" "$(awk '/Requests\/sec/ {print $2}' /tmp/growstack-profile-wrk.txt)" "$report"
  } > bench/PROFILE.md
fi
