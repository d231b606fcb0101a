"""The original's documented behaviours, run against the real aixplain 0.2.48
module and against the drop-in `asset_cache.AssetCache`, side by side.

Each test runs twice (`impl` = "original", "dropin") and asserts the same
outcome, except where the drop-in deliberately fixes a documented defect:
those tests assert each side's behaviour explicitly (marked DIFFERENCE).
How each was checked to fail: noted per test ("checked:").
"""

import json
import logging
import os
import time
import types

import pytest

import asset_cache
from assets import Model, fields


@pytest.fixture(params=["original", "dropin"])
def impl(request, original):
    if request.param == "original":
        return types.SimpleNamespace(
            name="original", AssetCache=original.AssetCache, serialize=original.serialize, Store=original.Store
        )
    return types.SimpleNamespace(
        name="dropin", AssetCache=asset_cache.AssetCache, serialize=asset_cache.serialize, Store=asset_cache.Store
    )


def read_file(path=".cache/model.json"):
    with open(path) as f:
        return json.load(f)


class Pipeline(Model):
    pass


# -- construction and files ------------------------------------------------------


def test_file_names_follow_the_class_or_cache_filename(impl, workdir):
    # checked: naming the file `cls.__name__` (not lower) in the drop-in fails this.
    c = impl.AssetCache(Model)
    assert c.cls is Model
    assert c.cache_file == os.path.join(".cache", "model.json")
    assert c.lock_file == os.path.join(".cache", "model.lock")
    p = impl.AssetCache(Pipeline, cache_filename="pipes")
    assert p.cache_file == os.path.join(".cache", "pipes.json")
    p.add(Pipeline(id="p1"))
    assert os.path.exists(".cache/pipes.json") and os.path.exists(".cache/pipes.lock")
    assert list(read_file(".cache/pipes.json")["data"]) == ["p1"]


def test_construction_writes_an_empty_file_only_in_the_original(impl, workdir):
    # DIFFERENCE: the original writes {"expiry", "data": {}} at construction;
    # the drop-in (like the SDK's development branch) writes nothing until the
    # first write. checked: a save() in the drop-in's __init__ fails this.
    impl.AssetCache(Model)
    if impl.name == "original":
        assert read_file()["data"] == {}
    else:
        assert not os.path.exists(".cache/model.json")


# -- expiry --------------------------------------------------------------------------


def test_compute_expiry_uses_cache_expiry_time_or_a_day(impl, workdir, monkeypatch):
    # checked: a default of 3600 in the drop-in fails the first assertion.
    c = impl.AssetCache(Model)
    now = time.time()
    assert now + 86400 - 5 <= c.compute_expiry() <= now + 86400 + 5
    monkeypatch.setenv("CACHE_EXPIRY_TIME", "60")
    assert now + 55 <= c.compute_expiry() <= now + 65


def test_store_expiry_follows_cache_expiry_time(impl, workdir, monkeypatch):
    # checked: ignoring CACHE_EXPIRY_TIME (ttl_seconds=86400 at open) fails it.
    monkeypatch.setenv("CACHE_EXPIRY_TIME", "120")
    c = impl.AssetCache(Model)
    c.add(Model(id="m1"))
    now = time.time()
    assert now + 110 <= c.store.expiry <= now + 125
    assert now + 110 <= read_file()["expiry"] <= now + 125


def test_bad_cache_expiry_time_falls_back_with_a_warning(impl, workdir, monkeypatch, caplog):
    # DIFFERENCE: the original also deletes the variable from the environment
    # (unsetenv, not thread-safe); the drop-in leaves it.
    # checked: re-raising the ValueError in compute_expiry fails this.
    monkeypatch.setenv("CACHE_EXPIRY_TIME", "soon")
    c = impl.AssetCache(Model)
    with caplog.at_level(logging.WARNING):
        e = c.compute_expiry()
    assert abs(e - (time.time() + 86400)) < 5
    assert "CACHE_EXPIRY_TIME" in caplog.text
    if impl.name == "original":
        assert "CACHE_EXPIRY_TIME" not in os.environ
    else:
        assert os.environ["CACHE_EXPIRY_TIME"] == "soon"


def test_has_valid_cache_needs_data_and_time(impl, workdir, monkeypatch):
    # checked: has_valid_cache returning True for an empty store fails the first assertion.
    c = impl.AssetCache(Model)
    assert c.has_valid_cache() is False
    c.add(Model(id="m1"))
    assert c.has_valid_cache() is True
    monkeypatch.setenv("CACHE_EXPIRY_TIME", "2")  # 2 s: room for a busy machine before the check
    d = impl.AssetCache(Model, cache_filename="short")
    d.add(Model(id="m1"))
    assert d.has_valid_cache() is True
    time.sleep(2.2)
    assert d.has_valid_cache() is False


def test_load_deletes_an_expired_file(impl, workdir, monkeypatch):
    # checked: skipping the expiry check in the library's load keeps the file.
    monkeypatch.setenv("CACHE_EXPIRY_TIME", "2")  # 2 s: room for a busy machine before the check
    impl.AssetCache(Model).add(Model(id="m1"))
    time.sleep(2.2)
    monkeypatch.delenv("CACHE_EXPIRY_TIME")
    c = impl.AssetCache(Model)
    assert c.get_all() == []
    assert c.has_valid_cache() is False
    if os.path.exists(".cache/model.json"):  # the original writes a new empty one
        assert read_file()["data"] == {}


# -- add, get, get_all, add_list -----------------------------------------------------


def test_add_then_get_in_the_same_object(impl, workdir):
    # The original returns the added object's __dict__ here, the drop-in a
    # Model.from_dict instance: the same fields either way.
    # checked: a drop-in get returning None after add fails this.
    c = impl.AssetCache(Model)
    c.add(Model(id="m1", name="first", n=1))
    assert fields(c.get("m1")) == {"id": "m1", "name": "first", "n": 1}
    assert c.get("absent") is None


@pytest.mark.parametrize("bad", [{"id": "x"}, Model(name="no id")], ids=["dict", "no-id-attribute"])
def test_add_of_an_asset_without_an_id_raises(impl, workdir, bad, caplog):
    # The original raises AttributeError from asset.id; a programming error
    # must not be only logged. checked: the drop-in's old add (MISSING_ID
    # caught and logged) fails pytest.raises.
    c = impl.AssetCache(dict, cache_filename="dd")
    with pytest.raises(AttributeError):
        c.add(bad)
    assert c.get("x") is None and not os.path.exists(".cache/dd.json") or read_file(".cache/dd.json")["data"] == {}


def test_add_of_an_unserializable_asset_raises_in_the_dropin(workdir):
    # checked: the drop-in's old add (INVALID_JSON caught and logged) fails pytest.raises.
    c = asset_cache.AssetCache(Model)
    with pytest.raises(asset_cache.InvalidJsonError):
        c.add(Model(id="nan", n=float("nan")))
    assert c.get("nan") is None and not os.path.exists(".cache/model.json")


def test_a_new_object_loads_assets_with_from_dict(impl, workdir):
    # checked: returning the raw dict (no from_dict) in the drop-in fails isinstance.
    impl.AssetCache(Model).add(Model(id="m1", name="first"))
    c = impl.AssetCache(Model)
    got = c.get("m1")
    assert isinstance(got, Model) and got == Model(id="m1", name="first")
    assert [type(x) for x in c.get_all()] == [Model]


def test_store_data_is_a_mapping_of_id_to_asset(impl, workdir):
    # The SDK's ModelGetterMixin.get reads cache.store.data.get(model_id).
    # checked: a store.data.get returning the stored dict (no from_dict) fails isinstance.
    impl.AssetCache(Model).add_list([Model(id="m1", n=1), Model(id="m2", n=2)])
    c = impl.AssetCache(Model)
    data = c.store.data
    assert isinstance(data.get("m2"), Model) and data.get("m2").n == 2
    assert data.get("zz") is None
    assert "m1" in data and "zz" not in data
    assert len(data) == 2 and list(data) == ["m1", "m2"]
    assert data["m1"] == Model(id="m1", n=1)
    with pytest.raises(KeyError):
        data["zz"]
    assert abs(c.store.expiry - read_file()["expiry"]) < 1e-3


def test_add_keeps_the_expiry_of_a_live_store(impl, workdir):
    # checked: a fresh expiry on every add fails the equality.
    c = impl.AssetCache(Model)
    c.add(Model(id="m1"))
    first = read_file()["expiry"]
    time.sleep(0.05)
    c.add(Model(id="m2"))
    assert read_file()["expiry"] == first


def test_add_replaces_an_asset_with_the_same_id(impl, workdir):
    # checked: keeping the first record of an id in the library fails this.
    c = impl.AssetCache(Model)
    c.add(Model(id="m1", v=1))
    c.add(Model(id="m1", v=2))
    assert fields(c.get("m1"))["v"] == 2
    assert fields(impl.AssetCache(Model).get("m1"))["v"] == 2
    assert [fields(x)["v"] for x in impl.AssetCache(Model).get_all()] == [2]


def test_add_list_replaces_everything_last_of_equal_ids_wins(impl, workdir):
    # checked: add_list merging instead of replacing fails the id list.
    c = impl.AssetCache(Model)
    c.add(Model(id="old"))
    c.add_list([Model(id="b", v=1), Model(id="a", v=2), Model(id="b", v=3)])
    assert c.get("old") is None
    assert [(fields(x)["id"], fields(x)["v"]) for x in c.get_all()] == [("b", 3), ("a", 2)]
    assert list(read_file()["data"]) == ["b", "a"]
    reloaded = impl.AssetCache(Model).get_all()
    assert [(x.id, x.v) for x in reloaded] == [("b", 3), ("a", 2)]


def test_get_all_keeps_insertion_order(impl, workdir):
    # checked: sorting ids in get_all fails this (z before a).
    c = impl.AssetCache(Model)
    for i in ["z", "a", "m"]:
        c.add(Model(id=i))
    assert [fields(x)["id"] for x in c.get_all()] == ["z", "a", "m"]
    assert [x.id for x in impl.AssetCache(Model).get_all()] == ["z", "a", "m"]


def test_get_and_get_all_read_memory_until_load(impl, workdir):
    # Another object's (process's) add is seen after load(), as documented.
    # checked: a load() that does not reread the file fails the last assertion.
    a = impl.AssetCache(Model)
    a.add(Model(id="m1"))
    b = impl.AssetCache(Model)
    a.add(Model(id="m2"))
    assert b.get("m2") is None
    b.load()
    assert fields(b.get("m2"))["id"] == "m2"


def test_get_returns_the_same_stored_object_until_memory_changes(impl, workdir):
    # The released original returns the object in its store.data dict: the
    # same one on every get and in get_all, until load() replaces the dict.
    # The drop-in follows it (copies=True gives the development branch's
    # copies). checked: building a new object on every get (no memo) fails
    # the first `is`; a memo kept across load() fails the `is not` and the
    # name after the other object's add.
    AssetCache = impl.AssetCache
    AssetCache(Model).add_list([Model(id="m1", name="one"), Model(id="m2")])
    c = AssetCache(Model)
    first = c.get("m1")
    assert first is c.get("m1") is c.store.data.get("m1") is c.store.data["m1"]
    assert [x for x in c.get_all() if fields(x)["id"] == "m1"][0] is first
    AssetCache(Model).add(Model(id="m1", name="uno"))  # another process's write
    assert c.get("m1") is first  # memory, until load
    c.load()
    assert c.get("m1") is not first and fields(c.get("m1"))["name"] == "uno"


# -- save, load, invalidate ---------------------------------------------------------


def test_save_writes_the_documented_format(impl, workdir):
    # {"expiry": <number>, "data": {<id>: <asset>}}; checked: writing the data
    # as a list in the library fails the shape assertions.
    c = impl.AssetCache(Model)
    c.add(Model(id="m1", name="é ü 漢", nested={"k": [1, 2.5, None, True]}))
    c.save()
    doc = read_file()
    assert isinstance(doc["expiry"], (int, float)) and doc["expiry"] > time.time()
    assert doc["data"] == {"m1": {"id": "m1", "name": "é ü 漢", "nested": {"k": [1, 2.5, None, True]}}}


def test_a_corrupt_file_gives_an_empty_store(impl, workdir, caplog):
    # The original deletes a file it cannot parse; the drop-in moves it aside
    # to <name>.json.corrupt. Both start empty and keep working.
    # checked: the drop-in raising from the constructor fails this.
    os.makedirs(".cache")
    with open(".cache/model.json", "w") as f:
        f.write('{"expiry": 1e20, "data": {"m1": ')
    c = impl.AssetCache(Model)
    assert c.get_all() == [] and c.has_valid_cache() is False
    c.add(Model(id="m2"))
    assert list(read_file()["data"]) == ["m2"]
    if impl.name == "dropin":
        assert os.path.exists(".cache/model.json.corrupt")


def test_invalidate_empties_and_deletes_the_file(impl, workdir):
    # DIFFERENCE: the original also deletes the lock file (two processes can
    # then hold "the" lock at once); the drop-in keeps it.
    # checked: deleting the lock file in the library's invalidate fails the dropin case.
    c = impl.AssetCache(Model)
    c.add(Model(id="m1"))
    before = c.store.expiry
    time.sleep(0.05)
    c.invalidate()
    assert c.get("m1") is None and c.get_all() == [] and not c.has_valid_cache()
    assert not os.path.exists(".cache/model.json")
    assert c.store.expiry > before
    assert os.path.exists(".cache/model.lock") == (impl.name == "dropin")


def test_load_of_a_missing_file_gives_an_empty_store(impl, workdir):
    # checked: a drop-in load() that keeps memory when the file is gone fails this.
    c = impl.AssetCache(Model)
    c.add(Model(id="m1"))
    os.remove(".cache/model.json")
    c.load()
    assert c.get("m1") is None and c.get_all() == []


# -- serialize ----------------------------------------------------------------------


class WithToDict:
    def __init__(self, v):
        self.v = v

    def to_dict(self):
        return {"via": "to_dict", "v": self.v}


class Plain:
    def __init__(self):
        self.a = 1
        self.b = (2, 3)


class Slotted:
    __slots__ = ("x",)

    def __str__(self):
        return "slotted!"


def test_serialize_matches_the_original(original):
    # checked: dropping the str() of dict keys in serialize fails this.
    values = [
        None, True, 3, 2.5, "s",
        [1, (2, 3)], {1: "one", "two": {2}},
        WithToDict(WithToDict(1)), Plain(), Slotted(),
        {"deep": [Plain(), WithToDict([Plain()])]},
    ]
    for v in values:
        assert asset_cache.serialize(v) == original.serialize(v), v


def test_assets_are_written_through_serialize(impl, workdir):
    # to_dict, __dict__ and str fallbacks inside an asset, as the original
    # writes them. checked: json.dumps(default=str) instead of serialize fails this.
    c = impl.AssetCache(Model)
    c.add(Model(id="m1", a=WithToDict(7), b=Plain(), c=Slotted(), d={3: {1, 2}}))
    assert read_file()["data"]["m1"] == {
        "id": "m1",
        "a": {"via": "to_dict", "v": 7},
        "b": {"a": 1, "b": [2, 3]},
        "c": "slotted!",
        "d": {"3": [1, 2]},
    }


# -- one cache, both implementations -------------------------------------------------


def test_each_reads_what_the_other_wrote(original, workdir):
    # checked: the library rejecting the original's indent-4 file fails the first half.
    original.AssetCache(Model).add(Model(id="py", n=1))
    d = asset_cache.AssetCache(Model)
    assert d.get("py") == Model(id="py", n=1)
    d.add(Model(id="native", n=2))
    o = original.AssetCache(Model)
    assert [(x.id, x.n) for x in o.get_all()] == [("py", 1), ("native", 2)]
