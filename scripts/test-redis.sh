#!/usr/bin/env bash
# Redis backend: the backend's scripts and semantics against a real server
# (cargo test --lib -- --ignored backend::redis::), then the multi-process,
# crash (SIGKILL), stall (SIGSTOP), credential, wrong-type, single-flight,
# remove and size-cap, TLS (rediss:// to a --tls-port server) and large-store
# tests (tests/redis/), and the C ABI, Go and Node basic tests on Redis
# (tests/redis/bindings/basic.c, bindings/go/redis_test.go,
# bindings/node/redis-test/), and the README's Python + Go fleet
# (tests/redis/bindings/readme_fleet.sh). Installs Debian's redis-server when missing, and
# runs only private servers: 127.0.0.1, ports of their own, folders under
# one temporary folder, all stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/redis-server.sh
ensure_redis_server
redis-server --version
# The TLS test makes a throwaway CA and server certificate with openssl.
if ! command -v openssl >/dev/null 2>&1; then
  echo "openssl is missing: installing Debian's package" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi

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

# The C ABI, Go and Node on Redis through the same open call as files (a
# backend URL on the options object). They load target/release.
for tool in cc go node npm; do
  command -v "$tool" >/dev/null || { bash scripts/install-deps.sh; break; }
done
cargo build --release
cc -Wall -Wextra -O1 -g -Iinclude tests/redis/bindings/basic.c -Ltarget/release \
  -lasset_cache -Wl,-rpath,"$PWD/target/release" -o "$work/c-basic"
(cd "$work" && ./c-basic)
(
  cd bindings/go
  export CGO_ENABLED=1 GOFLAGS="${GOFLAGS:-} -buildvcs=false"
  go vet -tags asset_cache_redis,asset_cache_inrepo .
  go test -tags asset_cache_redis,asset_cache_inrepo -run Redis -count=1 -v .
)
(
  cd bindings/node
  [ -d node_modules/koffi ] || npm ci --no-audit --no-fund
  node --test redis-test/
)
# The README's fleet on Redis: Python worker hosts and a Go host, the
# programs the README holds verbatim (scripts/check-readme.sh).
bash tests/redis/bindings/readme_fleet.sh
