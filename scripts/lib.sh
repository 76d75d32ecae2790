# Shared by run.sh and test.sh: make sure the local stack is there and running.
# Uses servers that already answer; installs (Debian packages, PyPI) and starts what does not.
# Meant to be sourced; runs as root on a fresh Debian machine, or as a user who has the stack.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOCAL="$ROOT/.local"
VENV="$LOCAL/venv"
MOTO_PORT="${MOTO_PORT:-5000}"
mkdir -p "$LOCAL"

log() { printf '==> %s %s\n' "$(date +%T)" "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  log "installing $*"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# tcp_open HOST PORT: whether something listens there.
tcp_open() {
  timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
}

ensure_toolchain() {
  command -v cc >/dev/null || apt_install build-essential
  command -v pkg-config >/dev/null || apt_install pkg-config
  if ! command -v cargo >/dev/null; then
    if [ -f "$HOME/.cargo/env" ]; then
      # shellcheck disable=SC1091
      . "$HOME/.cargo/env"
    else
      command -v curl >/dev/null || apt_install curl ca-certificates
      log "installing Rust with rustup"
      curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy
      # shellcheck disable=SC1091
      . "$HOME/.cargo/env"
    fi
  fi
}

ensure_postgres() {
  if tcp_open 127.0.0.1 5432; then
    log "postgres: already running on 127.0.0.1:5432"
    command -v psql >/dev/null || apt_install postgresql-client
    return
  fi
  command -v pg_ctlcluster >/dev/null || apt_install postgresql postgresql-client
  local version
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$version" ]; then
    version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
    as_root pg_createcluster "$version" main
  fi
  log "postgres: starting cluster $version/main"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do tcp_open 127.0.0.1 5432 && break; sleep 0.5; done
  tcp_open 127.0.0.1 5432 || { log "postgres did not start"; exit 1; }
  # A cluster we started ourselves: give the postgres role the password our URLs carry
  # (local servers with trust auth ignore it).
  as_root runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD 'postgres'" >/dev/null
}

ensure_redis() {
  if tcp_open 127.0.0.1 6379; then
    log "redis: already running on 127.0.0.1:6379"
  else
    command -v redis-server >/dev/null || apt_install redis-server
    log "redis: starting"
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
      --logfile "$LOCAL/redis.log" --dir "$LOCAL"
    for _ in $(seq 1 40); do tcp_open 127.0.0.1 6379 && break; sleep 0.25; done
    tcp_open 127.0.0.1 6379 || { log "redis did not start"; exit 1; }
  fi
  # The fault tests start their own redis-server on a spare port.
  command -v redis-server >/dev/null || apt_install redis-server
}

# The Python tools: moto's server (SQS, SES v2, DynamoDB), cfn-lint and the SAM CLI.
ensure_python_tools() {
  if [ ! -x "$VENV/bin/pip" ]; then
    command -v python3 >/dev/null || apt_install python3
    python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; rm -rf "$VENV"; python3 -m venv "$VENV"; }
  fi
  if ! "$VENV/bin/python" -c 'import moto, cfnlint, samcli' 2>/dev/null; then
    log "installing moto, cfn-lint and the SAM CLI into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$ROOT/scripts/requirements.txt"
  fi
}

ensure_moto() {
  ensure_python_tools
  if tcp_open 127.0.0.1 "$MOTO_PORT"; then
    log "moto: already running on 127.0.0.1:$MOTO_PORT"
    return
  fi
  log "moto: starting on 127.0.0.1:$MOTO_PORT"
  nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" >"$LOCAL/moto-$MOTO_PORT.log" 2>&1 &
  for _ in $(seq 1 60); do tcp_open 127.0.0.1 "$MOTO_PORT" && break; sleep 0.25; done
  tcp_open 127.0.0.1 "$MOTO_PORT" || { log "moto did not start (see $LOCAL/moto-$MOTO_PORT.log)"; exit 1; }
}

# Everything the run and the tests need.
ensure_stack() {
  ensure_toolchain
  ensure_postgres
  ensure_redis
  ensure_moto
  export_local_env
}

# psql against the local server, whichever way it authenticates.
local_psql() {
  PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

# The settings the local run and the tests share. AWS calls go to moto.
export_local_env() {
  export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://127.0.0.1:$MOTO_PORT}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
  export SAM_CLI_TELEMETRY=0
}

# A server of a test run's own (schemathesis, the console's browser tests): database $1 made
# afresh, port $2 (metrics on the next), the stand-in's queues and table named after $3,
# random secrets, the sign-in limits out of the way of a run that signs in thousands of times
# from one address, no scheduler. The caller exports its own settings, then start_own_server.
own_server_env() {
  local_psql -d postgres -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)"
  local_psql -d postgres -c "CREATE DATABASE $1"
  export DATABASE_URL="postgres://postgres:postgres@127.0.0.1:5432/$1"
  export PORT="$2" METRICS_PORT=$(($2 + 1)) GROWSTACK_ENV=local
  local secret
  for secret in JWT_ACCESS_SECRET JWT_REFRESH_SECRET KYC_WEBHOOK_SECRET; do
    export "$secret=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')"
  done
  export AUTH_RATE_LIMIT_MAX=1000000 LOGIN_FAILURES_MAX=1000000 EVENTS_PER_USER_PER_MINUTE=100000000 SCHEDULER_ENABLED=false RUST_LOG=warn
  "$ROOT/target/debug/growstack" migrate
  eval "$("$ROOT/target/debug/growstack" provision-local --prefix "$3")"
}

# Starts target/debug/growstack serve, logging to $1, and waits until it listens; SERVER is
# its pid, stopped when the script exits.
start_own_server() {
  "$ROOT/target/debug/growstack" serve >"$1" 2>&1 &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null || true' EXIT
  for _ in $(seq 60); do tcp_open 127.0.0.1 "$PORT" && break; sleep 0.5; done
  tcp_open 127.0.0.1 "$PORT" || { log "the server did not start (see $1)"; exit 1; }
}

# Fails when the server's log $1 holds an error: a bug answered in a form the run accepted.
no_server_errors() {
  if grep -q '"level":"ERROR"' "$1"; then
    log "the server logged errors during the run:"
    grep '"level":"ERROR"' "$1" | head -20
    return 1
  fi
}
