#!/usr/bin/env bash
# The storefront (web/): its own package.json, lockfile and node_modules.
#
#   scripts/web.sh install       npm ci in web/ (when its lockfile changed), and Debian's chromium when missing
#   scripts/web.sh build         tsc + vite build into web/dist; prints the first-load JavaScript (gzip)
#   scripts/web.sh ensure        install the packages and build, only if web/dist is missing or older than its sources
#   scripts/web.sh test          the browser tests (build first when stale; they start their own shop)
#   scripts/web.sh screenshots   the browser tests, saving the README's screenshots into docs/screenshots
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/ensure-node.sh

packages() {
  if [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
    echo "[web] installing the storefront's packages (npm ci in web/)" >&2
    npm ci --prefix web --no-audit --no-fund >&2
  fi
}

chromium() {
  if [ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then return; fi
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    echo "[web] Chromium is missing: install Debian's chromium package (or set CHROMIUM_PATH)" >&2
    exit 1
  fi
  echo "[web] installing chromium (apt-get)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
}

stale() {
  [ ! -f web/dist/index.html ] && return 0
  [ -n "$(find web/src web/public web/index.html web/vite.config.ts web/package-lock.json -newer web/dist/index.html -print -quit)" ]
}

build() {
  packages
  echo "[web] building the storefront (web/dist)" >&2
  npm run --prefix web --silent build
}

case "${1:-}" in
  install) packages; chromium ;;
  build) build ;;
  ensure) if stale; then build; fi ;;
  test)
    packages; chromium
    if stale; then build; fi
    mkdir -p web/test-results && rm -f web/test-results/report.tap
    npm run --prefix web --silent test
    ;;
  screenshots)
    packages; chromium
    if stale; then build; fi
    mkdir -p web/test-results
    SCREENSHOT_DIR=docs/screenshots npm run --prefix web --silent test
    ;;
  *) echo "usage: scripts/web.sh install|build|ensure|test|screenshots" >&2; exit 2 ;;
esac
