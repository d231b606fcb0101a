"""Issue 11's Python side: a cache file written by the real Python original
(aixplain 0.2.48's AssetCache, module from PY_ORIGINAL) and the time of its
construct `AssetCache(Model)` on that file.

    python foreign.py write N DATA.jsonl DIR   DIR/.cache/model.json, N assets
    python foreign.py open N DIR               construct, median of BENCH_REPS

Prints impl<TAB>op<TAB>N<TAB>value<TAB>unit lines, as the other drivers do.
"""

import importlib.util
import json
import os
import statistics
import sys
import time

REPS = max(1, int(os.environ.get("BENCH_REPS", "3")))


class Model:
    """An aiXplain-like asset: the original stores `asset.__dict__` on add and
    rebuilds assets with `cls.from_dict` on load."""

    def __init__(self, d):
        self.__dict__.update(d)

    @classmethod
    def from_dict(cls, d):
        return cls(d)


def original():
    spec = importlib.util.spec_from_file_location("aixplain_asset_cache", os.environ["PY_ORIGINAL"])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main(argv):
    mod = original()
    if argv[1] == "write":
        n, data, root = int(argv[2]), argv[3], argv[4]
        with open(data) as f:
            assets = [Model(json.loads(line)) for _, line in zip(range(n), f)]
        os.makedirs(root, exist_ok=True)
        os.chdir(root)
        # The original always works in ./.cache; start from no file.
        for name in (".cache/model.json", ".cache/model.lock"):
            if os.path.exists(name):
                os.remove(name)
        mod.AssetCache(Model, cache_filename="model").add_list(assets)
    elif argv[1] == "open":
        n, root = int(argv[2]), argv[3]
        os.chdir(root)
        times = []
        for _ in range(REPS):
            t = time.perf_counter()
            c = mod.AssetCache(Model, cache_filename="model")
            times.append(time.perf_counter() - t)
            assert len(c.store.data) == n, len(c.store.data)
            del c
        print(f"python-original\topen, Python-written file\t{n}\t{statistics.median(times):.6f}\ts", flush=True)
    else:
        sys.exit("usage: foreign.py write N DATA.jsonl DIR | open N DIR")


if __name__ == "__main__":
    main(sys.argv)
