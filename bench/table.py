"""Turns harness lines (impl<TAB>op<TAB>N<TAB>value<TAB>unit) into one
markdown table: ours, each peer, the physical limit, and the ratios.

    python3 bench/table.py RESULTS.tsv [MORE.tsv ...]

With several files (several runs), each figure is the median of its values
across the runs (each value being already a median of repetitions).

Ratios are always "how many times better ours is": peer time / our time for
durations, our rate / peer rate for throughputs, peer bytes / our bytes for
memory. For the limit column the ratio is ours / limit ("x slower than just
touching the bytes"), or limit / ours for rates.
"""

import statistics
import sys

PEERS = ["python-original", "diskcache", "flat-cache", "lmdb", "sqlite"]
# Which limit line bounds each of our operations.
LIMITS = {
    "open": "open: read + serde_json validate",
    "add_list": "add_list: write the file once",
    "add one": "add: pwrite one record",
    # The gets pick uniformly random ids: the floor is copying a random asset
    # (at 100k that is a trip to DRAM), not one that stays in the L1 cache.
    "get, 1 thread": "get: malloc + memcpy a random 1 KB asset",
    "get_all": "get_all: memcpy of the JSON",
}
ORDER = [
    "open", "add one", "add_list", "get, 1 thread", "get, 2 threads",
    "get, 4 threads", "get_all", "peak RSS", "peak RSS / file size",
    "4 procs x 250 adds", "4 procs x 250 adds: kept (min)",
]


def fmt(value, unit):
    if unit == "s":
        if value >= 1:
            return f"{value:.2f} s"
        if value >= 1e-3:
            return f"{value * 1e3:.1f} ms"
        return f"{value * 1e6:.1f} us"
    if unit == "ops/s":
        return f"{value / 1e6:.2f} M/s" if value >= 1e6 else f"{value / 1e3:.1f} k/s"
    if unit == "bytes":
        return f"{value / 2**20:.1f} MiB"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:g}"


def better_ratio(ours, other, unit):
    """How many times better `ours` is than `other`."""
    if unit in ("s", "bytes", "x"):
        return other / ours if ours else float("inf")
    return ours / other if other else float("inf")


def main(paths):
    runs = {}
    for path in paths:
        for line in open(path):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5:
                continue
            impl, op, n, value, unit = parts
            runs.setdefault((impl, op, int(n)), ([], unit))[0].append(float(value))
    vals = {k: (statistics.median(v), unit) for k, (v, unit) in runs.items()}

    ns = sorted({n for (_, _, n) in vals})
    peers = [p for p in PEERS if any(k[0] == p for k in vals)]
    head = ["operation", "N", "ours (C ABI)"] + peers + ["physical limit"]
    head += [f"{p} / ours" for p in peers] + ["ours / limit"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for op in ORDER:
        for n in ns:
            if ("ours", op, n) not in vals:
                continue
            ours, unit = vals[("ours", op, n)]
            row = [op, f"{n:,}", fmt(ours, unit)]
            ratios = []
            for p in peers:
                v = vals.get((p, op, n))
                row.append(fmt(*v) if v else "")
                if v and "kept" not in op:
                    ratios.append(f"{better_ratio(ours, v[0], unit):.1f}x")
                else:
                    ratios.append("")
            lim = vals.get(("limit", LIMITS.get(op, ""), n))
            row.append(fmt(*lim) if lim else "")
            row += ratios
            if lim:
                r = ours / lim[0] if unit == "s" else lim[0] / ours
                row.append(f"{r:.2f}x")
            else:
                row.append("")
            print("| " + " | ".join(row) + " |")
    redis_table(vals, ns)
    flight_table(vals)
    # The Rust API (no C boundary) and the file sizes, for reference.
    extra = [k for k in vals if k[0] in ("rust",) or k[1] == "file size"]
    if extra:
        print()
        print("| reference | N | value |")
        print("|---|---|---|")
        for k in sorted(extra, key=lambda k: (k[0], k[1], k[2])):
            print(f"| {k[0]}: {k[1]} | {k[2]:,} | {fmt(*vals[k])} |")


# Our Redis backend's operations, each beside the plain client's way of doing
# the same (issue 13's targets: get >= 20x a HGET round trip, since ours is
# served from memory; add within 1.5x of one plain atomic write).
REDIS_PEERS = {
    "open": ("open: HSCAN everything", ""),
    "add_list": ("add_list: HSET, pipelined by 1000", ""),
    "add one": ("add one: HSET", "plain / ours >= 0.67x (ours within 1.5x)"),
    "get, 1 thread": ("get: HGET", ">= 20x"),
}


def redis_table(vals, ns):
    rows = [(op, n) for op in REDIS_PEERS for n in ns if ("redis", op, n) in vals]
    if not rows:
        return
    print()
    print("| on Redis | N | ours | plain client | plain / ours | target |")
    print("|---|---|---|---|---|---|")
    for op, n in rows:
        ours, unit = vals[("redis", op, n)]
        peer_op, target = REDIS_PEERS[op]
        peer = vals.get(("redis-plain", peer_op, n))
        ratio = f"{better_ratio(ours, peer[0], unit):.2f}x" if peer else ""
        print(f"| {op} | {n:,} | {fmt(ours, unit)} | {peer_op}: "
              f"{fmt(*peer) if peer else ''} | {ratio} | {target} |")


FLIGHT = [
    ("flight-file", "file backend (8 handles on one folder)"),
    ("flight-redis", "Redis backend (8 handles, own connections)"),
    ("flight-plain", "plain Redis client: HGET, on a miss fetch + HSET"),
]


def flight_table(vals):
    """Cross-host single-flight (bench flight): wall time and fetches."""
    rows = []
    for imp, label in FLIGHT:
        for k, (v, unit) in vals.items():
            if k[0] == imp and k[1].endswith(": wall"):
                fetches = next((fv for fk, (fv, _) in vals.items()
                                if fk[0] == imp and fk[1] == k[1][:-len("wall")] + "fetches"), None)
                rows.append((label, k[1][:-len(": wall")], fmt(v, unit), fetches))
    if not rows:
        return
    print()
    print("| single-flight | workload | wall time | fetches |")
    print("|---|---|---|---|")
    for label, op, wall, fetches in rows:
        f = f"{fetches:g}" if fetches is not None else ""
        print(f"| {label} | {op} | {wall} | {f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
