#!/usr/bin/env bash
# The README's Redis fleet, run as the README shows it: three Python worker
# hosts (bindings/python/fleet.py) at once, then the Go host
# (bindings/go/example/fleet), then a Python worker again, all on the server
# named by ASSET_CACHE_REDIS_URL (scripts/test-redis.sh starts it). Each host
# runs in a folder of its own, so only the server can join them. The README
# holds both programs verbatim (scripts/check-readme.sh) and the output
# checked here.
# Python loads the package from bindings/python/src and the library from
# target/release (ASSET_CACHE_LIB); Go links it with -tags asset_cache_inrepo.
# Checked to fail: with the Go program's WithBackendURL left out (files in
# its own folder), it prints nothing and the diff fails; with fleet.py's
# backend_url left out of the drop-in, "sees its model" raises (None.added_by).
set -euo pipefail
cd "$(dirname "$0")/../../.."
root=$PWD
: "${ASSET_CACHE_REDIS_URL:?run through scripts/test-redis.sh}"
work=$(mktemp -d /tmp/asset-cache-readme-fleet.XXXXXX)
trap 'rm -rf "$work"' EXIT
# A database of its own on the shared server: the README's cache name
# ("models") is then the fleet's alone.
export REDIS_URL="${ASSET_CACHE_REDIS_URL%/*}/7"
redis-cli -u "$REDIS_URL" flushdb >/dev/null
export PYTHONPATH=$root/bindings/python/src ASSET_CACHE_LIB=$root/target/release/libasset_cache.so

(cd bindings/go && CGO_ENABLED=1 GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
  go build -tags asset_cache_inrepo -o "$work/go-host" ./example/fleet)

for w in w1 w2 w3; do
  mkdir "$work/$w"
  (cd "$work/$w" && python3 "$root/bindings/python/fleet.py" "$w" >out.txt 2>&1) &
done
wait
for w in w1 w2 w3; do
  printf '%s\n' "$w sees its model: True" "$w sees Go's model: False" | diff -u - "$work/$w/out.txt"
done

mkdir "$work/go" && (cd "$work/go" && "$work/go-host" >out.txt 2>&1)
printf '%s\n' "model-w1 added by w1" "model-w2 added by w2" "model-w3 added by w3" | diff -u - "$work/go/out.txt"

mkdir "$work/w4" && (cd "$work/w4" && python3 "$root/bindings/python/fleet.py" w4 >out.txt 2>&1)
printf '%s\n' "w4 sees its model: True" "w4 sees Go's model: True" | diff -u - "$work/w4/out.txt"
for h in w1 w2 w3 w4 go; do
  [ "$(ls "$work/$h")" = out.txt ] || { echo "host $h wrote files: $(ls "$work/$h")" >&2; exit 1; }
done
redis-cli -u "$REDIS_URL" flushdb >/dev/null
echo "readme fleet: 3 Python hosts and a Go host shared one cache through $REDIS_URL"
