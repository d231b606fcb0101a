#!/usr/bin/env bash
# The C and C++ examples (the C++ wrapper test among them) under ctest:
#   build/c-shared  linked against the shared library, and each example again
#                   under valgrind memcheck (valgrind_* tests)
#   build/c-static  linked against the static library
#   build/c-asan    built with ASan + UBSan, leak detection on
# wrapper_cpp_redis and cli_redis run beside a private redis-server each
# (examples-c/with_redis.sh; Debian's redis-server installed when missing).
# The valgrind and ASan builds also run canary tests proving that a leak and a
# use-after-free in memory the library hands out are caught.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
command -v valgrind >/dev/null || { echo "valgrind is missing: run scripts/install-deps.sh"; exit 1; }
# The Redis tests (wrapper_cpp_redis, cli_redis) start private servers
# through examples-c/with_redis.sh.
. scripts/redis-server.sh
ensure_redis_server
run() { # run NAME CMAKE_ARGS...
  local name=$1; shift
  echo "--- examples-c: $name ---"
  cmake -S examples-c -B "build/c-$name" -DCMAKE_BUILD_TYPE=Debug "$@" >/dev/null
  cmake --build "build/c-$name" -j2
  ctest --test-dir "build/c-$name" --output-on-failure -j2
}
run shared -DASSET_CACHE_LINK=shared -DASSET_CACHE_VALGRIND=ON -DASSET_CACHE_SANITIZE=OFF
run static -DASSET_CACHE_LINK=static -DASSET_CACHE_VALGRIND=OFF -DASSET_CACHE_SANITIZE=OFF
run asan -DASSET_CACHE_LINK=shared -DASSET_CACHE_VALGRIND=OFF -DASSET_CACHE_SANITIZE=ON
