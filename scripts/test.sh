#!/usr/bin/env bash
# The whole test suite: brings the real stack up (scripts/stack.sh), then type-check, lint, the API
# contract (schemathesis, scripts/contract.sh) and jest (unit, integration against the real servers,
# e2e). Extra arguments go to jest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-node.sh

bash scripts/stack.sh up
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
# The plain closing line: N passed, N failed (, N skipped).
node -e '
  const r = JSON.parse(require("node:fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
  if (r.numTotalTests === 0) { console.error("[test] no test ran"); process.exit(1); }
' "$report" || status=1
rm -f "$report"
exit "$status"
