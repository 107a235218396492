#!/usr/bin/env bash
# The project's front door on any machine: brings Node.js >= 22 (scripts/ensure-node.sh),
# installs the dependencies when the lockfile changed, then runs the npm script named.
#
#   scripts/run.sh start     the whole shop in one process (embedded, no server needed)
#   scripts/run.sh test      the real stack, type-check, lint and every test
#   scripts/run.sh node      one node: SERVICES=... TRANSPORTER=nats://... scripts/run.sh node
#   scripts/run.sh repl      the broker REPL (embedded, or joined to the cluster on TRANSPORTER)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-node.sh

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "[run] installing dependencies (npm ci)" >&2
  npm_config_nodedir="$SHOP_NODE_DIR" npm ci --no-audit --no-fund >&2
fi

script="${1:-start}"
shift || true
# A node with the gateway serves the storefront (web/dist): built first when missing or stale (`npm start` does it in prestart).
if [[ "$script" == node || "$script" == repl ]] && [[ -z "${SERVICES:-}" || ",$SERVICES," == *,api,* ]]; then bash scripts/web.sh ensure; fi
exec npm run --silent "$script" -- "$@"
