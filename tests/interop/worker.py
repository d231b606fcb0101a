"""A writer process for the concurrency tests, using either the library (through
its C ABI) or the Python original. Every writer waits for a `go` file so that
all start together.

    worker.py lib  CWD NAME PREFIX COUNT GO
    worker.py py   CWD NAME PREFIX COUNT GO [atomic]
    worker.py lib-stale CWD NAME PREFIX GO      (opens first, adds once after GO)
    worker.py lib-one CWD NAME ID               (prints "waiting", adds, prints "added")
    worker.py dropin-sdk CWD NAME PREFIX COUNT GO   (our Python drop-in in the SDK's
                                                pattern: a fresh AssetCache per add)
    worker.py py-hold CWD NAME                  (holds the original's FileLock until a line on stdin)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import acache  # noqa: E402
from conftest import Model, load_original  # noqa: E402


def wait_for(path):
    while not os.path.exists(path):
        time.sleep(0.001)


def asset(prefix, i):
    # WORKER_PAD: bytes added to every asset (the fleet test's ~1 KB assets).
    pad = "x" * (i % 50 + int(os.environ.get("WORKER_PAD", "0")))
    return {"id": f"{prefix}-{i}", "n": i, "writer": prefix, "pad": pad}


def main(argv):
    kind, cwd, name = argv[1], argv[2], argv[3]
    os.chdir(cwd)
    if kind == "lib":
        prefix, count, go = argv[4], int(argv[5]), argv[6]
        with acache.Cache(".cache", name, lock_timeout_ms=300_000) as c:
            wait_for(go)
            for i in range(count):
                c.add(asset(prefix, i))
    elif kind == "py":
        prefix, count, go = argv[4], int(argv[5]), argv[6]
        atomic = len(argv) > 7 and argv[7] == "atomic"
        mod = load_original()
        if atomic:
            # One reentrant FileLock object for the whole process, so that a
            # load and the following add form one critical section: a Python
            # writer that never writes a stale snapshot.
            import filelock

            shared = filelock.FileLock(os.path.join(".cache", f"{name}.lock"))
            mod.FileLock = lambda path: shared
        cache = mod.AssetCache(Model, cache_filename=name)
        wait_for(go)
        for i in range(count):
            if atomic:
                with shared:
                    cache.load()
                    cache.add(Model(**asset(prefix, i)))
            else:
                cache.add(Model(**asset(prefix, i)))
    elif kind == "dropin-sdk":
        # bindings/python's drop-in, from the source tree (it loads the
        # library named by ASSET_CACHE_LIB).
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        sys.path.insert(0, os.path.join(root, "bindings", "python", "src"))
        import asset_cache

        prefix, count, go = argv[4], int(argv[5]), argv[6]
        wait_for(go)
        for i in range(count):
            # aixplain 0.2.48's ModelGetterMixin: AssetCache(Model) per call.
            cache = asset_cache.AssetCache(
                Model, cache_filename=name, lock_timeout_ms=300_000, strict=True
            )
            cache.add(Model(**asset(prefix, i)))
    elif kind == "lib-stale":
        prefix, go = argv[4], argv[5]
        with acache.Cache(".cache", name, lock_timeout_ms=300_000) as c:
            print("opened", flush=True)
            wait_for(go)
            c.add({"id": prefix, "writer": prefix})
    elif kind == "lib-one":
        id = argv[4]
        with acache.Cache(".cache", name, lock_timeout_ms=300_000) as c:
            print("waiting", flush=True)
            c.add({"id": id})
            print("added", flush=True)
    elif kind == "py-hold":
        import filelock

        lock = filelock.FileLock(os.path.join(".cache", f"{name}.lock"))
        with lock:
            print("held", flush=True)
            sys.stdin.readline()
        print("released", flush=True)
    else:
        raise SystemExit(f"unknown worker kind {kind}")


if __name__ == "__main__":
    main(sys.argv)
