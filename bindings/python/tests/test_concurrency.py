"""8 processes x 100 adds in the SDK's pattern (a new AssetCache per
operation, then add), all at once on one cache: the drop-in keeps all 800.
The original (aixplain 0.2.48) runs the same load for comparison; its figure
is printed and written to $PY_RESULTS (scripts/test-python.sh reports it),
not asserted: losing updates is its documented defect, not a contract.
"""

import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WRITERS = int(os.environ.get("PY_WRITERS", "8"))
ADDS = int(os.environ.get("PY_ADDS", "100"))


def run_writers(kind, workdir):
    go = os.path.join(workdir, "go")
    procs = [
        subprocess.Popen(
            [sys.executable, os.path.join(HERE, "worker.py"), kind, "model", f"w{w}", str(ADDS), go],
            cwd=workdir,
        )
        for w in range(WRITERS)
    ]
    time.sleep(1.0)  # let every writer import and wait at the barrier
    open(go, "w").close()
    codes = [p.wait(timeout=600) for p in procs]
    path = os.path.join(workdir, ".cache", "model.json")
    if kind == "original" and not os.path.exists(path):
        return {}, sum(1 for c in codes if c != 0)  # its invalidate removed it last
    with open(path) as f:
        data = json.load(f)["data"]
    return data, sum(1 for c in codes if c != 0)


def record(key, value):
    print(f"{key}: {value}")
    path = os.environ.get("PY_RESULTS")
    if path:
        with open(path, "a") as f:
            f.write(f"{key}: {value}\n")


@pytest.mark.parametrize("kind", ["dropin", "original"])
def test_concurrent_adds_in_the_sdk_pattern(kind, tmp_path):
    # checked: making the drop-in's add a load + add_list of its memory (the
    # original's rewrite) loses assets here, as the original does.
    data, crashed = run_writers(kind, str(tmp_path))
    expected = {f"w{w}-{i}" for w in range(WRITERS) for i in range(ADDS)}
    record(f"{kind} kept of {len(expected)} concurrent adds", len(set(data) & expected))
    # The original's workers may die of its own races (its invalidate
    # deletes the lock file another process is about to delete: seen in CI
    # as FileNotFoundError on '.cache/model.lock'): counted, not asserted.
    record(f"{kind} writer processes that died", crashed)
    if kind == "dropin":
        assert crashed == 0
        assert set(data) == expected
        for w in range(WRITERS):
            assert data[f"w{w}-7"] == {"id": f"w{w}-7", "n": 7, "writer": f"w{w}", "pad": "x" * 7}
