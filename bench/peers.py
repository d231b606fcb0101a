"""The peer workloads in Python: the aiXplain original and diskcache.

    python peers.py original|diskcache N DATA.jsonl DIR     all workloads
    python peers.py original|diskcache procs DATA.jsonl DIR 4 processes x 250 adds

Prints the same lines as the Rust and C harness,
impl<TAB>op<TAB>N<TAB>value<TAB>unit, medians of PEER_REPS runs (default 3).
The original's module is imported from PEER_PYORIG (a folder holding the
asset_cache.py taken from the aixplain 0.2.48 wheel).
"""

import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time

REPS = max(1, int(os.environ.get("PEER_REPS", "3")))
# Gets per measurement: enough to last well over the clock's resolution.
GETS = int(os.environ.get("PEER_GETS", "200000"))


def report(impl, op, n, value, unit):
    print(f"{impl}\t{op}\t{n}\t{value:.6f}\t{unit}", flush=True)


def read_data(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def fresh_dir(path):
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


# ---- the Python original ----


class Model:
    """An aiXplain-like asset: the original stores `asset.__dict__` on add and
    rebuilds assets with `cls.from_dict` on load."""

    def __init__(self, d):
        self.__dict__.update(d)

    @classmethod
    def from_dict(cls, d):
        return cls(d)


def original_module():
    sys.path.insert(0, os.environ["PEER_PYORIG"])
    import asset_cache  # noqa: E402  (the extracted original)

    return asset_cache


class Original:
    name = "python-original"

    def __init__(self, root):
        self.mod = original_module()
        # The original always works in ./.cache.
        os.chdir(root)

    def open(self):
        return self.mod.AssetCache(Model, cache_filename="model")

    def add_list(self, cache, assets):
        cache.add_list([Model(a) for a in assets])

    def prepare(self, a):
        return Model(a)

    def add(self, cache, prepared):
        cache.add(prepared)

    def get(self, cache, key):
        return cache.get(key)

    def get_all(self, cache):
        return cache.get_all()

    def length(self, cache):
        return len(cache.store.data)

    def file_size(self, root):
        return os.path.getsize(os.path.join(root, ".cache", "model.json"))


class Disk:
    name = "diskcache"

    def __init__(self, root):
        import diskcache

        self.diskcache = diskcache
        self.root = os.path.join(root, "dc")

    def open(self):
        return self.diskcache.Cache(self.root)

    def add_list(self, cache, assets):
        # Replace all, in one transaction: diskcache's fastest way.
        with cache.transact():
            cache.clear()
            for a in assets:
                cache.set(a["id"], a)

    def prepare(self, a):
        return a

    def add(self, cache, a):
        cache.set(a["id"], a)

    def get(self, cache, key):
        return cache.get(key)

    def get_all(self, cache):
        return [cache.get(k) for k in cache.iterkeys()]

    def length(self, cache):
        return len(cache)

    def file_size(self, root):
        return sum(
            os.path.getsize(os.path.join(self.root, f)) for f in os.listdir(self.root)
        )


IMPLS = {"original": Original, "diskcache": Disk}


def run(kind, n, data_path, root):
    fresh_dir(root)
    data = read_data(data_path)
    impl = IMPLS[kind](root)
    base, extra = data[:n], data[n:]

    cache = impl.open()
    report(impl.name, "add_list", n, statistics.median(
        timed(lambda: impl.add_list(cache, base)) for _ in range(REPS)), "s")
    del cache

    opens = []
    for _ in range(REPS):
        t = time.perf_counter()
        cache = impl.open()
        opens.append(time.perf_counter() - t)
        assert impl.length(cache) == n, (impl.length(cache), n)
        del cache
    report(impl.name, "open", n, statistics.median(opens), "s")

    cache = impl.open()
    adds = []
    for i in range(REPS):
        p = impl.prepare(extra[i])
        adds.append(timed(lambda: impl.add(cache, p)))
    report(impl.name, "add one", n, statistics.median(adds), "s")

    rng = random.Random(1)
    keys = [base[rng.randrange(n)]["id"] for _ in range(GETS)]

    def gets():
        for k in keys:
            impl.get(cache, k)

    rates = [GETS / timed(gets) for _ in range(REPS)]
    report(impl.name, "get, 1 thread", n, statistics.median(rates), "ops/s")
    report(impl.name, "get_all", n, statistics.median(
        timed(lambda: impl.get_all(cache)) for _ in range(REPS)), "s")
    del cache

    peaks = []
    for _ in range(REPS):
        out = subprocess.run(
            [sys.executable, __file__, kind, "rss", data_path, root],
            check=True, capture_output=True, text=True).stdout
        peaks.append(int(out.split()[0]) * 1024)
    report(impl.name, "peak RSS", n, statistics.median(peaks), "bytes")
    report(impl.name, "peak RSS / file size", n,
           statistics.median(peaks) / impl.file_size(root), "x")


def child_rss(kind, root):
    impl = IMPLS[kind](root)
    cache = impl.open()
    # A lazy store (diskcache) holds nothing until read; reading every asset
    # once makes the figure comparable with stores that load at open.
    impl.get_all(cache)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def child_adder(kind, data_path, root, first, count):
    data = read_data(data_path)[first:first + count]
    impl = IMPLS[kind](root)
    cache = impl.open()
    for a in data:
        impl.add(cache, impl.prepare(a))


def procs(kind, data_path, root):
    walls, kept = [], []
    for _ in range(REPS):
        fresh_dir(root)
        t = time.perf_counter()
        children = [
            subprocess.Popen([sys.executable, __file__, kind, "adder", data_path,
                              root, str(p * 250), "250"])
            for p in range(4)
        ]
        for c in children:
            if c.wait() != 0:
                sys.exit(f"adder failed: {c.returncode}")
        walls.append(time.perf_counter() - t)
        impl = IMPLS[kind](root)
        kept.append(impl.length(impl.open()))
    name = IMPLS[kind].name
    report(name, "4 procs x 250 adds", 1000, statistics.median(walls), "s")
    report(name, "4 procs x 250 adds: kept (min)", 1000, min(kept), "assets")


def main(argv):
    kind, what = argv[1], argv[2]
    if what == "rss":
        child_rss(kind, argv[4])
    elif what == "adder":
        child_adder(kind, argv[3], argv[4], int(argv[5]), int(argv[6]))
    elif what == "procs":
        procs(kind, argv[3], argv[4])
    else:
        run(kind, int(what), argv[3], argv[4])


if __name__ == "__main__":
    main(sys.argv)
