# The README's Python quick start, run by scripts/test-python.sh.
import asset_cache


class Model:
    def __init__(self, id, name):
        self.id, self.name = id, name

    @classmethod
    def from_dict(cls, d):
        return cls(**d)


# The drop-in: the aiXplain SDK's AssetCache, same files (.cache/model.json) and lock.
cache = asset_cache.AssetCache(Model)
cache.add(Model("m1", "first"))  # on disk, merged with other processes' adds
print(cache.get("m1").name, "m1" in cache, cache.has_valid_cache())

# The thin layer: the C API, JSON objects in and out, errors with .status.
with asset_cache.Cache("models", ".cache") as raw:
    raw.add({"id": "m2", "name": "second"})
    print(raw.get("m2"))
    try:
        raw.add({"name": "no id"})
    except asset_cache.CacheError as e:
        print(e.status.name, e.message)
