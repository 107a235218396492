#!/usr/bin/env bash
# The API contract, proven by a fuzzer: schemathesis (from PyPI, pinned) against the embedded shop.
#   scripts/contract.sh install   the venv in the cache (idempotent)
#   scripts/contract.sh run       start the shop on a free port with a temp DATA_DIR, then fuzz it
#                                 as anonymous, as a user and as an admin (bounded, seeded, all checks,
#                                 stateful phase); exit 1 on any failure
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"

SCHEMATHESIS_VERSION="4.32.5"
CACHE="${STACK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/moleculer-shop}"
VENV="$CACHE/schemathesis-venv"
ST="$VENV/bin/schemathesis"

install() {
  if [ -x "$ST" ] && "$ST" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then return 0; fi
  mkdir -p "$CACHE"
  echo "[contract] installing schemathesis $SCHEMATHESIS_VERSION into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

# Bounded and reproducible: so many generated cases per operation (scripts/contract/schemathesis.toml),
# one seed. CONTRACT_EXAMPLES and CONTRACT_SEED override them (a longer hunt: CONTRACT_EXAMPLES=200).
SEED="${CONTRACT_SEED:-20261122}"
ADMIN_EMAIL="admin@contract.test"
ADMIN_PASSWORD="contract admin password"
USER_EMAIL="user@contract.test"
USER_PASSWORD="contract user password"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# POST a JSON body, print the response body.
post() { curl -sS -X POST -H 'content-type: application/json' --data "$2" "$BASE$1"; }
token_of() { python3 -c 'import json, sys; print(json.load(sys.stdin)["accessToken"])'; }

run() {
  install
  source scripts/ensure-node.sh
  local data port log pid status=0
  # On tmpfs when there is one: the fuzzer writes thousands of rows, and fsyncs are not what it tests.
  data="$(mktemp -d -p "$([ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo "${TMPDIR:-/tmp}")" shop-contract.XXXXXX)"
  port="$(free_port)"
  log="$data/shop.log"
  BASE="http://127.0.0.1:$port"
  # The embedded shop, as `npm start` runs it, on its own port and data; limits off (the fuzzer is
  # one client) and a cheaper password hash (it signs in thousands of times).
  # Embedded whatever the caller's shell says: no servers, transporter or Stripe from the environment.
  env -u TRANSPORTER -u REDIS_URL -u KAFKA_BROKERS -u SERVICES -u NAMESPACE -u PAYMENT_PROVIDER -u STRIPE_SECRET_KEY \
    -u STRIPE_API_BASE -u STRIPE_WEBHOOK_SECRET -u USERS_DB_URL -u PRODUCTS_DB_URL -u ORDERS_DB_URL -u PAYMENTS_DB_URL -u NOTIFICATIONS_DB_URL \
  PORT="$port" DATA_DIR="$data" LOG_LEVEL=warn LOG_FORMAT=text API_RATE_LIMIT=0 AUTH_RATE_LIMIT=0 PASSWORD_HASH_LOG_N=10 \
    JWT_SECRET="contract-secret-$(date +%s%N)-xxxxxxxxxxxxxxxxxxxx" ADMIN_EMAIL="$ADMIN_EMAIL" ADMIN_PASSWORD="$ADMIN_PASSWORD" \
    node --import tsx --experimental-async-context-frame shop.ts >"$log" 2>&1 &
  pid=$!
  trap "kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf '$data'" EXIT
  for _ in $(seq 1 300); do
    curl -fsS "$BASE/health/ready" >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "[contract] the shop did not start" >&2; return 1; }
    sleep 0.2
  done
  curl -fsS "$BASE/health/ready" >/dev/null || { cat "$log" >&2; echo "[contract] the shop is not ready" >&2; return 1; }

  post /api/v1/users/register "{\"email\":\"$USER_EMAIL\",\"password\":\"$USER_PASSWORD\",\"firstName\":\"Contract\",\"lastName\":\"User\"}" >/dev/null
  local user_token admin_token
  user_token="$(post /api/v1/users/login "{\"email\":\"$USER_EMAIL\",\"password\":\"$USER_PASSWORD\"}" | token_of)"
  admin_token="$(post /api/v1/users/login "{\"email\":\"$ADMIN_EMAIL\",\"password\":\"$ADMIN_PASSWORD\"}" | token_of)"

  # A small catalog, so that generated product ids (small integers first) reach baskets and checkouts.
  for i in 1 2 3 4 5; do
    curl -fsS -X POST -H 'content-type: application/json' -H "Authorization: Bearer $admin_token" \
      --data "{\"sku\":\"CONTRACT-$i\",\"name\":\"Contract item $i\",\"price\":$((i * 250)),\"stock\":1000,\"category\":\"contract\"}" \
      "$BASE/api/v1/admin/products" >/dev/null
  done

  local started=$SECONDS
  for role in anonymous user admin; do
    local auth=()
    [ "$role" = user ] && auth=(-H "Authorization: Bearer $user_token")
    [ "$role" = admin ] && auth=(-H "Authorization: Bearer $admin_token")
    echo "[contract] schemathesis as $role (seed $SEED)"
    local t0=$SECONDS
    # From the temporary directory: schemathesis keeps its crash files in ./.schemathesis.
    (cd "$data" && "$ST" --config-file "$ROOT/scripts/contract/schemathesis.toml" run "$BASE/api/v1/openapi.json" --url "$BASE" "${auth[@]}" \
      --checks all --phases examples,coverage,fuzzing,stateful --seed "$SEED" ${CONTRACT_EXAMPLES:+--max-examples "$CONTRACT_EXAMPLES"} \
      --workers 1 --request-timeout 20 --suppress-health-check all --warnings off --no-color "${CONTRACT_ARGS[@]}") || status=1
    echo "[contract] $role: $((SECONDS - t0)) s"
  done
  echo "[contract] three roles in $((SECONDS - started)) s: $([ "$status" = 0 ] && echo "no failures" || echo "FAILURES")"
  return "$status"
}

CONTRACT_ARGS=()
case "${1:-run}" in
  install) install ;;
  run) shift || true; CONTRACT_ARGS=("$@"); run ;;
  *) echo "usage: $0 install | run [extra schemathesis options]" >&2; exit 2 ;;
esac
