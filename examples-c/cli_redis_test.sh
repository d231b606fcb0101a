#!/usr/bin/env bash
# The asset-cache command-line tool on Redis: every command with
# --backend-url (and --backend-timeout-ms), against the server named by
# ASSET_CACHE_REDIS_URL (ctest runs this through with_redis.sh), plus an
# unreachable server, a silent one, a bad URL and bad timeouts.
# usage: cli_redis_test.sh PATH/TO/asset-cache DATA_DIR SCRATCH_DIR
# Checked to fail: with cli.c not passing --backend-url to the library
# (asset_cache_config_set_backend_url left out), "info" prints "file:" and
# the second host's get finds nothing; with --backend-timeout-ms ignored the
# silent server takes 5 s and fails the elapsed check.
set -uo pipefail
cli=$1 data=$2 dir=$3
url=${ASSET_CACHE_REDIS_URL:?ASSET_CACHE_REDIS_URL is not set: run through with_redis.sh}
rm -rf "$dir" && mkdir -p "$dir"
fails=0
expect() { # expect CODE PATTERN -- ARGS...
  local code=$1 pattern=$2; shift 3
  local out rc
  out=$("$cli" "$@" 2>&1); rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: asset-cache $* -> exit $rc (want $code), output:"; echo "$out"
    echo "      expected pattern: $pattern"
    fails=$((fails + 1))
  fi
}
name=cli-$$
# Two folders that stay empty stand for two hosts: only the server joins them.
a=(--dir "$dir/host-a" --backend-url "$url" --backend-timeout-ms 2000 --name "$name")
b=(--dir "$dir/host-b" --backend-url "$url" --name "$name")
expect 0 "asset-cache --backend-url URL \[--backend-timeout-ms MS\] --name NAME" -- --help
expect 0 "^cache:   $name on redis://127\.0\.0\.1:[0-9]+/0$" -- "${a[@]}" info
expect 0 "assets:  0" -- "${a[@]}" info
expect 0 "add-list: ok \(8 assets in $name on redis://" -- "${a[@]}" add-list "$data/models.json"
expect 0 "assets:  8" -- "${b[@]}" info
expect 0 "valid:   yes" -- "${b[@]}" info
expect 0 '"name":"GPT-4o"' -- "${b[@]}" get 640b517694bf816d35a59125
expect 1 "no asset with id 'nope'" -- "${b[@]}" get nope
expect 0 "add: ok \(9 assets" -- "${b[@]}" add "$data/new-model.json"
out=$(echo '{"id":"from-stdin","name":"piped"}' | "$cli" "${a[@]}" add - 2>&1) \
  && grep -q "add: ok (10 assets" <<<"$out" || { echo "FAIL: add from stdin: $out"; fails=$((fails + 1)); }
expect 0 '^\[\{"id":"640b517694bf816d35a59125".*"id":"from-stdin","name":"piped"\}\]$' -- "${b[@]}" list
expect 0 '^\["640b517694bf816d35a59125",.*"from-stdin"\]$' -- "${b[@]}" ids
expect 0 "remove: ok \(from-stdin removed from $name on redis://" -- "${a[@]}" remove from-stdin
expect 1 "no asset with id 'from-stdin'" -- "${b[@]}" get from-stdin
expect 1 "no asset with id 'from-stdin'" -- "${b[@]}" remove from-stdin
expect 3 '^asset-cache: add failed: asset has no "id" member$' -- "${a[@]}" add <(echo '{"name": "no id"}')
expect 0 "invalidate: ok \($name on redis://.* emptied\)" -- "${a[@]}" invalidate
expect 0 "assets:  0" -- "${b[@]}" info
[ -z "$(ls -A "$dir")" ] || { echo "FAIL: files written: $(ls -AR "$dir")"; fails=$((fails + 1)); }

# Failures: clear messages naming the server, exit 3, never a hang.
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect 3 "^asset-cache: open failed: cannot reach redis://127\.0\.0\.1:$port/0" -- \
  --backend-url "redis://127.0.0.1:$port/0" --backend-timeout-ms 500 --name "$name" info
# A server that accepts connections but never answers (a listening socket).
python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(30)' >"$dir/silent.port" &
silent=$!
for _ in $(seq 50); do [ -s "$dir/silent.port" ] && break; sleep 0.1; done
sport=$(cat "$dir/silent.port")
start=$(date +%s%N)
expect 3 "^asset-cache: open failed: .*127\.0\.0\.1:$sport" -- \
  --backend-url "redis://127.0.0.1:$sport/0" --backend-timeout-ms 300 --name "$name" info
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 2500 ] || { echo "FAIL: the silent server took $ms ms with a 300 ms timeout"; fails=$((fails + 1)); }
kill "$silent" 2>/dev/null; wait "$silent" 2>/dev/null
expect 3 '^asset-cache: open failed: .*backend URL "http://cache-host:6379/0" is not usable' -- \
  --backend-url http://cache-host:6379/0 --name "$name" info
out=$("$cli" --backend-url 'redis://user:s3cret@cache-host:notaport/0' --name "$name" info 2>&1)
{ [ $? -eq 3 ] && grep -q "cache-host" <<<"$out" && ! grep -q s3cret <<<"$out"; } \
  || { echo "FAIL: a bad URL with a password: $out"; fails=$((fails + 1)); }
# A password pasted with a '/' (as base64 ones have) breaks the URL; the
# message must not show it. Checked to fail: with the credentials taken to
# end at the first '/', "se/cr3t" was printed.
out=$("$cli" --backend-url 'redis://user:se/cr3t@cache-host:6379/0' --name "$name" info 2>&1)
{ [ $? -eq 3 ] && ! grep -q cr3t <<<"$out"; } \
  || { echo "FAIL: a bad URL with a '/' in its password: $out"; fails=$((fails + 1)); }
expect 3 "backend timeout must be at least 1 ms, got 0" -- --backend-url "$url" --backend-timeout-ms 0 --name "$name" info
expect 2 "--backend-timeout-ms needs a number of milliseconds, got 'soon'" -- \
  --backend-url "$url" --backend-timeout-ms soon --name "$name" info
expect 2 "--backend-timeout-ms needs --backend-url" -- --backend-timeout-ms 100 --name "$name" info
expect 2 "unknown or incomplete option '--backend-url'" -- --name "$name" --backend-url
if [ "$fails" -ne 0 ]; then echo "cli_redis: $fails check(s) failed"; exit 1; fi
echo "cli_redis: all checks passed"
