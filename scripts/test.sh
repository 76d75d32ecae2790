#!/usr/bin/env bash
# Runs every check and test: formatting, clippy, the template linters, the unit and
# integration tests against real Postgres and Redis (and moto for the AWS services),
# schemathesis over the API's document, and the console's browser tests.
# The tests get a moto of their own, emptied at the start, so they neither disturb nor see
# the one a local run uses.
MOTO_PORT="${TEST_MOTO_PORT:-5001}"
. "$(dirname "$0")/lib.sh"

ensure_stack
cd "$ROOT"
"$VENV/bin/python" -c "import urllib.request as u; u.urlopen(u.Request('$AWS_ENDPOINT_URL/moto-api/reset', method='POST'))"

# Each test makes a schema t_<uuid> of its own; drop the ones earlier runs left.
local_psql -d postgres -c "SELECT 'DROP SCHEMA ' || nspname || ' CASCADE;' FROM pg_namespace WHERE nspname LIKE 't\_%'" \
  | local_psql -d postgres >/dev/null
# …and the login roles tests/it/secrets.rs makes.
local_psql -d postgres -c "SELECT 'DROP OWNED BY ' || rolname || '; DROP ROLE ' || rolname || ';' FROM pg_roles WHERE rolname LIKE 'gs\_t\_%'" \
  | local_psql -d postgres >/dev/null
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres:postgres@127.0.0.1:5432/postgres}"

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

log "cfn-lint and sam validate --lint"
"$VENV/bin/cfn-lint" template.yaml deploy/ec2.yaml
"$VENV/bin/sam" validate --lint --region "$AWS_REGION" -t template.yaml
"$VENV/bin/sam" validate --lint --region "$AWS_REGION" -t deploy/ec2.yaml
log "CloudFormation resources after the SAM transform (fails above 400 of the 500 allowed, or above 3 per HTTP function)"
"$VENV/bin/python" scripts/template_resources.py template.yaml
log "checkov, offline: every finding fixed or justified"
bash scripts/checkov.sh
log "docs/cost.md's tables are what the cost model computes (scripts/cost.py)"
"$VENV/bin/python" scripts/cost.py --check

log "cargo build --bin growstack --bin users-list (tests/it/server_process.rs and tests/it/lambda_harness.rs run them)"
cargo build --bin growstack --bin users-list
log "cargo test"
cargo test --workspace
log "schemathesis over openapi.json against the server (scripts/schemathesis.sh)"
bash scripts/schemathesis.sh
log "the growth console in headless Chromium (scripts/console_e2e.sh)"
bash scripts/console_e2e.sh
