#!/usr/bin/env bash
# Tests 6 and 7 of issue 3: interoperability with the real Python original
# (aixplain==0.2.48's aixplain/utils/asset_cache.py, from PyPI) and fidelity of
# JSON files it writes. Builds the release library, makes a venv under
# target/interop (never committed) with filelock and pytest, extracts the
# original module from the aixplain wheel (downloaded without its many
# dependencies: the module needs only filelock and the standard library), and
# runs tests/interop with pytest.
# More writers/adds in the concurrency tests: INTEROP_WRITERS=8 INTEROP_ADDS=200.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

cargo build --release --lib
work=target/interop
venv=$work/venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check "filelock==4.3.1" "pytest==9.2.0"
original=$work/pyorig/aixplain_asset_cache.py
if [ ! -f "$original" ]; then
  "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
    "aixplain==0.2.48" -d "$work/dl"
  mkdir -p "$work/pyorig"
  "$venv/bin/python" - "$work/dl" "$original" <<'PY'
import glob, sys, zipfile
wheel, = glob.glob(sys.argv[1] + "/aixplain-0.2.48-*.whl")
with zipfile.ZipFile(wheel) as z:
    src = z.read("aixplain/utils/asset_cache.py")
open(sys.argv[2], "wb").write(src)
PY
fi
export ASSET_CACHE_LIB=$PWD/target/release/libasset_cache.so
export PY_ORIGINAL=$PWD/$original
"$venv/bin/python" -m pytest -q -p no:cacheprovider "${@:-tests/interop}"
