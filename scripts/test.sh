#!/usr/bin/env bash
# The whole test suite: brings the real stack up (scripts/stack.sh), then type-check, lint, the API
# contract (schemathesis, scripts/contract.sh) and jest (unit, integration against the real servers,
# e2e). Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-node.sh

bash scripts/stack.sh up
# Helm, kube-score and kubernetes-validate for the chart's test (built once, cached; offline after).
bash scripts/k8s-check.sh --install-only
eval "$(bash scripts/stack.sh env --test)"

echo "[test] type-check"
npx tsc --noEmit
echo "[test] lint"
npx eslint .
status=0
# The API contract, fuzzed: schemathesis against an embedded shop as anonymous, a user and an admin.
echo "[test] API contract (scripts/contract.sh)"
bash scripts/contract.sh run || status=1
echo "[test] jest"
report="$(mktemp)"
npx jest --json --outputFile="$report" "$@" || status=$?
echo "[test] storefront: build and browser tests (web/)"
bash scripts/web.sh test || status=$?
# The plain closing line: N passed, N failed (, N skipped), jest's and the browser tests' (TAP) together.
node -e '
  const fs = require("node:fs");
  const r = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  const tap = fs.existsSync(process.argv[2]) ? fs.readFileSync(process.argv[2], "utf8") : "";
  const web = (name) => Number((new RegExp(`^# ${name} (\\d+)$`, "m").exec(tap) ?? [])[1] ?? 0);
  const skipped = r.numPendingTests + r.numTodoTests + web("skipped") + web("todo");
  const failed = r.numFailedTests + web("fail") + web("cancelled") + (tap ? 0 : 1);
  console.log(`${r.numPassedTests + web("pass")} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (r.numTotalTests === 0) { console.error("[test] no test ran"); process.exit(1); }
' "$report" web/test-results/report.tap || status=1
rm -f "$report"
exit "$status"
