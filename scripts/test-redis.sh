#!/usr/bin/env bash
# Redis backend: the backend's scripts and semantics against a real server
# (cargo test --lib -- --ignored backend::redis::), then the multi-process,
# crash (SIGKILL), stall (SIGSTOP), credential, wrong-type and large-store
# tests (tests/redis/). Installs Debian's redis-server when missing, and
# runs only private servers: 127.0.0.1, ports of their own, folders under
# one temporary folder, all stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/redis-server.sh
ensure_redis_server
redis-server --version

work=$(mktemp -d /tmp/asset-cache-redis.XXXXXX)
export ASSET_CACHE_REDIS_WORK="$work"
# Every server, the script's and the tests', leaves its pid file in $work.
trap 'stop_redis_servers "$work"; rm -rf "$work"' EXIT

# The shared server of the tests that need no server of their own.
ASSET_CACHE_REDIS_URL=$(start_redis "$work/main")
export ASSET_CACHE_REDIS_URL
echo "shared server: $ASSET_CACHE_REDIS_URL"

cargo test --lib -- --ignored backend::redis::
cargo test --test redis
