#!/usr/bin/env bash
# Tests 6 and 7 of issue 3: interoperability with the real Python original
# (aixplain==0.2.48's aixplain/utils/asset_cache.py, from PyPI) and fidelity of
# JSON files it writes. Builds the release library, sets up the original in a
# venv (scripts/python-original.sh), and runs tests/interop with pytest.
# More writers/adds in the concurrency tests: INTEROP_WRITERS=8 INTEROP_ADDS=200.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

cargo build --release --lib
. scripts/python-original.sh
ensure_python_original
export ASSET_CACHE_LIB=$PWD/target/release/libasset_cache.so
"$PY_VENV" -m pytest -q -p no:cacheprovider "${@:-tests/interop}"
