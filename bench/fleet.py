"""Issue 11, item 5: a mixed fleet on one cache of N assets (default 10,000).

4 Python processes run the SDK's pattern, a fresh ``AssetCache(Model)`` and
then ``add`` for every asset (aixplain 0.2.48's ModelGetterMixin builds the
cache anew on every call), beside 4 native processes of ours (the C driver,
bench/peers_c.c ``fleet-adder``: one long-lived handle each, one
``asset_cache_add`` per asset), all adding new assets to the same cache for
SECONDS. Variants, each on a fresh copy of the same starting file (written
by the real original, indent 4):

* ``original``: the Python processes run the real original (aixplain
  0.2.48's module). Its ``add`` saves the whole store it read at construct,
  so any add made by anyone between its load and its save is erased, ours
  included: the run counts how many of ours and of Python's went missing.
* ``dropin``: the Python processes run our drop-in (``asset_cache``,
  bindings/python) in the same pattern; nothing may be lost. (The assertion
  lives in the interop suite: tests/interop/test_fleet.py.)
* ``original-only``: 8 Python processes running the original, the fleet
  without us: the baseline of the throughput ratio.

    python fleet.py VARIANT N DATA.jsonl ROOT SECONDS PEERS_C

Prints impl<TAB>op<TAB>N<TAB>value<TAB>unit lines (impl ``fleet-VARIANT``):
adds/s of each side (adds that returned, over the side's wall time), the
adds that returned OK, and how many of them are missing from the file at
the end. Needs PY_ORIGINAL (the original's asset_cache.py, see
scripts/python-original.sh) and, for ``dropin``, ``asset_cache`` importable
with ASSET_CACHE_LIB set.
"""

import json
import os
import shutil
import subprocess
import sys
import time

PY_PROCS = 4
NATIVE_PROCS = 4
# Per process: enough never to run out within the time limit, few enough to
# keep the cache near N.
NATIVE_CAP = 2500
PY_CAP = 100000


class Model:
    """An aiXplain-like asset: the original stores `asset.__dict__` on add
    and rebuilds assets with `cls.from_dict` on load."""

    def __init__(self, d):
        self.__dict__.update(d)

    @classmethod
    def from_dict(cls, d):
        return cls(d)


def report(impl, op, n, value, unit):
    print(f"{impl}\t{op}\t{n}\t{value:.6f}\t{unit}", flush=True)


def original_module():
    """The real original, from the file PY_ORIGINAL names (under its own
    module name: ``asset_cache`` is our drop-in's)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("aixplain_asset_cache", os.environ["PY_ORIGINAL"])
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def cache_class(variant):
    if variant.startswith("original"):
        return lambda: original_module().AssetCache(Model, cache_filename="model")
    import asset_cache  # noqa: E402  (ours: bindings/python)

    return lambda: asset_cache.AssetCache(
        Model, cache_filename="model", lock_timeout_ms=120_000, strict=True
    )


def templates(data, first, count=200):
    out = []
    with open(data) as f:
        for i, line in enumerate(f):
            if i >= first:
                out.append(json.loads(line))
            if len(out) == count:
                break
    return out


def worker(variant, root, tag, seconds, data, first, log):
    """One Python process of the fleet (the SDK pattern)."""
    os.chdir(root)
    make = cache_class(variant)
    assets = templates(data, first)
    t0 = time.perf_counter()
    adds = 0
    with open(log, "w") as out:
        while adds < PY_CAP and time.perf_counter() - t0 < seconds:
            d = dict(assets[adds % len(assets)], id=f"{tag}-{adds}")
            make().add(Model(d))
            out.write(d["id"] + "\n")
            out.flush()
            adds += 1
    print(f"{adds} 0 {time.perf_counter() - t0:.6f}", flush=True)


def run(variant, n, data, root, seconds, peers_c):
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, ".cache"))
    # The starting file: N assets written by the real original (indent 4).
    here = os.getcwd()
    os.chdir(root)
    original = original_module()
    seed = [Model(d) for d in templates(data, 0, n)]
    original.AssetCache(Model, cache_filename="model").add_list(seed)
    os.chdir(here)
    del seed

    py_variant = "original" if variant == "original-only" else variant
    py_count = 8 if variant == "original-only" else PY_PROCS
    native_count = 0 if variant == "original-only" else NATIVE_PROCS
    procs = []
    for k in range(py_count):
        log = os.path.join(root, f"py{k}.log")
        cmd = [sys.executable, os.path.abspath(__file__), "worker", py_variant, root,
               f"py{k}", str(seconds), data, str(n), log]
        procs.append(("python", log, subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)))
    for k in range(native_count):
        log = os.path.join(root, f"native{k}.log")
        cmd = [peers_c, "fleet-adder", os.path.join(root, ".cache"), data, str(n),
               str(NATIVE_CAP), str(seconds), log, f"native{k}"]
        procs.append(("native", log, subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)))
    sides = {}
    for side, log, p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise SystemExit(f"fleet: a {side} process failed ({p.returncode})")
        adds, failures, elapsed = out.split()
        s = sides.setdefault(side, {"adds": 0, "failures": 0, "elapsed": 0.0, "ids": []})
        s["adds"] += int(adds)
        s["failures"] += int(failures)
        s["elapsed"] = max(s["elapsed"], float(elapsed))
        with open(log) as f:
            s["ids"] += f.read().split()

    with open(os.path.join(root, ".cache", "model.json")) as f:
        stored = json.load(f)["data"]
    impl = f"fleet-{variant}"
    total = 0.0
    for side in ("native", "python"):
        s = sides.get(side)
        if not s:
            continue
        rate = s["adds"] / s["elapsed"] if s["elapsed"] else 0.0
        total += rate
        lost = sum(1 for i in s["ids"] if i not in stored)
        report(impl, f"{side} adds/s", n, rate, "ops/s")
        report(impl, f"{side} adds OK", n, len(s["ids"]), "assets")
        report(impl, f"{side} adds OK, missing at the end", n, lost, "assets")
        if s["failures"]:
            report(impl, f"{side} adds failed", n, s["failures"], "assets")
    report(impl, "all adds/s", n, total, "ops/s")
    shutil.rmtree(root, ignore_errors=True)


def main(argv):
    if len(argv) == 9 and argv[1] == "worker":
        worker(argv[2], argv[3], argv[4], float(argv[5]), argv[6], int(argv[7]), argv[8])
        return
    if len(argv) == 7:
        run(argv[1], int(argv[2]), os.path.abspath(argv[3]), os.path.abspath(argv[4]),
            float(argv[5]), os.path.abspath(argv[6]))
        return
    raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
