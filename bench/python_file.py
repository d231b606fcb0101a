"""Writes ROOT/.cache/model.json holding the first N assets of DATA.jsonl
with the real Python original (aixplain 0.2.48's AssetCache.add_list:
json.dump(..., indent=4)), for issue 11's peak-RSS comparison of a
Python-written file against the same assets in our layout.

    python python_file.py N DATA.jsonl ROOT

Needs PY_ORIGINAL (the original's asset_cache.py, see scripts/python-original.sh).
"""

import json
import os
import sys


class Model:
    def __init__(self, d):
        self.__dict__.update(d)

    @classmethod
    def from_dict(cls, d):
        return cls(d)


def main(n, data, root):
    import importlib.util

    spec = importlib.util.spec_from_file_location("aixplain_asset_cache", os.environ["PY_ORIGINAL"])
    original = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(original)

    assets = []
    with open(data) as f:
        for line in f:
            if len(assets) == n:
                break
            assets.append(Model(json.loads(line)))
    os.makedirs(os.path.join(root, ".cache"), exist_ok=True)
    os.chdir(root)
    original.AssetCache(Model, cache_filename="model").add_list(assets)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    main(int(sys.argv[1]), os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]))
