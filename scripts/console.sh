#!/usr/bin/env bash
# Builds the growth console (console/: Vite, TypeScript, Preact, Chart.js) into console/dist,
# which `growstack serve` serves at /console/ when CONSOLE_DIR points at it. Installs Node.js
# and npm from Debian's packages where `node` is missing; dependencies come from the
# committed package-lock.json (`npm ci`), reinstalled only when the lock file changed.
. "$(dirname "$0")/lib.sh"

command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" -lt 18 ]; then
  log "the console needs Node.js 18 or newer; this machine has $(node --version)"
  exit 1
fi

cd "$ROOT/console"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "console: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
log "console: building into console/dist"
npm run --silent build
