# Sourced by the benchmark scripts: install_python_peers makes the peers'
# Python venv under target/peers (filelock, diskcache 5.6.3) and extracts
# the aixplain 0.2.48 original's asset_cache.py from its wheel (downloaded
# without its many dependencies: the module needs only filelock), once;
# then exports PEER_VENV and PEER_PYORIG.
install_python_peers() {
  local peers_dir=$PWD/target/peers
  local venv=$peers_dir/venv pyorig=$peers_dir/pyorig
  mkdir -p "$peers_dir"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check filelock diskcache==5.6.3
  if [ ! -s "$pyorig/asset_cache.py" ]; then
    rm -rf "$peers_dir/wheel"
    "$venv/bin/pip" download --quiet --disable-pip-version-check --no-deps \
      aixplain==0.2.48 -d "$peers_dir/wheel"
    mkdir -p "$pyorig"
    "$venv/bin/python" - "$peers_dir/wheel" "$pyorig" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/aixplain-0.2.48-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    src = z.read("aixplain/utils/asset_cache.py")
open(sys.argv[2] + "/asset_cache.py", "wb").write(src)
PY
  fi
  export PEER_VENV=$venv PEER_PYORIG=$pyorig
}
