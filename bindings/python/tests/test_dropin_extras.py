"""The drop-in's additions from the SDK's development branch (per-user
folder, shared(), get returning a copy, `in`) and its error modes.

How each was checked to fail: noted per test ("checked:").
"""

import logging
import os
import threading

import pytest

import asset_cache
from asset_cache import AssetCache
from assets import Model


def test_user_cache_folder_resolution(monkeypatch, tmp_path):
    # checked: trying XDG_CACHE_HOME before AIXPLAIN_CACHE_FOLDER fails the first assertion.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("AIXPLAIN_CACHE_FOLDER", str(tmp_path / "over"))
    assert asset_cache.user_cache_folder() == str(tmp_path / "over" / "aixplain")
    monkeypatch.delenv("AIXPLAIN_CACHE_FOLDER")
    assert asset_cache.user_cache_folder() == str(tmp_path / "xdg" / "aixplain")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert asset_cache.user_cache_folder() == str(tmp_path / "home" / ".cache" / "aixplain")


def test_default_folder_stays_the_released_sdks(workdir, monkeypatch, tmp_path):
    # The released 0.2.48 writes .cache in the working directory; the default
    # stays there until a released SDK moves. checked: defaulting to
    # user_cache_folder() fails the first assertion.
    monkeypatch.setenv("AIXPLAIN_CACHE_FOLDER", str(tmp_path / "user"))
    AssetCache(Model).add(Model(id="m1"))
    assert os.path.exists(".cache/model.json")
    c = AssetCache(Model, cache_folder=asset_cache.user_cache_folder())
    c.add(Model(id="m2"))
    assert c.cache_file == str(tmp_path / "user" / "aixplain" / "model.json")
    assert os.path.exists(c.cache_file) and c.get("m1") is None


def test_get_returns_a_copy_the_caller_may_mutate(workdir):
    # checked: memoizing built assets per id in get() fails the last assertion.
    c = AssetCache(Model)
    asset = Model(id="m1", tags=["a"])
    c.add(asset)
    asset.tags.append("changed after add")
    got = c.get("m1")
    got.tags.append("changed after get")
    assert c.get("m1").tags == ["a"]
    assert c.store.data.get("m1").tags == ["a"]


def test_in_tests_membership(workdir):
    # checked: __contains__ returning True for any str fails "zz" not in c.
    c = AssetCache(Model)
    c.add(Model(id="m1"))
    assert "m1" in c and "zz" not in c and 5 not in c and "a\0b" not in c


def test_shared_is_one_instance_per_class_name_and_folder(workdir, tmp_path):
    # checked: a shared() without its lock builds several instances across threads.
    for round in range(20):
        got = []
        barrier = threading.Barrier(8)

        def worker():
            barrier.wait()
            got.append(asset_cache.shared(Model, f"round{round}"))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert len({id(x) for x in got}) == 1, round
    seen = [asset_cache.shared(Model)]
    assert AssetCache.shared(Model) is seen[0]
    assert asset_cache.shared(Model, "other") is not seen[0]
    assert asset_cache.shared(Model, cache_folder=tmp_path / "f") is not seen[0]
    seen[0].add(Model(id="m1"))
    assert AssetCache(Model).get("m1") == Model(id="m1")


def test_write_failures_are_logged_or_raised_with_strict(workdir, caplog):
    # Like the original, failures are logged and the caller goes on; with
    # strict=True they raise CacheError with .status.
    # checked: swallowing the error in strict mode fails the pytest.raises.
    open(".cache", "w").close()  # a file where the folder should be
    c = AssetCache(Model)
    with caplog.at_level(logging.ERROR, logger="asset_cache"):
        c.add(Model(id="m1"))
    assert "add failed" in caplog.text and c.get("m1") is None
    s = AssetCache(Model, strict=True)
    with pytest.raises(asset_cache.CacheError) as info:
        s.add(Model(id="m1"))
    assert info.value.status == asset_cache.Status.IO


def test_assets_without_a_str_id(workdir, caplog):
    # checked: storing str(asset.id) silently fails the strict raise.
    c = AssetCache(Model, strict=True)
    with pytest.raises(asset_cache.MissingIdError):
        c.add(Model(name="no id"))
    with pytest.raises(asset_cache.MissingIdError):
        c.add(Model(id=5))
    lax = AssetCache(Model)
    with caplog.at_level(logging.ERROR, logger="asset_cache"):
        lax.add_list([Model(id="ok"), Model(name="no id")])
    assert [m.id for m in lax.get_all()] == ["ok"] and "skipping" in caplog.text


def test_a_bad_cache_filename_raises_even_when_not_strict(workdir):
    # checked: logging INVALID_ARGUMENT like an I/O error fails this.
    with pytest.raises(asset_cache.InvalidArgumentError):
        AssetCache(Model, cache_filename="../escape")
