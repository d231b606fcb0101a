"""A writer process for the concurrency test.

    worker.py original|dropin NAME PREFIX COUNT GO

Waits for the file GO to appear (so that all writers start together), then
adds COUNT assets in the SDK's pattern: a new AssetCache(Model) for every
operation, as ModelGetterMixin.get builds one per call, then `add`.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from assets import Model, original_module  # noqa: E402


def implementation(kind):
    if kind == "original":
        return original_module().AssetCache
    if kind == "dropin":
        import asset_cache

        return asset_cache.AssetCache
    raise SystemExit(f"unknown implementation {kind}")


def main(argv):
    kind, name, prefix, count, go = argv[1], argv[2], argv[3], int(argv[4]), argv[5]
    AssetCache = implementation(kind)
    while not os.path.exists(go):
        time.sleep(0.001)
    for i in range(count):
        cache = AssetCache(Model, cache_filename=name)
        cache.add(Model(id=f"{prefix}-{i}", n=i, writer=prefix, pad="x" * (i % 50)))


if __name__ == "__main__":
    main(sys.argv)
