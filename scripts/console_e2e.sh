#!/usr/bin/env bash
# End-to-end tests of the growth console in headless Chromium (Debian's `chromium`, driven by
# playwright-core: no browser download), against `growstack serve` on a database of its own
# seeded with a fixture whose numbers the tests know (console/e2e/fixture.mjs).
# Screenshots of each page go to console/e2e/screenshots/.
#
#   scripts/console_e2e.sh            build the console, seed, run the tests
#   scripts/console_e2e.sh --serve    build, seed and keep the server running (for a look
#                                     with a browser at http://127.0.0.1:3911/console/)
MOTO_PORT="${TEST_MOTO_PORT:-5001}"
. "$(dirname "$0")/lib.sh"

ensure_stack
command -v chromium >/dev/null || apt_install chromium
"$ROOT/scripts/console.sh"
cd "$ROOT"

own_server_env growstack_console "${CONSOLE_E2E_PORT:-3911}" console-e2e
# The tests change data and read the analytics straight after: no cached answers.
export ANALYTICS_CACHE_SECONDS=0 EXPERIMENT_CACHE_SECONDS=0 CACHE_TTL_SECONDS=0
# A referred user's own reward, so that each completed referral writes a ledger row.
export REFERRED_REWARD_AMOUNT=250.00 REFERRAL_REWARD_AMOUNT=500.00 REFERRAL_REWARD_CURRENCY=NGN REWARD_HOLD_HOURS=0
export REDIS_KEY_PREFIX="console-e2e-$$:"
export CONSOLE_DIR="$ROOT/console/dist"
export CONSOLE_ADMIN_EMAIL=admin@console.test GROWSTACK_ADMIN_PASSWORD="console-admin-password"
target/debug/growstack create-admin --email "$CONSOLE_ADMIN_EMAIL" >/dev/null

LOG="$LOCAL/console-e2e-server.log"
start_own_server "$LOG"
export CONSOLE_BASE_URL="http://127.0.0.1:$PORT"
if ! curl -sf -o /dev/null "$CONSOLE_BASE_URL/console/"; then
  log "$CONSOLE_BASE_URL/console/ does not answer: this growstack binary does not serve CONSOLE_DIR"
  exit 1
fi
export CONSOLE_ADMIN_PASSWORD="$GROWSTACK_ADMIN_PASSWORD"

cd "$ROOT/console"
log "console e2e: seeding the fixture"
node e2e/seed.mjs >"$LOCAL/console-e2e-fixture.json"
export CONSOLE_FIXTURE="$LOCAL/console-e2e-fixture.json"
if [ "${1:-}" = "--serve" ]; then
  log "serving the seeded console at $CONSOLE_BASE_URL/console/ (fixture: $CONSOLE_FIXTURE); Ctrl-C ends it"
  wait "$SERVER"
  exit 0
fi
log "console e2e: running the browser tests"
status=0
node --test --test-reporter=spec e2e/ || status=1
no_server_errors "$LOG" || status=1
exit "$status"
