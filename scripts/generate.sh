#!/usr/bin/env bash
# Writes what restates the endpoint declarations in shared/src (template.yaml's routes, HTTP
# functions and domain alarms; functions/src/bin/<function>.rs; the events/ skeletons;
# docs/api.md's table) and openapi.json. tests/it/consistency.rs and tests/it/openapi.rs fail when
# a committed file differs from what this writes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo run -q --bin growstack -- generate --root .
cargo run -q --bin growstack -- openapi > openapi.json
echo "wrote openapi.json"
