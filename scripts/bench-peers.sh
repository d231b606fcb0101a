#!/usr/bin/env bash
# The peer comparison: installs the peers into scratch folders under
# target/peers (a Python venv with filelock, diskcache 5.6.3 and the aixplain
# 0.2.48 original's asset_cache.py taken from its wheel; an npm folder with
# flat-cache 6.1.23), then runs our harness and the peers on the same data in
# the same run and prints one table with the ratios. Not part of the test
# command: the Python original alone takes minutes at N = 100000.
#
#   scripts/bench-peers.sh                         N = 1000 10000 100000
#   BENCH_N="1000 10000" PEERS="diskcache" scripts/bench-peers.sh
#
# Env: BENCH_N (sizes), BENCH_REPS (our repetitions, default 5), PEER_REPS
# (peers' repetitions, default 3), PEERS (subset of: original diskcache
# flat-cache lmdb sqlite). LMDB and SQLite run in C (bench/peers_c.c, built by
# scripts/bench-build-peers-c.sh, which apt-installs liblmdb-dev and
# libsqlite3-dev when missing). Raw lines: target/bench/peers.tsv; table: target/bench/peers.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
peers_dir=$root/target/peers
out=$root/target/bench
mkdir -p "$peers_dir" "$out"
: "${BENCH_N:=1000 10000 100000}"
: "${PEERS:=original diskcache flat-cache lmdb sqlite}"
export BENCH_N

# ---- install the peers (once; reused by later runs) ----
case " $PEERS " in
  *" lmdb "* | *" sqlite "*) bash scripts/bench-build-peers-c.sh ;;
esac
. scripts/peers-python.sh
install_python_peers
venv=$PEER_VENV
pyorig=$PEER_PYORIG
npm_dir=$peers_dir/npm
if [ ! -d "$npm_dir/node_modules/flat-cache" ]; then
  mkdir -p "$npm_dir"
  cp bench/peers-package.json "$npm_dir/package.json"
  cp bench/peers-package-lock.json "$npm_dir/package-lock.json"
  (cd "$npm_dir" && npm ci --no-audit --no-fund --silent)
fi
export PEER_PYORIG=$pyorig PEER_NODE_MODULES=$npm_dir/node_modules

# ---- ours and the limits, then each peer on the same data files ----
results=$out/peers.tsv
BENCH_RESULTS=$results BENCH_NO_TABLE=1 bash scripts/bench.sh
scratch=$out/peer-scratch
for n in $BENCH_N; do
  data=$out/data-$n.jsonl
  for p in $PEERS; do
    echo "--- N=$n: $p" >&2
    case $p in
      original | diskcache) "$venv/bin/python" bench/peers.py "$p" "$n" "$data" "$scratch/$p-$n" ;;
      flat-cache) node bench/peers-flatcache.mjs "$n" "$data" "$scratch/$p-$n" ;;
      lmdb | sqlite) BENCH_REPS=${PEER_REPS:-3} target/bench/peers_c run "$p" "$n" "$data" "$scratch/$p-$n" ;;
      *) echo "unknown peer $p" >&2; exit 2 ;;
    esac | tee -a "$results"
    rm -rf "$scratch/$p-$n"
  done
done
for p in $PEERS; do
  echo "--- 4 processes x 250 adds: $p" >&2
  case $p in
    original | diskcache) "$venv/bin/python" bench/peers.py "$p" procs "$out/data-1000.jsonl" "$scratch/$p-procs" ;;
    flat-cache) node bench/peers-flatcache.mjs procs "$out/data-1000.jsonl" "$scratch/$p-procs" ;;
    lmdb | sqlite) BENCH_REPS=${PEER_REPS:-3} target/bench/peers_c procs "$p" "$out/data-1000.jsonl" "$scratch/$p-procs" ;;
  esac | tee -a "$results"
done
rm -rf "$scratch"
python3 bench/table.py "$results" | tee "$out/peers.md"
