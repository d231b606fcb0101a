"""Fixtures shared by the interop and JSON-fidelity tests.

scripts/test-interop.sh sets ASSET_CACHE_LIB (the release libasset_cache.so)
and PY_ORIGINAL (aixplain/utils/asset_cache.py extracted from the
aixplain==0.2.48 wheel) and runs pytest in a venv holding filelock."""

import importlib.util
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def load_original():
    path = os.environ.get("PY_ORIGINAL")
    if not path or not os.path.exists(path):
        raise RuntimeError("PY_ORIGINAL must name the original asset_cache.py")
    spec = importlib.util.spec_from_file_location("aixplain_asset_cache", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Model:
    """An asset as the original expects one: `id`, `__dict__`, `from_dict`."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    @classmethod
    def from_dict(cls, d):
        return cls(**d)


def fields(x):
    """The original's get/get_all give the added dict or a loaded Model."""
    return x if isinstance(x, dict) else dict(vars(x))


@pytest.fixture(scope="session")
def original():
    return load_original()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working directory: the original's `.cache` is relative to it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CACHE_EXPIRY_TIME", raising=False)
    return tmp_path
