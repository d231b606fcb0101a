#!/usr/bin/env bash
# Builds the benchmark harness (Rust and C drivers) and runs every workload
# once at a tiny N, so the harness cannot rot unnoticed. Checks that each
# workload reported a figure and that 4 processes x 250 adds kept all 1000;
# no timing is asserted (figures from a loaded CI machine mean nothing).
set -euo pipefail
# grep -q exits at the first match; under pipefail the writer's SIGPIPE
# would then fail the pipeline, so read all of the input.
quiet_grep() { grep "$@" >/dev/null; }
cd "$(dirname "$0")/.."
results=target/bench/smoke.tsv
mkdir -p target/bench
BENCH_N=200 BENCH_REPS=1 BENCH_RESULTS=$results BENCH_NO_TABLE=1 BENCH_FOLDER_ENTRIES="10 300" \
  bash scripts/bench.sh >/dev/null

# Issue 11's rows: a file the real Python original wrote (scripts/bench-foreign.sh).
foreign=target/bench/smoke-foreign.tsv
BENCH_N=200 BENCH_REPS=1 BENCH_RESULTS=$foreign bash scripts/bench-foreign.sh >/dev/null

fail=0
expect() { # impl op n [file]
  if ! awk -F'\t' -v i="$1" -v o="$2" -v n="$3" \
    '$1 == i && $2 == o && $3 == n && $4 + 0 > 0 { found = 1 } END { exit !found }' "${4:-$results}"; then
    echo "bench-smoke: no positive figure for $1 / $2 / N=$3" >&2
    fail=1
  fi
}
for op in open "add one" add_list "get, 1 thread" "get, 2 threads" "get, 4 threads" \
  get_all "peak RSS"; do
  expect ours "$op" 200
done
for op in "get (borrow), 1 thread, fresh reads 0 ms" "get (borrow), 1 thread, fresh reads 10 ms" \
  "get: fresh reads 0 ms, time vs off"; do
  expect rust "$op" 200
done
for op in "open: read + serde_json validate" "add_list: write the file once" \
  "get: malloc + memcpy 1 KB"; do
  expect limit "$op" 200
done
expect rust open 200
for e in 10 300; do
  expect rust "add one, first of a handle (N = other files in the folder)" $e
  expect rust "add one, after another cache's rewrite (N = other files in the folder)" $e
done
for op in open add_list "add one" "get, 1 thread"; do
  expect redis "$op" 200
done
for op in "open: HSCAN everything" "add one: HSET" "get: HGET"; do
  expect redis-plain "$op" 200
done
flight="single-flight: 8 handles x 50 ids, fetch 5 ms"
for imp in flight-file flight-redis; do
  expect "$imp" "$flight: wall" 50
  f=$(awk -F'\t' -v i="$imp" -v o="$flight: fetches" '$1 == i && $2 == o { print $4 + 0 }' "$results")
  if [ "$f" != "50" ]; then
    echo "bench-smoke: $imp made ${f:-no} fetches for 50 ids, not 50 (single-flight)" >&2
    fail=1
  fi
done
expect flight-plain "$flight: HGET, on a miss fetch + HSET: wall" 50
kept=$(awk -F'\t' '$1 == "ours" && $2 == "4 procs x 250 adds: kept (min)" { print $4 + 0 }' "$results")
if [ "$kept" != "1000" ]; then
  echo "bench-smoke: 4 processes x 250 adds kept ${kept:-nothing}, not 1000" >&2
  fail=1
fi
python3 bench/table.py "$results" | quiet_grep '^| open | 200 |' || {
  echo "bench-smoke: bench/table.py printed no open row" >&2
  fail=1
}
python3 bench/table.py "$results" | quiet_grep '^| Redis backend (8 handles' || {
  echo "bench-smoke: bench/table.py printed no single-flight row" >&2
  fail=1
}

# The C peers (LMDB, SQLite: bench/peers_c.c), built against Debian's
# liblmdb-dev and libsqlite3-dev (installed by the build script when missing),
# each workload once at N = 200.
bash scripts/bench-build-peers-c.sh >/dev/null
cdata=target/bench/smoke-c-data.jsonl
target/release/examples/bench gen 900 "$cdata"
peers=target/bench/smoke-peers.tsv
: >"$peers"
for p in lmdb sqlite; do
  BENCH_REPS=1 PEERS_C_GETS=2000 target/bench/peers_c run "$p" 200 "$cdata" target/bench/smoke-c/$p >>"$peers"
  BENCH_REPS=1 target/bench/peers_c procs "$p" "$cdata" target/bench/smoke-c/$p-procs >>"$peers"
done
rm -rf target/bench/smoke-c
results=$peers
for p in lmdb sqlite; do
  for op in open "add one" add_list "get, 1 thread" get_all "peak RSS" "4 procs x 250 adds"; do
    n=200
    [ "$op" = "4 procs x 250 adds" ] && n=1000
    expect "$p" "$op" $n
  done
  kept=$(awk -F'\t' -v p="$p" '$1 == p && $2 == "4 procs x 250 adds: kept (min)" { print $4 + 0 }' "$peers")
  if [ "$kept" != "1000" ]; then
    echo "bench-smoke: $p: 4 processes x 250 adds kept ${kept:-nothing}, not 1000" >&2
    fail=1
  fi
done
# Issue 11's section command (scripts/bench-scale.sh: add against LMDB and
# SQLite, growth, peak RSS of a Python-written file, the mixed fleet with
# the real original and with the drop-in) at a tiny size, so that it cannot
# rot either. Its table must have every part.
scale=target/bench/smoke-scale.tsv
SCALE_N=200 ADD_N=200 RSS_N=200 FLEET_N=200 FLEET_SECONDS=1 BENCH_REPS=1 PEERS_C_GETS=2000 \
  SCALE_RESULTS=$scale bash scripts/bench-scale.sh >target/bench/smoke-scale.md 2>/dev/null
results=$scale
for p in ours lmdb sqlite; do
  for op in "add one, no fsync" "add one, no fsync, mean with rewrites" "add one, fsync" \
    "growth: open" "growth: add one" \
    "growth: get, 1 thread"; do
    expect "$p" "$op" 200
  done
done
expect ours "peak RSS: Python-written file" 200
expect ours "peak RSS: our layout" 200
for v in original dropin; do
  expect "fleet-$v" "native adds/s" 200
  expect "fleet-$v" "python adds/s" 200
done
expect fleet-original-only "python adds/s" 200
for part in '^| add one (1 KB asset) |' '^| N | ours: open |' '^| N | file: Python-written' \
  '^| fleet on one cache of 200 |'; do
  quiet_grep -- "$part" target/bench/smoke-scale.md || {
    echo "bench-smoke: the scale table lacks $part" >&2
    fail=1
  }
done

for op in "open, Python-written file" "open, our layout" "get, 1 thread, Python-written file" \
  "get, 4 threads, Python-written file" "peak RSS, Python-written file" \
  "add after a Python rewrite" "add, the next ones (median of 20)"; do
  expect ours "$op" 200 "$foreign"
done
expect python-original "open, Python-written file" 200 "$foreign"
expect limit "Python-written file: from_slice::<IgnoredAny>" 200 "$foreign"
python3 bench/foreign_table.py "$foreign" | quiet_grep '^| 3. add after a Python rewrite' || {
  echo "bench-smoke: bench/foreign_table.py printed no add-after-Python row" >&2
  fail=1
}
[ "$fail" = 0 ]
echo "bench-smoke: all workloads reported (C peers and issue 11's section included); 1000 of 1000 concurrent adds kept; single-flight fetched 50 of 50"
