#!/usr/bin/env bash
# Issue 11, items 4-7 in one run, one table (BENCHMARKS.md, "Against LMDB and
# SQLite, a mixed fleet, growth"): about 8 minutes on the 2-core machine.
#
#  * add one, ours against LMDB (MDB_NOSYNC / synced) and SQLite (WAL,
#    synchronous=NORMAL / FULL), the three interleaved in one process
#    (bench/peers_c.c `add`), and the system-call floor of an add
#    (bench/add_floor.c);
#  * growth: open, add one and get at each N of SCALE_N, ours, LMDB, SQLite
#    (bench/peers_c.c `growth`), and the peak RSS of opening a file the
#    Python original wrote against the same assets in our layout (RSS_N);
#  * a mixed fleet: 4 Python processes in the SDK pattern beside 4 native
#    ones on one cache of FLEET_N, with the real original and with our
#    drop-in, and 8 processes of the original alone (bench/fleet.py).
#
#   scripts/bench-scale.sh
#   SCALE_N="1000 10000" RSS_N=1000 FLEET_SECONDS=3 scripts/bench-scale.sh   (quick)
#
# Env: SCALE_N (default 1000 10000 100000 1000000; empty: no growth rows),
# ADD_N (store size for the add comparison, default 10000), RSS_N (default
# 1000 10000 100000; empty: no RSS rows; the
# Python original takes about a minute to write 100k on this machine, ten
# at 1M), FLEET_N (default 10000; empty: no fleet), FLEET_SECONDS (default 10), BENCH_REPS
# (repetitions, default 3: every figure is a median of three). Needs root
# or liblmdb-dev + libsqlite3-dev installed, python3 and access to PyPI
# (filelock, the aixplain 0.2.48 wheel) the first time.
# Raw lines: stderr (with the progress) and target/bench/scale.tsv; the
# table alone on stdout and in target/bench/scale.md, ready to paste.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/target/bench
mkdir -p "$out"
: "${SCALE_N=1000 10000 100000 1000000}"
: "${ADD_N:=10000}"
: "${RSS_N=1000 10000 100000}"
: "${FLEET_N=10000}"
: "${FLEET_SECONDS:=10}"
: "${BENCH_REPS:=3}"
export BENCH_REPS
results=${SCALE_RESULTS:-$out/scale.tsv}
scratch=$out/scale-scratch

bash scripts/bench-build-peers-c.sh
cc -O2 -Wall -Wno-unused-result bench/add_floor.c -o "$out/add_floor"
. scripts/python-original.sh
ensure_python_original
py=$PY_VENV
export ASSET_CACHE_LIB=$root/target/release/libasset_cache.so
export PYTHONPATH=$root/bindings/python/src${PYTHONPATH:+:$PYTHONPATH}

# N + 5000 assets: room for the adds after the first N.
data() {
  local n=$1 f=$out/scale-data-$1+5000.jsonl
  [ -s "$f" ] || target/release/examples/bench gen $((n + 4900)) "$f"
  echo "$f"
}

: >"$results"
rm -rf "$scratch"
echo "--- add one at N=$ADD_N: ours, LMDB, SQLite; the system-call floor" >&2
"$out/peers_c" add "$ADD_N" "$(data "$ADD_N")" "$scratch/add" | tee -a "$results" >&2
"$out/add_floor" "$scratch/floor" | tee -a "$results" >&2

for n in $SCALE_N; do
  echo "--- growth, N=$n: ours, LMDB, SQLite" >&2
  "$out/peers_c" growth "$n" "$(data "$n")" "$scratch/growth" | tee -a "$results" >&2
done

# Peak RSS of a fresh process opening the cache (bench_c's rss child), on
# a file the original wrote and on the same assets in our layout.
rss() { # dir -> median VmHWM in bytes of BENCH_REPS opens
  for _ in $(seq "$BENCH_REPS"); do
    "$out/bench_c" rss "$1" | awk '{ print $2 * 1024 }'
  done | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
for n in $RSS_N; do
  echo "--- peak RSS, N=$n: a file the Python original wrote vs our layout" >&2
  rm -rf "$scratch/rss"
  "$py" bench/python_file.py "$n" "$(data "$n")" "$scratch/rss/py"
  "$out/peers_c" fill "$scratch/rss/ours" "$n" "$(data "$n")"
  py_rss=$(rss "$scratch/rss/py/.cache")
  our_rss=$(rss "$scratch/rss/ours")
  py_size=$(stat -c %s "$scratch/rss/py/.cache/model.json")
  our_size=$(stat -c %s "$scratch/rss/ours/model.json")
  printf 'ours\tpeak RSS: Python-written file\t%s\t%s\tbytes\n' "$n" "$py_rss" | tee -a "$results" >&2
  printf 'ours\tpeak RSS: our layout\t%s\t%s\tbytes\n' "$n" "$our_rss" | tee -a "$results" >&2
  printf 'ours\tfile size: Python-written\t%s\t%s\tbytes\n' "$n" "$py_size" | tee -a "$results" >&2
  printf 'ours\tfile size: our layout\t%s\t%s\tbytes\n' "$n" "$our_size" | tee -a "$results" >&2
done
rm -rf "$scratch/rss"

for rep in $(seq "$BENCH_REPS"); do
  [ -n "$FLEET_N" ] || break
  for v in original dropin original-only; do
    echo "--- fleet $rep/$BENCH_REPS on a cache of $FLEET_N: $v" >&2
    "$py" bench/fleet.py "$v" "$FLEET_N" "$(data "$FLEET_N")" "$scratch/fleet" \
      "$FLEET_SECONDS" "$out/peers_c" | tee -a "$results" >&2
  done
done
rm -rf "$scratch"

python3 bench/scale_table.py "$results" | tee "$out/scale.md"
