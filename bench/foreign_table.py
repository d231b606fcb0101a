"""The table of issue 11's targets from the lines of scripts/bench-foreign.sh
(one or more result files: with several, each figure is the median across
them). Prints Markdown, ready to paste into BENCHMARKS.md."""

import statistics
import sys
from collections import defaultdict

vals = defaultdict(list)
for path in sys.argv[1:]:
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 5:
                impl, op, n, value, _unit = parts
                vals[(impl, op, int(n))].append(float(value))


def v(impl, op, n):
    xs = vals.get((impl, op, n))
    return statistics.median(xs) if xs else None


def t(s):
    if s is None:
        return "-"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} us"


def rate(r):
    return "-" if r is None else f"{r / 1e6:.2f} M/s"


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def x(r):
    return "-" if r is None else f"{r:.2f}x"


ns = sorted({n for (_, _, n) in vals})
rows = []
for n in ns:
    py_open = v("ours", "open, Python-written file", n)
    rows.append((
        "1. open a Python-written file vs the original's construct", n,
        t(py_open), t(v("python-original", "open, Python-written file", n)),
        x(ratio(v("python-original", "open, Python-written file", n), py_open)), ">= 20x"))
    rows.append((
        "1. open a Python-written file vs our layout (time ratio)", n,
        t(py_open), t(v("ours", "open, our layout", n)),
        x(ratio(py_open, v("ours", "open, our layout", n))), "<= 1.5x"))
    for k, label in ((1, "1 thread"), (2, "2 threads"), (4, "4 threads")):
        g = v("ours", f"get, {label}, Python-written file", n)
        rows.append((
            f"2. get, {label}, C ABI, Python-written file (vs our layout)", n,
            rate(g), rate(v("ours", f"get, {label}, our layout", n)),
            x(ratio(g, v("ours", f"get, {label}, our layout", n))),
            ">= 2 M/s" if k == 1 else "more with threads"))
    add = v("ours", "add after a Python rewrite", n)
    floor = v("limit", "Python-written file: from_slice::<IgnoredAny>", n)
    rows.append((
        "3. add after a Python rewrite vs from_slice::<IgnoredAny> (time ratio)", n,
        t(add), t(floor), x(ratio(add, floor)), "<= 2x"))
    copies = v("ours", "add after a Python rewrite: splices by copy (of reps)", n)
    rows.append((
        "3. ... of which spliced by copy (the rest in one page)", n,
        "-" if copies is None else f"{copies:.0f}", "", "", ""))
    big = v("ours", "add after a Python rewrite, a 6 KB record (splice by copy)", n)
    rows.append((
        "3. add after a Python rewrite, a 6 KB record (splice by copy + rename) vs from_slice::<IgnoredAny>", n,
        t(big), t(floor), x(ratio(big, floor)), "<= 2x"))
    rows.append((
        "3. the next adds (appends into the reservoir)", n,
        t(v("ours", "add, the next ones (median of 20)", n)), "", "", "cheap"))
    rows.append((
        "6. peak RSS holding a Python-written file / our layout's file size", n,
        f"{(v('ours', 'peak RSS, Python-written file', n) or 0) / 2**20:.1f} MiB",
        f"{(v('ours', 'file size, our layout', n) or 0) / 2**20:.1f} MiB",
        x(v("ours", "peak RSS, Python-written file / our layout's file size", n)), "<= 1.5x"))
    rows.append((
        "4. our compactor alone over the Python-written file (Rust, in memory)", n,
        t(v("rust", "Python-written file: compact only (in memory)", n)),
        t(floor), x(ratio(v("rust", "Python-written file: compact only (in memory)", n), floor)), ""))

    for tier in ("Avx512", "Ssse3", "Portable"):
        tv = v("rust", f"Python-written file: compact only, {tier} tier", n)
        if tv is not None:
            rows.append((
                f"4. ... the {tier} tier alone", n, t(tv), t(floor), x(ratio(tv, floor)), ""))

print("| target | N | ours | reference | ratio | goal |")
print("|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(str(c) for c in (r[0], f"{r[1]:,}", *r[2:])) + " |")
