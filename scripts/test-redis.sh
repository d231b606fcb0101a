#!/usr/bin/env bash
# Redis backend: the backend's scripts and semantics against a real server
# (cargo test --lib -- --ignored backend::redis::), then the multi-process,
# crash (SIGKILL), stall (SIGSTOP), credential and wrong-type tests
# (tests/redis/). Installs Debian's redis-server when missing, and runs only
# private servers: 127.0.0.1, ports of their own, folders under one temporary
# folder, all stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server is missing: installing Debian's package"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
redis-server --version

work=$(mktemp -d /tmp/asset-cache-redis.XXXXXX)
export ASSET_CACHE_REDIS_WORK="$work"
stop_servers() {
  # Every server, the script's and the tests', leaves its pid file here.
  for f in "$work"/*.pid "$work"/*/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f" 2>/dev/null || true)
    [ -n "$pid" ] && kill -CONT "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap stop_servers EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The shared server of the tests that need no server of their own.
port=$(free_port)
mkdir -p "$work/main"
redis-server --bind 127.0.0.1 --port "$port" --dir "$work/main" --save "" \
  --appendonly no --daemonize yes --pidfile "$work/main.pid" \
  --logfile "$work/main/redis.log"
for _ in $(seq 50); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$port" ping
export ASSET_CACHE_REDIS_URL="redis://127.0.0.1:$port/0"
echo "shared server: $ASSET_CACHE_REDIS_URL"

cargo test --lib -- --ignored backend::redis::
cargo test --test redis
