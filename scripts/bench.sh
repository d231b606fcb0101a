#!/usr/bin/env bash
# The benchmark harness: every workload through the C ABI (bench/bench_c.c),
# the physical limits and the Rust API (examples/bench.rs), for each N, then
# one table (bench/table.py). Not part of the test command.
#
#   scripts/bench.sh                      N = 1000 10000 100000, 5 reps
#   BENCH_N="1000 10000" BENCH_REPS=9 scripts/bench.sh
#   BENCH_FOLDER_ENTRIES="10 20000"       other files beside the cache for the
#                                         add-in-a-full-folder workload
#
# Raw lines go to target/bench/results.tsv, the table to stdout and to
# target/bench/table.md. scripts/bench-peers.sh adds the peers to the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/target/bench
mkdir -p "$out"
export BENCH_DIR=$out/scratch
: "${BENCH_N:=1000 10000 100000}"

bash scripts/bench-build.sh

results=${BENCH_RESULTS:-$out/results.tsv}
: >"$results"
for n in $BENCH_N; do
  [ -s "$out/data-$n.jsonl" ] || target/release/examples/bench gen "$n" "$out/data-$n.jsonl"
  echo "--- N=$n: limits, C ABI, Rust API" >&2
  target/release/examples/bench limits "$n" "$out/data-$n.jsonl" | tee -a "$results"
  "$out/bench_c" run "$n" "$out/data-$n.jsonl" "$BENCH_DIR/c-$n" | tee -a "$results"
  target/release/examples/bench rust "$n" "$out/data-$n.jsonl" | tee -a "$results"
done
[ -s "$out/data-1000.jsonl" ] || target/release/examples/bench gen 1000 "$out/data-1000.jsonl"
# Issue 15: the cost of an add beside 10 and 20,000 other files in the folder.
: "${BENCH_FOLDER_ENTRIES:=10 20000}"
for e in $BENCH_FOLDER_ENTRIES; do
  echo "--- an add in a folder of $e other files" >&2
  target/release/examples/bench folder "$e" "$out/data-1000.jsonl" | tee -a "$results"
done
echo "--- 4 processes x 250 adds" >&2
"$out/bench_c" procs "$out/data-1000.jsonl" "$BENCH_DIR/procs" | tee -a "$results"

# The Redis backend beside a plain client, on a private local server.
. scripts/redis-server.sh
ensure_redis_server
trap 'stop_redis_servers "$BENCH_DIR"' EXIT
redis_url=$(start_redis "$BENCH_DIR/redis")
for n in $BENCH_N; do
  echo "--- N=$n: Redis backend and a plain client" >&2
  target/release/examples/bench redis "$n" "$out/data-$n.jsonl" "$redis_url" | tee -a "$results"
done
echo "--- single-flight: 8 handles x 50 ids, file and Redis backends, plain client" >&2
target/release/examples/bench flight "$redis_url" | tee -a "$results"
stop_redis_servers "$BENCH_DIR"
rm -rf "$BENCH_DIR"

if [ -z "${BENCH_NO_TABLE:-}" ]; then
  python3 bench/table.py "$results" | tee "$out/table.md"
fi
