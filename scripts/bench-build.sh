#!/usr/bin/env bash
# Builds the benchmark binaries: the release library, the Rust harness
# (examples/bench.rs) and the C driver (bench/bench_c.c) linked against
# target/release/libasset_cache.so, into target/bench/.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --lib --example bench
mkdir -p target/bench
"${CC:-cc}" -O2 -std=c11 -Wall -Wextra -Werror -Iinclude bench/bench_c.c \
  -o target/bench/bench_c -Ltarget/release -lasset_cache \
  -Wl,-rpath,"$PWD/target/release" -lpthread
