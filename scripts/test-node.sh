#!/usr/bin/env bash
# The Node binding (bindings/node): npm ci (koffi, typescript) from the
# committed package-lock.json, a type check of index.d.ts, then `node --test`
# against the library built by `cargo build --release`.
# ASSET_CACHE_LEAK_ITERATIONS=N lengthens the leak loop.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "test-node: node and npm (Node >= 18) are required and missing" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 18 ]; then
  echo "test-node: Node >= 18 is required, found $(node --version)" >&2
  exit 1
fi
echo "node $(node --version), npm $(npm --version)"

cargo build --release

cd bindings/node
npm ci --no-audit --no-fund
npx --no-install tsc -p test
# --expose-gc: the leak tests force collections before reading RSS.
node --expose-gc --test test/
