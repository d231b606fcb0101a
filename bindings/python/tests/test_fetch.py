"""`Cache`'s 0.2 calls: options through the options object, single-flight
get_or_fetch / refresh_all on fetch claims, remove, contains, ids, add_many,
add_with_key. How each was checked to fail: noted per test ("checked:"),
each break run once against this file.
"""

import os
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from asset_cache import Cache, InvalidArgumentError, MissingIdError
from asset_cache import StaleAsset, StaleAssets


def test_options_reach_the_library(tmp_path):
    # checked: dropping the file_mode / max_entries setter calls in Cache()
    # fails the mode and the ids assertions.
    folder = tmp_path / "new" / "sub"
    with Cache.open("opts", folder, file_mode=0o640, dir_mode=0o750, max_entries=2) as c:
        c.add({"id": "a"})
        c.add({"id": "b"})
        c.add({"id": "c"})
        assert c.ids() == ["b", "c"]
    assert stat.S_IMODE(os.stat(folder / "opts.json").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o750


def test_bad_options_are_refused_by_name(tmp_path):
    # checked: not passing file_mode to its setter opens the cache instead.
    # (Not checking the setter's status still fails: the library's open
    # reports a failed setter, as the header promises.)
    with pytest.raises(InvalidArgumentError):
        Cache("bad", tmp_path, file_mode=0o400)  # the owner cannot write
    with pytest.raises(TypeError, match="max_staleness_ms"):
        Cache("bad", tmp_path, max_staleness_ms=1.5)  # type: ignore[arg-type]
    assert not os.path.exists(tmp_path / "bad.json")


def test_max_staleness_ms_zero_sees_other_writers(tmp_path):
    # checked: without max_staleness_ms=0 the reader's get is None.
    with Cache("fresh", tmp_path, max_staleness_ms=0) as reader, Cache("fresh", tmp_path) as writer:
        assert reader.get("x") is None
        writer.add({"id": "x", "v": 1})
        assert reader.get("x") == {"id": "x", "v": 1}


def test_remove_contains_ids_add_many_add_with_key(tmp_path):
    # checked: add_many calling add_list loses "a"; remove ignoring
    # out_removed returns False for a cached id.
    with Cache("calls", tmp_path) as c:
        c.add({"id": "a", "v": 0})
        c.add_many([{"id": "b", "v": 1}, {"id": "c", "v": 2}])
        assert c.ids() == ["a", "b", "c"]
        c.add_with_key("slug-b", {"id": "b", "v": 1})
        assert c.get("slug-b") == {"id": "b", "v": 1}
        assert c.contains("slug-b") and "a" in c and "zz" not in c and 5 not in c
        assert c.remove("a") is True
        assert c.remove("a") is False
        assert c.get("a") is None and "a" not in c
        assert c.ids() == ["b", "c", "slug-b"]
        with pytest.raises(MissingIdError):
            c.add_many([{"id": "d"}, {"v": 1}])
        with pytest.raises(MissingIdError):
            c.add_with_key("", {"id": "e"})
        assert c.ids() == ["b", "c", "slug-b"]
    with Cache("calls", tmp_path) as again:
        assert again.get("a") is None and again.ids() == ["b", "c", "slug-b"]


def test_get_or_fetch_fetches_once_then_reads(tmp_path):
    # checked: skipping claim_complete makes the second call fetch again.
    calls = []

    def fetch(id):
        calls.append(id)
        return {"id": id, "name": f"n-{id}"}

    with Cache("gof", tmp_path) as c:
        assert c.get_or_fetch("m1", fetch) == {"id": "m1", "name": "n-m1"}
        assert c.get_or_fetch("m1", fetch) == {"id": "m1", "name": "n-m1"}
        assert calls == ["m1"]
        assert c.get("m1") == {"id": "m1", "name": "n-m1"}


def test_failing_fetch_raises_and_stores_nothing(tmp_path):
    # checked: swallowing the exception after claim_fail makes pytest.raises fail.
    class Boom(RuntimeError):
        pass

    def fetch(id):
        raise Boom(f"service down for {id}")

    with Cache("fail", tmp_path) as c:
        with pytest.raises(Boom, match="service down for m1"):
            c.get_or_fetch("m1", fetch)
        assert c.get("m1") is None and c.ids() == []
        # The claim was released: the next caller fetches.
        assert c.get_or_fetch("m1", lambda i: {"id": i}) == {"id": "m1"}
        with pytest.raises(MissingIdError):
            c.get_or_fetch("m2", lambda i: {"no": "id"})
        with pytest.raises(TypeError):
            c.get_or_fetch("m3", lambda i: ["not", "a", "mapping"])  # type: ignore[arg-type,return-value]
        assert c.ids() == ["m1"]


def test_stale_if_error_returns_a_marked_stale_asset(tmp_path):
    # checked: without stale_if_error_ms the fetch's exception is raised instead.
    with Cache("stale", tmp_path, ttl_seconds=1, stale_if_error_ms=60_000) as c:
        c.add({"id": "m1", "v": "old"})
        assert c.refresh_all(lambda: []) == [{"id": "m1", "v": "old"}]
        time.sleep(2.2)  # the store expires (whole seconds)

        def fetch(id):
            raise ConnectionError("offline")

        got = c.get_or_fetch("m1", fetch)
        assert isinstance(got, StaleAsset) and got == {"id": "m1", "v": "old"}
        assert isinstance(got.error, ConnectionError)
        all_ = c.refresh_all(lambda: (_ for _ in ()).throw(ConnectionError("offline")))
        assert isinstance(all_, StaleAssets) and all_ == [{"id": "m1", "v": "old"}]
        fresh = c.get_or_fetch("m1", lambda i: {"id": i, "v": "new"})
        assert not isinstance(fresh, StaleAsset) and fresh == {"id": "m1", "v": "new"}


def test_refresh_all_fetches_once(tmp_path):
    # checked: refresh_all calling fetch_all whatever begin_refresh_all says fails the count.
    calls = []

    def fetch_all():
        calls.append(1)
        return [{"id": "a"}, {"id": "b"}]

    with Cache("all", tmp_path) as c:
        assert c.refresh_all(fetch_all) == [{"id": "a"}, {"id": "b"}]
        assert c.refresh_all(fetch_all) == [{"id": "a"}, {"id": "b"}]
        assert len(calls) == 1 and c.ids() == ["a", "b"]
        with pytest.raises(TypeError, match="wait_ms"):
            c.refresh_all(fetch_all, wait_ms=True)


WORKER = textwrap.dedent(
    """
    import os, sys, time
    from asset_cache import Cache
    folder, counter, go, seed = sys.argv[1:5]
    while not os.path.exists(go):
        time.sleep(0.005)
    def fetch(id):
        with open(counter, "a") as f:
            f.write(id + "\\n")
        time.sleep(0.05)  # a slow service: the others must wait, not fetch
        return {"id": id, "by": seed}
    ids = [f"m{i}" for i in range(10)]
    if int(seed) % 2:
        ids.reverse()
    with Cache("fleet", folder) as c:
        for id in ids:
            assert c.get_or_fetch(id, fetch)["id"] == id
    """
)


def test_get_or_fetch_is_single_flight_across_processes(tmp_path):
    # checked: get_or_fetch as get + fetch + add (no claim) counts 20-40 fetches.
    counter, go = tmp_path / "fetches.txt", tmp_path / "go"
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path), str(counter), str(go), str(n)])
        for n in range(4)
    ]
    time.sleep(1.0)
    go.touch()
    for p in procs:
        assert p.wait(timeout=120) == 0
    lines = counter.read_text().split()
    assert sorted(lines) == sorted(f"m{i}" for i in range(10))
    with Cache("fleet", tmp_path) as c:
        assert sorted(c.ids()) == sorted(f"m{i}" for i in range(10))
