#!/usr/bin/env bash
# Issue 11, items 1-3 (and item 6's memory bound), in one run: a cache file
# written by the real Python original (aixplain 0.2.48, indent=4) against the
# same assets in our layout, through the C ABI.
#
#   scripts/bench-foreign.sh              N = 1000 10000 100000, 3 repetitions
#   BENCH_N="1000 10000" BENCH_REPS=5 scripts/bench-foreign.sh
#
# For each N: the original writes the file (its add_list) and times its
# construct AssetCache(Model) on it (bench/foreign.py); bench_c foreign opens
# it and our layout's copy, runs gets on 1/2/4 threads, a fresh process's peak
# RSS, and adds right after a Python rewrite (the file's bytes as the original
# wrote them, put back in place as its save does); bench foreign times
# serde_json's from_slice::<IgnoredAny> over the same file. Each figure is the
# median of BENCH_REPS; the table (bench/foreign_table.py) gives each target's
# ratio. Raw lines: target/bench/foreign.tsv; table: target/bench/foreign.md.
# About 3-5 minutes on the 2-core machine, most of it the original at 100k.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$PWD/target/bench
scratch=$out/foreign-scratch
mkdir -p "$out"
: "${BENCH_N:=1000 10000 100000}"
: "${BENCH_REPS:=3}"
export BENCH_REPS

bash scripts/bench-build.sh
. scripts/python-original.sh
ensure_python_original

results=${BENCH_RESULTS:-$out/foreign.tsv}
: >"$results"
for n in $BENCH_N; do
  data=$out/data-$n.jsonl
  [ -s "$data" ] || target/release/examples/bench gen "$n" "$data"
  rm -rf "$scratch" && mkdir -p "$scratch"
  echo "--- N=$n: the Python original writes its file, then its construct" >&2
  "$PY_VENV" bench/foreign.py write "$n" "$data" "$scratch/py"
  "$PY_VENV" bench/foreign.py open "$n" "$scratch/py" | tee -a "$results"
  echo "--- N=$n: ours on it and on our layout (C ABI), serde_json's floor" >&2
  target/release/examples/bench foreign "$n" "$scratch/py/.cache/model.json" | tee -a "$results"
  "$out/bench_c" foreign "$n" "$data" "$scratch/py/.cache" "$scratch/ours" | tee -a "$results"
done
rm -rf "$scratch"
python3 bench/foreign_table.py "$results" | tee "$out/foreign.md"
