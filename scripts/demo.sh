#!/usr/bin/env bash
# The main job, end to end: build the library and the asset-cache CLI, then
# cache sample aiXplain model metadata, read it back, add from several
# processes at once, and show that nothing was lost.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "== building the library (cargo) and the CLI (CMake)"
cmake -S examples-c -B build/demo -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/demo -j2 --target asset-cache >/dev/null
cli=build/demo/asset-cache
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
dir=$scratch/.cache
run() { echo "\$ asset-cache --dir \$DIR --name model $*"; "$cli" --dir "$dir" --name model "$@"; echo; }

echo "== a cache of aiXplain model metadata in $dir"
run add-list examples-c/data/models.json
run info
run get 640b517694bf816d35a59125
run add examples-c/data/new-model.json

echo "== 4 processes add 25 assets each, at the same time"
for p in 1 2 3 4; do
  (for i in $(seq 1 25); do
     echo "{\"id\":\"proc$p-$i\",\"name\":\"model $i from process $p\"}" | "$cli" --dir "$dir" --name model add - >/dev/null
   done) &
done
wait
run info
n=$("$cli" --dir "$dir" --name model list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
echo "assets listed: $n (9 + 4 x 25 = 109 expected)"
[ "$n" -eq 109 ] || { echo "demo: assets were lost"; exit 1; }

echo
echo "== the file is the Python SDK's format: {\"expiry\": ..., \"data\": {id: asset}}"
python3 - "$dir/model.json" <<'PY'
import json, sys, time
d = json.load(open(sys.argv[1]))
print(f"expiry in {d['expiry'] - time.time():.0f} s; {len(d['data'])} assets; first: {next(iter(d['data']))}")
PY
echo
run invalidate
run info
