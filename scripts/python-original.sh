# Sourced: the real Python original for the suites and benchmarks that run
# it. ensure_python_original makes a venv under target/interop (never
# committed) with filelock and pytest, extracts aixplain/utils/asset_cache.py
# from the aixplain==0.2.48 wheel (downloaded without its many dependencies:
# the module needs only filelock and the standard library), and exports
# PY_ORIGINAL (the module's path) and PY_VENV (the venv's python).
ensure_python_original() {
  local work venv original
  work=$PWD/target/interop
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
  export PY_ORIGINAL=$original
  export PY_VENV=$venv/bin/python
}
