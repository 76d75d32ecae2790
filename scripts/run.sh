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
# A local run: random secrets (the JWT keys, the KYC webhook's), made once and kept in
# .local/ so that tokens survive a restart (the server refuses to start without JWT secrets
# unless GROWSTACK_ENV=local). Variables already set win.
export GROWSTACK_ENV=local
random_secret() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n'; }
touch "$LOCAL/secrets.env" && chmod 600 "$LOCAL/secrets.env"
for key in JWT_ACCESS_SECRET JWT_REFRESH_SECRET KYC_WEBHOOK_SECRET; do
  if ! grep -q "^$key=" "$LOCAL/secrets.env"; then
    log "generating $key into $LOCAL/secrets.env"
    printf '%s=%s\n' "$key" "$(random_secret)" >>"$LOCAL/secrets.env"
  fi
done
while IFS='=' read -r key value; do
  [ -n "${!key:-}" ] || export "$key=$value"
done <"$LOCAL/secrets.env"

cd "$ROOT"
log "building"
cargo build --bin growstack
log "building the growth console (served at /console/)"
"$ROOT/scripts/console.sh"
export CONSOLE_DIR="${CONSOLE_DIR:-$ROOT/console/dist}"
log "applying migrations"
target/debug/growstack migrate
log "creating the queues, the idempotency table and the SES sender on moto"
eval "$(target/debug/growstack provision-local --prefix growstack)"
# Locally, a failed message comes back after 30 s; the scheduler looks every 10 s.
export SCHEDULER_INTERVAL_SECONDS="${SCHEDULER_INTERVAL_SECONDS:-10}"
if [ -n "${GROWSTACK_ADMIN_EMAIL:-}" ] && [ -n "${GROWSTACK_ADMIN_PASSWORD:-}" ]; then
  target/debug/growstack create-admin --email "$GROWSTACK_ADMIN_EMAIL"
fi
# The same settings for any other shell (`. .local/env`): the operator commands, cargo
# lambda invokes and the event helper then talk to this server's database, queues and keys.
{
  echo "# Written by scripts/run.sh: the running server's settings. Load with: . .local/env"
  for name in DATABASE_URL PORT GROWSTACK_ENV JWT_ACCESS_SECRET JWT_REFRESH_SECRET KYC_WEBHOOK_SECRET \
    AWS_ENDPOINT_URL AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY EMAIL_QUEUE_URL NOTIFICATION_QUEUE_URL WEBHOOK_QUEUE_URL \
    IDEMPOTENCY_TABLE EVENTS_FIREHOSE_STREAM EVENTS_ARCHIVE_BUCKET EXPORTS_BUCKET CONSOLE_DIR SCHEDULER_INTERVAL_SECONDS; do
    [ -n "${!name:-}" ] && printf 'export %s=%q\n' "$name" "${!name}"
  done
} >"$LOCAL/env"
chmod 600 "$LOCAL/env"
log "settings for a second shell: . .local/env"
log "serving on http://localhost:$PORT (try: curl localhost:$PORT/health; the console: http://localhost:$PORT/console/, the API's reference: http://localhost:$PORT/api-docs/)"
log "sent emails: curl -s localhost:$MOTO_PORT/moto-api/data.json | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)[\"ses\"][\"Message\"], indent=1))'"
exec target/debug/growstack serve
