"""Test 6 of issue 3: the library and the real Python original (aixplain 0.2.48,
aixplain/utils/asset_cache.py) share one cache folder.

How each test was checked to catch what it guards (sabotage in a scratch
clone, never committed):
- format::render_record without the comma before a record: Python's
  json.load fails on the library's file; 5 tests fail, the library->Python
  one among them.
- persist's DataSeed reversing the pairs it read: the Python->library order
  assertions fail (3 tests).
- AssetCache::sync returning early whenever it knows some version of the
  file (never rereading what Python rewrote): the alternating, stale-merge
  and both concurrent tests fail.
- lock::lock_path naming "<name>.lck" (a lock Python never sees): the
  coordinated concurrent test loses assets and the invalidate test sees the
  library write while Python holds the lock.
- lock::acquire without the "still at path" re-check: the invalidate test
  fails (the library takes the deleted lock file's lock and writes while a
  Python process holds the new one).
"""

import json
import os
import subprocess
import sys
import threading
import time

import filelock
import pytest

from acache import Cache
from conftest import HERE, Model, fields

WORKER = os.path.join(HERE, "worker.py")
NAME = "model"


def py_cache(original, name=NAME):
    return original.AssetCache(Model, cache_filename=name)


def file_data(path=".cache/model.json"):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def sample_assets(prefix, n):
    return [
        {
            "id": f"{prefix}{i}",
            "name": f"Model {i} \u00e9\u65e5",
            "i": i,
            "f": i / 3,
            "nested": {"tags": ["a", i, None, True], "deep": {"x": [i, {"y": i}]}},
        }
        for i in range(n)
    ]


def test_python_writes_library_reads_same_assets_in_same_order(original, workdir):
    py = py_cache(original)
    assets = sample_assets("m", 25)
    for a in assets:
        py.add(Model(**a))
    # Re-adding keeps the first position and takes the new value, as in a dict.
    changed = dict(assets[3], name="changed")
    py.add(Model(**changed))
    expected = [fields(x) for x in py.get_all()]
    assert expected[3]["name"] == "changed"

    with Cache(".cache", NAME) as lib:
        assert lib.get_all() == expected
        assert len(lib) == 25
        for a in expected:
            assert json.loads(lib.get_text(a["id"])) == a
        assert lib.expiry() == py.store.expiry

    # add_list replaces everything; of equal ids the last value wins, at the
    # position of the first.
    listed = sample_assets("l", 6) + [dict(sample_assets("l", 2)[1], name="last")]
    py.add_list([Model(**a) for a in listed])
    expected = [fields(x) for x in py.get_all()]
    assert [a["id"] for a in expected] == [f"l{i}" for i in range(6)]
    with Cache(".cache", NAME) as lib:
        assert lib.get_all() == expected
        assert json.loads(lib.get_text("l1"))["name"] == "last"
        assert lib.get_text("m0") is None


def test_library_writes_python_reads_all_values_in_order(original, workdir):
    with Cache(".cache", NAME) as lib:
        for a in sample_assets("a", 10):
            lib.add(a)
        assert [a["id"] for a in fields_all(original)] == [f"a{i}" for i in range(10)]

        lib.add_list(sample_assets("b", 5))
        # Appends after appends, and a re-added id (an appended duplicate record).
        for a in sample_assets("c", 10):
            lib.add(a)
        lib.add(dict(sample_assets("b", 3)[2], name="re-added"))
        expected = lib.get_all()
        assert [a["id"] for a in expected] == [f"b{i}" for i in range(5)] + [
            f"c{i}" for i in range(10)
        ]
        assert expected[2]["name"] == "re-added"
        assert fields_all(original) == expected
        py = py_cache(original)
        assert py.store.expiry == lib.expiry()
        assert py.has_valid_cache()

        # Compaction (save) must keep what Python sees, too.
        lib.save()
        assert fields_all(original) == expected


def test_library_remove_keeps_the_file_readable_by_python(original, workdir):
    # The Python original deletes a file it cannot parse and calls from_dict
    # on every value: a remove must leave a plain file without the asset.
    # Checked to fail: with FileBackend::remove appending a tombstone record
    # ("id": null), Python's load deleted the whole file.
    with Cache(".cache", NAME) as lib:
        lib.add_many(sample_assets("r", 10))
        lib.add(dict(sample_assets("r", 5)[4], name="re-added"))  # a superseded record
        assert [a["id"] for a in fields_all(original)] == [f"r{i}" for i in range(10)]
        assert lib.remove("r4") is True
        assert lib.remove("r0") is True
        assert lib.remove("nope") is False
        want = [f"r{i}" for i in range(1, 10) if i != 4]
        assert lib.ids() == want
        py = py_cache(original)
        assert [x.id for x in py.get_all()] == want
        assert os.path.exists(".cache/model.json"), "Python deleted the file"
        assert list(file_data()["data"]) == want
        # Python writes next (its whole memory): the library sees it, and the
        # removed assets stay removed.
        py.add(Model(**sample_assets("p", 1)[0]))
        lib.load()
        assert lib.ids() == want + ["p0"]
        assert lib.remove("p0") is True
        assert [x.id for x in py_cache(original).get_all()] == want


def fields_all(original):
    return [fields(x) for x in py_cache(original).get_all()]


def test_alternating_writers_round_trip(original, workdir):
    with Cache(".cache", NAME) as lib:
        expected = []
        for round in range(5):
            a = {"id": f"lib{round}", "round": round}
            lib.add(a)
            expected.append(a)
            py = py_cache(original)  # loads the library's file
            p = {"id": f"py{round}", "round": round}
            py.add(Model(**p))  # rewrites it in Python's layout
            expected.append(p)
            lib.load()
            assert lib.get_all() == expected
            assert [fields(x) for x in py.get_all()] == expected


def test_stale_python_write_is_merged_by_the_library(original, workdir):
    with Cache(".cache", NAME) as lib:
        lib.add({"id": "seed"})
        py = py_cache(original)  # memory: seed
        lib.add({"id": "lib1"})
        py.add(Model(id="py1"))  # Python writes its stale snapshot...
        # ...and so drops lib1: the original's known lost update, documented.
        assert list(file_data()["data"]) == ["seed", "py1"]
        # The library's memory still holds lib1, and the file py1; a library
        # write must merge the file, not write its memory over it.
        lib.add({"id": "lib2"})
        assert list(file_data()["data"]) == ["seed", "py1", "lib2"]
        assert [a["id"] for a in lib.get_all()] == ["seed", "py1", "lib2"]


def spawn(*args):
    return subprocess.Popen(
        [sys.executable, WORKER, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(proc, timeout=240):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"worker failed ({proc.args}):\n{out}\n{err}"
    return out


class Monitor(threading.Thread):
    """Parses the file with Python's json under the lock (as the original's
    load does) for as long as the writers run."""

    def __init__(self, path, lock_path):
        super().__init__(daemon=True)
        self.path, self.lock = path, filelock.FileLock(lock_path)
        self.stop = threading.Event()
        self.samples, self.failures = 0, []

    def run(self):
        while not self.stop.is_set():
            with self.lock:
                try:
                    with open(self.path, encoding="utf-8") as f:
                        doc = json.load(f)
                    assert isinstance(doc["data"], dict)
                    assert isinstance(doc["expiry"], (int, float))
                except Exception as e:  # noqa: BLE001: every failure is recorded
                    self.failures.append(repr(e))
                self.samples += 1
            time.sleep(0.002)


N_WRITERS = int(os.environ.get("INTEROP_WRITERS", "3"))
M_ADDS = int(os.environ.get("INTEROP_ADDS", "40"))


def run_concurrent(workdir, atomic_python):
    with Cache(".cache", NAME) as lib:
        lib.add({"id": "seed"})
    go = str(workdir / "go")
    procs = []
    for w in range(N_WRITERS):
        procs.append(spawn("lib", str(workdir), NAME, f"lib{w}", str(M_ADDS), go))
        py_args = ["py", str(workdir), NAME, f"py{w}", str(M_ADDS), go]
        procs.append(spawn(*py_args, *(["atomic"] if atomic_python else [])))
    stale = spawn("lib-stale", str(workdir), NAME, "final-lib", str(workdir / "go-final"))
    assert stale.stdout.readline().strip() == "opened"
    monitor = Monitor(".cache/model.json", ".cache/model.lock")
    monitor.start()
    open(go, "w").close()
    try:
        for p in procs:
            finish(p)
    finally:
        monitor.stop.set()
        monitor.join()
    assert monitor.failures == [], monitor.failures[:3]
    assert monitor.samples > 0
    assert not [f for f in os.listdir(".cache") if "corrupt" in f]
    return stale, monitor


def ids_of(prefix):
    return {f"{prefix}-{i}" for i in range(M_ADDS)}


def test_concurrent_real_original_and_library(workdir):
    stale, monitor = run_concurrent(workdir, atomic_python=False)
    with filelock.FileLock(".cache/model.lock"):
        before = file_data()["data"]
    # The last Python save wrote that process's whole memory, all its adds; the
    # library writes after it merged them. So some Python writer is complete.
    complete = [w for w in range(N_WRITERS) if ids_of(f"py{w}") <= set(before)]
    assert complete, "the library dropped assets of the last Python writer"
    # A library handle whose memory predates every write adds once more: it
    # must keep everything in the file, whoever wrote it.
    open(workdir / "go-final", "w").close()
    finish(stale)
    after = file_data()["data"]
    assert set(before) | {"final-lib"} == set(after)
    assert all(after[k] == v for k, v in before.items())
    kept_py = sum(len(ids_of(f"py{w}") & set(after)) for w in range(N_WRITERS))
    kept_lib = sum(len(ids_of(f"lib{w}") & set(after)) for w in range(N_WRITERS))
    # Not asserted: Python's stale snapshots drop what others wrote before.
    print(
        f"\nreal original: kept {kept_py}/{N_WRITERS * M_ADDS} Python and "
        f"{kept_lib}/{N_WRITERS * M_ADDS} library assets; {monitor.samples} parses"
    )


def test_concurrent_coordinated_python_and_library_lose_nothing(workdir):
    # Python writers that reload inside their lock write no stale snapshot, so
    # nothing may be lost if, and only if, the two lock implementations
    # exclude each other and the library merges what Python wrote.
    stale, _ = run_concurrent(workdir, atomic_python=True)
    open(workdir / "go-final", "w").close()
    finish(stale)
    data = file_data()["data"]
    expected = {"seed", "final-lib"}
    for w in range(N_WRITERS):
        expected |= ids_of(f"py{w}") | ids_of(f"lib{w}")
    assert set(data) == expected
    with Cache(".cache", NAME) as lib:
        assert {a["id"] for a in lib.get_all()} == expected


def test_python_invalidate_deleting_the_lock_file_gives_no_second_holder(original, workdir):
    py = py_cache(original)  # creates the files, as the original's constructor does
    os.remove(".cache/model.json")  # so that opening the library takes no lock
    first = spawn("py-hold", str(workdir), NAME)
    assert first.stdout.readline().strip() == "held"
    waiter = spawn("lib-one", str(workdir), NAME, "from-lib")
    assert waiter.stdout.readline().strip() == "waiting"
    time.sleep(0.3)  # let it block on the lock file `first` holds
    # The original's invalidate deletes the lock file without holding it...
    py.invalidate()
    assert not os.path.exists(".cache/model.lock")
    # ...so a newcomer locks a new lock file.
    second = spawn("py-hold", str(workdir), NAME)
    assert second.stdout.readline().strip() == "held"
    first.stdin.write("\n")
    first.stdin.flush()
    assert finish(first).strip() == "released"
    # The library now gets the deleted file's lock; it must notice that the
    # path names another file and wait for `second` instead of writing.
    time.sleep(1.0)
    assert waiter.poll() is None, "the library wrote while another process held the lock"
    assert not os.path.exists(".cache/model.json")
    second.stdin.write("\n")
    second.stdin.flush()
    assert finish(second).strip() == "released"
    assert finish(waiter).strip().endswith("added")
    assert list(file_data()["data"]) == ["from-lib"]
