#!/usr/bin/env bash
# Writes openapi.json, the OpenAPI document the code generates (tests/it/openapi.rs fails when
# the committed file differs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo run -q --bin growstack -- openapi > openapi.json
echo "wrote openapi.json"
