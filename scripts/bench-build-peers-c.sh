#!/usr/bin/env bash
# Builds the C peers' driver (bench/peers_c.c: LMDB and SQLite beside ours,
# through the C ABI) into target/bench/peers_c, after scripts/bench-build.sh
# (the release library). Installs Debian's liblmdb-dev and libsqlite3-dev
# with apt when their headers are missing (needs root, as CI runs).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
[ -f /usr/include/lmdb.h ] || missing+=(liblmdb-dev)
[ -f /usr/include/sqlite3.h ] || missing+=(libsqlite3-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "bench-build-peers-c: ${missing[*]} missing; run as root or: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "bench-build-peers-c: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
fi
bash scripts/bench-build.sh
"${CC:-cc}" -O2 -std=c11 -Wall -Wextra -Werror -Iinclude bench/peers_c.c \
  -o target/bench/peers_c -Ltarget/release -lasset_cache \
  -Wl,-rpath,"$PWD/target/release" -llmdb -lsqlite3
