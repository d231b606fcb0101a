#!/usr/bin/env bash
# Drives the asset-cache command-line tool and checks its output and exit codes.
# usage: cli_test.sh PATH/TO/asset-cache DATA_DIR SCRATCH_DIR [LAUNCHER ARGS...]
# A launcher (e.g. valgrind with its options) runs every invocation of the tool.
set -uo pipefail
cli=$1 data=$2 dir=$3
shift 3
launcher=("$@")
rm -rf "$dir" && mkdir -p "$dir"
fails=0
# expect CODE PATTERN -- ARGS...: exit code CODE and combined output matching PATTERN.
expect() {
  local code=$1 pattern=$2; shift 3
  local out rc
  out=$("${launcher[@]}" "$cli" "$@" 2>&1); rc=$?
  if [ "$rc" -ne "$code" ] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: asset-cache $* -> exit $rc (want $code), output:"; echo "$out"
    echo "      expected pattern: $pattern"
    fails=$((fails + 1))
  fi
}
c=(--dir "$dir" --name model)
expect 0 "^usage: asset-cache" -- --help
expect 0 "^asset-cache [0-9]+\.[0-9]+\.[0-9]+" -- --version
expect 2 "no command given" -- "${c[@]}"
expect 2 "unknown command 'frobnicate'" -- "${c[@]}" frobnicate
expect 2 "'get' needs an argument" -- "${c[@]}" get
expect 2 "missing --name" -- --dir "$dir" info
expect 2 "unknown or incomplete option '--bogus'" -- --bogus info
expect 3 "cache name .* contains" -- --dir "$dir" --name ../evil info
expect 0 "assets:  0" -- "${c[@]}" info
# No cache there: said plainly, no expiry made up, nothing created. Checked
# to fail: before, info printed "file: <path>" and an expiry a day ahead.
expect 0 "^file: +$dir/absent/model.json \(none: no cache file there\)" -- --dir "$dir/absent" --name model info
expect 0 "^expiry: +-$" -- --dir "$dir/absent" --name model info
[ ! -e "$dir/absent" ] || { echo "FAIL: info created $dir/absent"; fails=$((fails + 1)); }
# A name given with its .json: a hint on stderr (checked to fail without it).
expect 0 "note: NAME is the file's base name: --name m.json is the file m.json.json \(for m.json, use --name m\)" -- --dir "$dir" --name m.json info
# Warnings reach stderr without ASSET_CACHE_LOG (checked to fail: without the
# CLI's default the corrupt file was moved aside silently); ASSET_CACHE_LOG=error quiets them.
printf 'not json' >"$dir/broken.json"
out=$(env -u ASSET_CACHE_LOG "${launcher[@]}" "$cli" --dir "$dir" --name broken info 2>&1)
grep -qE "asset_cache warn: .*broken.json is unreadable .*kept aside as .*broken.json.corrupt" <<<"$out" \
  || { echo "FAIL: corrupt file without a warning: $out"; fails=$((fails + 1)); }
printf 'not json' >"$dir/broken.json"
out=$(ASSET_CACHE_LOG=error "${launcher[@]}" "$cli" --dir "$dir" --name broken info 2>&1)
! grep -q "warn" <<<"$out" || { echo "FAIL: ASSET_CACHE_LOG=error still warns: $out"; fails=$((fails + 1)); }
rm -f "$dir"/broken.json*
expect 0 "add-list: ok \(8 assets" -- "${c[@]}" add-list "$data/models.json"
expect 0 "assets:  8" -- "${c[@]}" info
expect 0 "valid:   yes" -- "${c[@]}" info
expect 0 '"name":"GPT-4o"' -- "${c[@]}" get 640b517694bf816d35a59125
expect 1 "no asset with id 'nope'" -- "${c[@]}" get nope
expect 0 "add: ok \(9 assets" -- "${c[@]}" add "$data/new-model.json"
out=$(echo '{"id":"from-stdin","name":"piped"}' | "${launcher[@]}" "$cli" "${c[@]}" add - 2>&1) \
  && grep -q "add: ok (10 assets" <<<"$out" || { echo "FAIL: add from stdin: $out"; fails=$((fails + 1)); }
expect 0 '^\[\{"id":"640b517694bf816d35a59125".*"id":"from-stdin","name":"piped"\}\]$' -- "${c[@]}" list
# The message once, plainly, no status text repeating it. Checked: the old
# "%s failed: %s: %s" (status text, then message) fails all of them, and the
# library's old serde messages ("invalid type: sequence, ... column 0") the first three.
expect 3 '^asset-cache: add-list failed: assets_json must be a JSON array of assets, got an object$' -- "${c[@]}" add-list "$data/new-model.json"
expect 3 '^asset-cache: add failed: asset must be a JSON object with a string "id", got an array$' -- "${c[@]}" add "$data/models.json"
echo '[1]' >"$dir/one.json"
expect 3 '^asset-cache: add-list failed: element 0: asset must be a JSON object with a string "id", got a number$' -- "${c[@]}" add-list "$dir/one.json"
echo '{"id": oops}' >"$dir/bad.json"
expect 3 '^asset-cache: add failed: invalid JSON: ' -- "${c[@]}" add "$dir/bad.json"
out=$("${launcher[@]}" "$cli" "${c[@]}" add "$dir/bad.json" 2>&1)
! grep -q "invalid JSON: invalid JSON" <<<"$out" || { echo "FAIL: add of bad JSON repeats itself: $out"; fails=$((fails + 1)); }
echo '{"name": "no id"}' >"$dir/noid.json"
expect 3 '^asset-cache: add failed: asset has no "id" member$' -- "${c[@]}" add "$dir/noid.json"
expect 3 "cannot open .*/missing.json" -- "${c[@]}" add "$dir/missing.json"
expect 0 "assets:  10" -- "${c[@]}" info
expect 0 '^\["640b517694bf816d35a59125",.*"from-stdin"\]$' -- "${c[@]}" ids
expect 0 "remove: ok \(from-stdin removed" -- "${c[@]}" remove from-stdin
expect 1 "no asset with id 'from-stdin'" -- "${c[@]}" remove from-stdin
expect 2 "'remove' needs an argument" -- "${c[@]}" remove
expect 0 "assets:  9" -- "${c[@]}" info
out=$(echo '{"id":"from-stdin","name":"piped"}' | "${launcher[@]}" "$cli" "${c[@]}" add - 2>&1) \
  && grep -q "add: ok (10 assets" <<<"$out" || { echo "FAIL: re-add from stdin: $out"; fails=$((fails + 1)); }
# The file is still the Python original's shape after all of that.
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["data"])==10 and d["expiry"]>0' \
  "$dir/model.json" || { echo "FAIL: file shape"; fails=$((fails + 1)); }
expect 0 "invalidate: ok" -- "${c[@]}" invalidate
[ ! -e "$dir/model.json" ] || { echo "FAIL: file not deleted"; fails=$((fails + 1)); }
expect 0 "assets:  0" -- "${c[@]}" info
if [ "$fails" -ne 0 ]; then echo "cli: $fails check(s) failed"; exit 1; fi
echo "cli: all checks passed"
