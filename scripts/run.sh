#!/usr/bin/env bash
# Brings up the local stack (Postgres, Redis, moto), applies migrations and serves the API
# on http://localhost:${PORT:-3000}. Ctrl-C stops the server; the stack keeps running.
. "$(dirname "$0")/lib.sh"

ensure_stack

if [ -z "$(local_psql -c "SELECT 1 FROM pg_database WHERE datname = 'growstack'")" ]; then
  log "creating database growstack"
  local_psql -c "CREATE DATABASE growstack"
fi
export DATABASE_URL="${DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/growstack}"
export PORT="${PORT:-3000}"
# A local run: random JWT secrets, made once and kept in .local/ so that tokens survive a
# restart (the server refuses to start without secrets unless GROWSTACK_ENV=local).
export GROWSTACK_ENV=local
if [ ! -s "$LOCAL/secrets.env" ]; then
  log "generating local JWT secrets into $LOCAL/secrets.env"
  ( umask 077
    printf 'JWT_ACCESS_SECRET=%s\nJWT_REFRESH_SECRET=%s\n' \
      "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" "$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')" \
      >"$LOCAL/secrets.env" )
fi
while IFS='=' read -r key value; do
  [ -n "${!key:-}" ] || export "$key=$value"
done <"$LOCAL/secrets.env"

cd "$ROOT"
log "building"
cargo build --bin growstack
log "applying migrations"
target/debug/growstack migrate
log "creating the queues, the idempotency table and the SES sender on moto"
eval "$(target/debug/growstack provision-local --prefix growstack)"
# Locally, a failed message comes back after 30 s; the scheduler looks every 10 s.
export SCHEDULER_INTERVAL_SECONDS="${SCHEDULER_INTERVAL_SECONDS:-10}"
if [ -n "${GROWSTACK_ADMIN_EMAIL:-}" ] && [ -n "${GROWSTACK_ADMIN_PASSWORD:-}" ]; then
  target/debug/growstack create-admin --email "$GROWSTACK_ADMIN_EMAIL"
fi
log "serving on http://localhost:$PORT (try: curl localhost:$PORT/health)"
log "sent emails: curl -s localhost:$MOTO_PORT/moto-api/data.json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)[\"ses\"][\"Message\"], indent=1))'"
exec target/debug/growstack serve
