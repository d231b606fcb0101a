"""`asset_cache.Cache`: the C API through ctypes, statuses as exceptions.

How each was checked to fail: noted per test ("checked:").
"""

import fcntl
import json
import os
import threading
import time

import pytest

import asset_cache
from asset_cache import Cache, Status


def test_round_trip_and_the_reads(workdir):
    # checked: decoding get_json with latin-1 fails the unicode comparison.
    with Cache("things") as c:
        assert c.get("a") is None and len(c) == 0 and not c.has_valid_cache()
        c.add({"id": "a", "name": "é 漢 😀", "n": [1, 2.5, None]})
        c.add_json('{"id":"b","raw":true}')
        assert c.get("a") == {"id": "a", "name": "é 漢 😀", "n": [1, 2.5, None]}
        assert json.loads(c.get_json("b")) == {"id": "b", "raw": True}
        assert [a["id"] for a in c.get_all()] == ["a", "b"]
        assert json.loads(c.get_all_json())[1]["raw"] is True
        assert len(c) == 2 and c.has_valid_cache() and "a" in c and "zz" not in c
        assert abs(c.expiry() - (time.time() + 86400)) < 5
    with open(".cache/things.json") as f:
        assert set(json.load(f)["data"]) == {"a", "b"}


def test_dir_ttl_and_add_list(tmp_path):
    # checked: ignoring ttl_seconds in Cache() fails the expiry bound.
    with Cache("x", tmp_path / "sub", ttl_seconds=60) as c:
        c.add_list([{"id": "1"}, {"id": "2", "v": 1}, {"id": "2", "v": 2}])
        assert c.get_all() == [{"id": "1"}, {"id": "2", "v": 2}]
        assert time.time() + 50 < c.expiry() < time.time() + 65
    assert os.path.exists(tmp_path / "sub" / "x.json")


def test_load_save_invalidate(workdir):
    # checked: an invalidate that keeps memory fails get() is None.
    a, b = Cache("m"), Cache("m")
    a.add({"id": "1"})
    assert b.get("1") is None
    b.load()
    assert b.get("1") == {"id": "1"}
    b.save()
    a.invalidate()
    assert a.get("1") is None and not os.path.exists(".cache/m.json")
    assert os.path.exists(".cache/m.lock")
    a.close(), b.close()


@pytest.mark.parametrize(
    "call, status, exc, words",
    [
        (lambda c: c.add({"name": "no id"}), Status.MISSING_ID, asset_cache.MissingIdError, "id"),
        (lambda c: c.add({"id": ""}), Status.MISSING_ID, asset_cache.MissingIdError, "id"),
        (lambda c: c.add_json("{not json"), Status.INVALID_JSON, asset_cache.InvalidJsonError, "JSON"),
        (lambda c: c.add_list_json('{"id": "x"}'), Status.INVALID_JSON, asset_cache.InvalidJsonError, "array"),
        (lambda c: c.add_list([{"id": "ok"}, {"nope": 1}]), Status.MISSING_ID, asset_cache.MissingIdError, "1"),
        (lambda c: c.add_json(b'{"id": "\xff"}'), Status.INVALID_UTF8, asset_cache.InvalidUtf8Error, "UTF-8"),
        (lambda c: c.get("a\udc80"), Status.INVALID_UTF8, asset_cache.InvalidUtf8Error, "UTF-8"),
        (lambda c: c.get("a\0b"), Status.INVALID_ARGUMENT, asset_cache.InvalidArgumentError, "NUL"),
    ],
)
def test_bad_input_raises_with_status_and_changes_nothing(workdir, call, status, exc, words):
    # checked: mapping every status to plain CacheError fails the isinstance.
    with Cache("m") as c:
        c.add({"id": "keep"})
        with open(".cache/m.json", "rb") as f:
            before = f.read()
        with pytest.raises(exc) as info:
            call(c)
        assert isinstance(info.value, asset_cache.CacheError)
        assert info.value.status == status and isinstance(info.value.status, Status)
        assert words.lower() in info.value.message.lower(), info.value.message
        assert c.get_all() == [{"id": "keep"}]
        with open(".cache/m.json", "rb") as f:
            assert f.read() == before


@pytest.mark.parametrize("name", ["", "a/b", "..", "x\ty"])
def test_bad_names(workdir, name):
    # checked: a binding that replaces "/" silently fails the raise.
    with pytest.raises(asset_cache.InvalidArgumentError) as info:
        Cache(name)
    assert info.value.status == Status.INVALID_ARGUMENT and info.value.message
    assert not os.path.exists(".cache")


def test_lock_timeout(workdir):
    # Another holder of the lock file (flock, as the original's FileLock and
    # the library take it) makes a write wait, then fail with LOCK_TIMEOUT.
    # checked: lock_timeout_ms not passed to the options makes this wait 30 s and fail the bound.
    with Cache("m", lock_timeout_ms=200) as c:
        c.add({"id": "1"})
        with open(".cache/m.lock", "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            start = time.monotonic()
            with pytest.raises(asset_cache.LockTimeoutError) as info:
                c.add({"id": "2"})
            assert 0.15 < time.monotonic() - start < 5
            assert info.value.status == Status.LOCK_TIMEOUT and isinstance(info.value, TimeoutError)
        c.add({"id": "2"})
        assert [a["id"] for a in c.get_all()] == ["1", "2"]


def test_errors_are_per_thread(workdir):
    # asset_cache_last_error is per thread; ctypes calls run on the calling
    # thread, so each thread sees its own call's message.
    # checked: reading asset_cache_last_error on another thread than the call's
    # (as a binding that runs calls on a worker thread would) fails this.
    c = Cache("m")
    results = {}
    barrier = threading.Barrier(8)

    def worker(i):
        barrier.wait()
        for _ in range(200):
            try:
                if i % 2:  # the first bad element is at index i: the message names it
                    c.add_list_json("[" + '{"id":"ok"},' * i + '{"no":"id"}]')
                else:
                    c.add_json("{bad" + str(i))
            except asset_cache.CacheError as e:
                results.setdefault(i, set()).add((e.status, e.message))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for i, seen in results.items():
        assert len(seen) == 1, seen
        status, message = seen.pop()
        assert status == (Status.MISSING_ID if i % 2 else Status.INVALID_JSON)
        if i % 2:
            assert f"element {i}:" in message, message
        else:
            assert message, i
    assert len(results) == 8
    c.close()


def test_threads_share_one_cache(workdir):
    # One handle, four threads adding and reading at once.
    # checked: making add skip every 10th asset fails the count.
    c = Cache("m")

    def worker(t):
        for i in range(100):
            c.add({"id": f"{t}-{i}"})
            assert c.get(f"{t}-{i}") == {"id": f"{t}-{i}"}

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(c) == 400
    c.close()


def test_closed_cache_raises(workdir):
    # checked: close() without clearing the handle makes get() use freed memory.
    c = Cache("m")
    c.close()
    c.close()  # idempotent
    assert c.closed
    with pytest.raises(asset_cache.InvalidArgumentError, match="closed"):
        c.get("a")


def test_version_and_status_text():
    # checked: a Status enum out of step with the header (IO=7) fails status_str.
    assert asset_cache.version() == asset_cache.__version__
    assert asset_cache.status_str(Status.LOCK_TIMEOUT) == "timed out waiting for the lock"
    assert asset_cache.status_str(Status.IO) == "I/O error"
    assert asset_cache.status_str(999) == "unknown status"


def test_status_enum_matches_the_header():
    # The Python Status is a copy of asset_cache_status: it must not drift.
    # checked: renumbering LOCK_TIMEOUT to 9 in errors.py, or a new status in
    # the header missing here, fails this.
    import re

    checkout = os.environ.get("ASSET_CACHE_CHECKOUT") or os.path.join(os.path.dirname(__file__), "..", "..", "..")
    with open(os.path.join(checkout, "include", "asset_cache.h")) as f:
        header = f.read()
    enum = header[header.index("typedef enum {"): header.index("} asset_cache_status;")]
    in_header = {name: int(n) for name, n in re.findall(r"ASSET_CACHE_([A-Z_0-9]+) = (\d+)", enum)}
    assert in_header == {s.name: s.value for s in Status}
    for s in Status:
        assert asset_cache.status_str(s) != "unknown status"


@pytest.mark.parametrize(
    "call, exc, words",
    [
        (lambda: Cache(None, "d"), TypeError, "name must be a str, got NoneType"),
        (lambda: Cache("m", 5), TypeError, "dir must be a str"),
        (lambda: Cache("m", lock_timeout_ms="x"), TypeError, "lock_timeout_ms must be an int (milliseconds), got str"),
        (lambda: Cache("m", ttl_seconds="60"), TypeError, "ttl_seconds must be a number of seconds or None, got str"),
    ],
)
def test_wrong_argument_types_name_the_parameter(workdir, call, exc, words):
    # checked: without the isinstance checks Cache(None) said "argument of
    # type 'NoneType' is not iterable" and lock_timeout_ms="x" a bare ValueError.
    with pytest.raises(exc) as info:
        call()
    assert words in str(info.value), str(info.value)
    assert not os.path.exists(".cache")


@pytest.mark.parametrize("bad", [None, 5, b"a"])
def test_get_with_a_non_str_id_names_it(workdir, bad):
    # checked: without the isinstance check in _c_text, get(None) said
    # "argument of type 'NoneType' is not iterable".
    with Cache("m") as c:
        with pytest.raises(TypeError) as info:
            c.get(bad)
        assert str(info.value) == f"id must be a str, got {type(bad).__name__}"


@pytest.mark.parametrize("given, got", [("[1,2]", "an array"), ("null", "null"), ('"x"', "a string"), ("7", "a number")])
def test_a_non_object_asset_is_named_plainly(workdir, given, got):
    # checked: with the library's old message ("asset invalid type: sequence,
    # expected a JSON object at line 1 column 0") both asserts fail.
    with Cache("m") as c:
        with pytest.raises(asset_cache.MissingIdError) as info:
            c.add_json(given)
        assert info.value.message == f'asset must be a JSON object with a string "id", got {got}'
        with pytest.raises(asset_cache.MissingIdError) as info:
            c.add_list([{"id": "ok"}, json.loads(given)])
        assert info.value.message == f'element 1: asset must be a JSON object with a string "id", got {got}'


@pytest.mark.parametrize("bad", [{"id": "a"}, "ab", b"ab"])
def test_add_list_refuses_a_mapping_or_str_for_the_list(workdir, bad):
    # checked: without the check, add_list({"id": "a"}) iterated the dict's keys
    # and failed with MISSING_ID on the key "id".
    with Cache("m") as c:
        c.add({"id": "keep"})
        with pytest.raises(TypeError) as info:
            c.add_list(bad)
        assert f"assets must be a list of assets (mappings), got {type(bad).__name__}" == str(info.value)
        assert c.get_all() == [{"id": "keep"}]


@pytest.mark.parametrize("ttl, expected", [(0.5, 1), (1, 1), (1.5, 2), (59.01, 60)])
def test_ttl_is_whole_seconds_a_fraction_rounded_up(workdir, ttl, expected):
    # checked: int(ttl_seconds) (the old truncation) fails 0.5 with
    # INVALID_ARGUMENT "ttl is 0 seconds" and 1.5 with 1 s.
    with Cache("m", ttl_seconds=ttl) as c:
        c.add({"id": "a"})
        before = time.time()
        c.invalidate()  # a fresh expiry: now + ttl
        assert before + expected - 0.5 < c.expiry() < time.time() + expected + 0.5, (ttl, c.expiry() - before)


@pytest.mark.parametrize("ttl", [0, -5, -0.5, float("nan"), float("inf")])
def test_ttl_zero_or_negative_is_refused(workdir, ttl, monkeypatch):
    # checked: passing a negative ttl through (the old int()) opened with
    # CACHE_EXPIRY_TIME's 86400 and failed the raise.
    monkeypatch.delenv("CACHE_EXPIRY_TIME", raising=False)
    with pytest.raises(asset_cache.InvalidArgumentError) as info:
        Cache("m", ttl_seconds=ttl)
    assert info.value.status == Status.INVALID_ARGUMENT and "ttl_seconds" in info.value.message
