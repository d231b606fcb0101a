"""Fixtures for the Python package's tests.

scripts/test-python.sh installs the wheel (from its artefact) and the real
aixplain==0.2.48 from PyPI into a fresh venv outside the checkout and runs
pytest there; `asset_cache` and `aixplain` are imported as installed.
"""

import os
import sys

import pytest

# aixplain reads its configuration at import; the service is never reached
# (tests stub its HTTP answers), but the SDK wants a key to send.
os.environ.setdefault("TEAM_API_KEY", "test-key")
os.environ.setdefault("AIXPLAIN_SUPPRESS_V1_DEPRECATION", "1")

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


@pytest.fixture(scope="session")
def original():
    """The real aixplain 0.2.48 module aixplain.utils.asset_cache (from PyPI)."""
    import importlib.metadata

    assert importlib.metadata.version("aixplain") == "0.2.48"
    import aixplain.utils.asset_cache as mod

    return mod


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working directory: the default `.cache` is relative to it."""
    monkeypatch.chdir(tmp_path)
    for var in ("CACHE_EXPIRY_TIME", "AIXPLAIN_CACHE_FOLDER", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path
