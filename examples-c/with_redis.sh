#!/usr/bin/env bash
# Runs a command beside a private redis-server, for the ctest tests on the
# Redis backend: starts one on 127.0.0.1 with a free port and SCRATCH/redis
# for its folder (scripts/redis-server.sh, as test-redis.sh does), exports
# ASSET_CACHE_REDIS_URL, runs the command and stops the server, whatever
# the command's outcome. scripts/test-c.sh installs redis-server first.
# usage: with_redis.sh SCRATCH COMMAND [ARGS...]
set -euo pipefail
. "$(dirname "$0")/../scripts/redis-server.sh"
scratch=$1
shift
command -v redis-server >/dev/null || {
  echo "with_redis.sh: redis-server is missing (scripts/test-c.sh installs Debian's package)" >&2
  exit 1
}
rm -rf "$scratch" && mkdir -p "$scratch"
trap 'stop_redis_servers "$scratch"' EXIT
ASSET_CACHE_REDIS_URL=$(start_redis "$scratch/redis")
export ASSET_CACHE_REDIS_URL
rc=0
"$@" || rc=$?
exit "$rc"
