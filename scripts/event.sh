#!/usr/bin/env bash
# Writes a copy of events/<function>.json with its REPLACE_WITH_* placeholders filled, for
# `cargo lambda invoke --data-file` or `sam local invoke -e`, leaving the committed file as
# it is:
#
#   bash scripts/event.sh users-list ACCESS_TOKEN="$token"      # → .local/events/users-list.json
#
# Each KEY=value fills REPLACE_WITH_KEY; a placeholder left unfilled is named on stderr.
# ACCESS_TOKEN can also come from the environment ($ACCESS_TOKEN), as can any other key.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
function="${1:?usage: scripts/event.sh <function> [KEY=value ...]}"
shift
source_file="$ROOT/events/$function.json"
[ -f "$source_file" ] || { echo "no events/$function.json" >&2; exit 1; }
mkdir -p "$ROOT/.local/events"
out="$ROOT/.local/events/$function.json"
python3 - "$source_file" "$out" "$@" <<'PY'
import json, os, re, sys
source, out, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
values = {}
for pair in pairs:
    key, sep, value = pair.partition("=")
    if not sep:
        sys.exit(f"not KEY=value: {pair!r}")
    values[key] = value
text = open(source, encoding="utf-8").read()
def fill(match):
    key = match.group(1)
    value = values.get(key, os.environ.get(key))
    if value is None:
        return match.group(0)
    # The placeholder sits inside a JSON string (or a JSON-encoded body): escape as JSON does.
    return json.dumps(value)[1:-1]
filled = re.sub(r"REPLACE_WITH_([A-Z0-9_]+)", fill, text)
json.loads(filled)  # still a valid event
open(out, "w", encoding="utf-8").write(filled)
left = sorted(set(re.findall(r"REPLACE_WITH_([A-Z0-9_]+)", filled)))
if left:
    print("unfilled: " + ", ".join(left), file=sys.stderr)
print(out)
PY
