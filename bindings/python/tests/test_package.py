"""The package as installed from its wheel: outside the checkout, with the
library inside it, stripped, typed. checked: running pytest with the source
tree on PYTHONPATH fails the first test; a wheel built from the unstripped
release library fails the size bound."""

import importlib.metadata
import os
import subprocess
import sys

import asset_cache
from asset_cache import _native

# scripts/test-python.sh runs these tests from a copy outside the checkout.
CHECKOUT = os.environ.get("ASSET_CACHE_CHECKOUT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def test_imported_from_the_installed_wheel_not_the_checkout():
    here = os.path.dirname(asset_cache.__file__)
    assert "site-packages" in here and not here.startswith(CHECKOUT + os.sep)
    assert not os.path.abspath(__file__).startswith(CHECKOUT + os.sep)
    assert "ASSET_CACHE_LIB" not in os.environ
    assert _native.library_path() == os.path.join(here, "libasset_cache.so")
    assert importlib.metadata.version("asset-cache") == asset_cache.__version__


def test_the_wheel_bundles_a_stripped_library_and_type_marker():
    here = os.path.dirname(asset_cache.__file__)
    lib = os.path.join(here, "libasset_cache.so")
    # ~3 MB stripped since TLS (rustls) is built in; ~22 MB with debug info.
    assert os.path.getsize(lib) < 4 * 1024 * 1024
    sections = subprocess.run(["readelf", "-S", lib], capture_output=True, text=True, check=True).stdout
    assert ".debug_info" not in sections
    assert os.path.exists(os.path.join(here, "py.typed"))
    files = {str(f) for f in importlib.metadata.files("asset-cache")}
    assert "asset_cache/libasset_cache.so" in files and "asset_cache/py.typed" in files


def test_a_wrong_asset_cache_lib_is_named_as_the_source(tmp_path):
    # Checked to fail: without "(from ASSET_CACHE_LIB)" in _native.lib's message.
    bogus = tmp_path / "nope.so"
    code = "import asset_cache; asset_cache.Cache('m', '.')"
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={**os.environ, "ASSET_CACHE_LIB": str(bogus)},
        capture_output=True,
        text=True,
    )
    assert r.returncode != 0
    assert f"cannot load the shared library {str(bogus)!r} (from ASSET_CACHE_LIB)" in r.stderr, r.stderr
    assert "fix or unset ASSET_CACHE_LIB" in r.stderr, r.stderr
