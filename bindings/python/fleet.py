# The README's Redis fleet, a Python worker host; tests/redis/bindings/readme_fleet.sh
# runs several at once beside the Go host (bindings/go/example/fleet), and
# the README holds this verbatim (scripts/check-readme.sh).
import os
import sys

import asset_cache

url = os.environ["REDIS_URL"]  # the same on every host, e.g. redis://cache-host:6379/0
worker = sys.argv[1]

# The thin layer: the backend URL on the open call.
with asset_cache.Cache("models", backend_url=url, backend_timeout_ms=2000) as cache:
    cache.add({"id": f"model-{worker}", "added_by": worker})  # on the server when add returns


# The drop-in: backend_url=, or no code change at all for code that builds
# AssetCache(cls) itself (the aiXplain SDK): ASSET_CACHE_BACKEND_URL in its
# environment puts every drop-in AssetCache on the server.
class Model:
    def __init__(self, id, added_by):
        self.id, self.added_by = id, added_by

    @classmethod
    def from_dict(cls, d):
        return cls(**d)


models = asset_cache.AssetCache(Model, "models", backend_url=url)
print(worker, "sees its model:", models.get(f"model-{worker}").added_by == worker)
print(worker, "sees Go's model:", "model-go" in models)
