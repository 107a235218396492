#!/usr/bin/env bash
# The whole test suite: brings the real stack up (scripts/stack.sh), then type-check, lint and
# jest (unit, integration against the real servers, e2e). Extra arguments go to jest.
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
echo "[test] jest"
report="$(mktemp)"
status=0
npx jest --json --outputFile="$report" "$@" || status=$?
# The plain closing line: N passed, N failed (, N skipped).
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (r.numTotalTests === 0) { console.error("[test] no test ran"); process.exit(1); }
' "$report" || status=1
rm -f "$report"
exit "$status"
