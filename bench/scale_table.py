"""The table of scripts/bench-scale.sh (issue 11, items 4-7), ready to paste
into BENCHMARKS.md.

    python3 bench/scale_table.py SCALE.tsv [MORE.tsv ...]

Input lines: impl<TAB>op<TAB>N<TAB>value<TAB>unit. A figure given several
times (the fleet runs BENCH_REPS times; several files: several runs) is the
median of its values.
"""

import contextlib
import io
import statistics
import sys


def fmt(value, unit):
    if unit == "s":
        if value >= 1:
            return f"{value:.2f} s"
        if value >= 1e-3:
            return f"{value * 1e3:.1f} ms"
        return f"{value * 1e6:.1f} us"
    if unit == "ops/s":
        if value >= 1e6:
            return f"{value / 1e6:.2f} M/s"
        if value >= 1e3:
            return f"{value / 1e3:.1f} k/s"
        return f"{value:.1f}/s"
    if unit == "bytes":
        return f"{value / 2**20:.1f} MiB"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:g}"


def load(paths):
    runs = {}
    for path in paths:
        for line in open(path):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 5:
                continue
            impl, op, n, value, unit = parts
            runs.setdefault((impl, op, int(n)), ([], unit))[0].append(float(value))
    return {k: (statistics.median(v), unit) for k, (v, unit) in runs.items()}


def add_table(vals):
    ns = sorted({k[2] for k in vals if k[1].startswith("add one, ")})
    if not ns:
        return
    print("| add one (1 KB asset) | N | ours | LMDB | SQLite | ours / LMDB (time) | ours / SQLite (time) | target |")
    print("|---|---|---|---|---|---|---|---|")
    for op, what, target in (
        ("add one, no fsync", "no fsync (ours: default; LMDB: MDB_NOSYNC; SQLite: WAL, synchronous=NORMAL)",
         "<= 1.00x LMDB"),
        ("add one, no fsync, mean with rewrites",
         "no fsync, the mean of 4,000 in a row (ours: whole-file rewrites when the reservoir is full included)",
         "(for reference)"),
        ("add one, fsync", "fsync (ours: durable; LMDB: synced commit; SQLite: WAL, synchronous=FULL)",
         "<= 1.00x LMDB"),
    ):
        for n in ns:
            o, l, s = (vals.get((i, op, n)) for i in ("ours", "lmdb", "sqlite"))
            if not o:
                continue
            cells = [what, f"{n:,}", fmt(*o), fmt(*l) if l else "", fmt(*s) if s else "",
                     f"{o[0] / l[0]:.2f}x" if l else "", f"{o[0] / s[0]:.2f}x" if s else "", target]
            print("| " + " | ".join(cells) + " |")
    floors = sorted(k for k in vals if k[0] == "floor")
    if floors:
        print()
        print("| the system calls alone (bench/add_floor.c, no JSON, no memory) | time of one |")
        print("|---|---|")
        for k in floors:
            print(f"| {k[1]} | {fmt(*vals[k])} |")


def growth_table(vals):
    ns = sorted({k[2] for k in vals if k[1].startswith("growth: ")})
    if not ns:
        return
    impls = [i for i in ("ours", "lmdb", "sqlite") if any((i, "growth: open", n) in vals for n in ns)]
    head = ["N"]
    for i in impls:
        head += [f"{i}: open", f"{i}: add one", f"{i}: get, 1 thread"]
    head += ["ours: open per 1k assets", "ours: add / add at the smallest N", "ours: get / get at the smallest N"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    base_add = vals.get(("ours", "growth: add one", ns[0]))
    base_get = vals.get(("ours", "growth: get, 1 thread", ns[0]))
    for n in ns:
        row = [f"{n:,}"]
        for i in impls:
            for op in ("growth: open", "growth: add one", "growth: get, 1 thread"):
                v = vals.get((i, op, n))
                row.append(fmt(*v) if v else "")
        o = vals.get(("ours", "growth: open", n))
        a = vals.get(("ours", "growth: add one", n))
        g = vals.get(("ours", "growth: get, 1 thread", n))
        row.append(fmt(o[0] / n * 1000, "s") if o else "")
        row.append(f"{a[0] / base_add[0]:.2f}x" if a and base_add else "")
        row.append(f"{g[0] / base_get[0]:.2f}x" if g and base_get else "")
        print("| " + " | ".join(row) + " |")


def rss_table(vals):
    ns = sorted({k[2] for k in vals if k[1] == "peak RSS: Python-written file"})
    if not ns:
        return
    print("| N | file: Python-written (indent 4) | file: our layout | peak RSS: open the Python-written file "
          "| peak RSS: open our layout | Python-written / ours | target |")
    print("|---|---|---|---|---|---|---|")
    for n in ns:
        p, o = vals[("ours", "peak RSS: Python-written file", n)], vals[("ours", "peak RSS: our layout", n)]
        ps, os_ = vals.get(("ours", "file size: Python-written", n)), vals.get(("ours", "file size: our layout", n))
        print(f"| {n:,} | {fmt(*ps) if ps else ''} | {fmt(*os_) if os_ else ''} | {fmt(*p)} | {fmt(*o)} "
              f"| {p[0] / o[0]:.2f}x | <= 1.50x |")


def fleet_table(vals):
    variants = [v for v in ("original", "dropin", "original-only")
                if any(k[0] == f"fleet-{v}" for k in vals)]
    if not variants:
        return
    names = {
        "original": "4 x Python original (SDK pattern) + 4 x ours (C)",
        "dropin": "4 x our Python drop-in (SDK pattern) + 4 x ours (C)",
        "original-only": "8 x Python original (SDK pattern): the baseline",
    }
    base = None
    for n in sorted({k[2] for k in vals if k[0].startswith("fleet-")}):
        b = vals.get(("fleet-original-only", "all adds/s", n))
        base = b[0] if b else None
        print(f"| fleet on one cache of {n:,} | native adds/s | Python adds/s | all adds/s | all / baseline "
              "| native OK adds missing at the end | Python OK adds missing at the end |")
        print("|---|---|---|---|---|---|---|")
        for v in variants:
            impl = f"fleet-{v}"

            def get(op):
                x = vals.get((impl, op, n))
                return x[0] if x else None

            def count(side):
                ok, lost = get(f"{side} adds OK"), get(f"{side} adds OK, missing at the end")
                return "" if ok is None else f"{lost:g} of {ok:g}"

            na, pa, al = get("native adds/s"), get("python adds/s"), get("all adds/s")
            cells = [names[v], fmt(na, "ops/s") if na is not None else "", fmt(pa, "ops/s") if pa is not None else "",
                     fmt(al, "ops/s") if al is not None else "",
                     f"{al / base:.0f}x" if al and base else "", count("native"), count("python")]
            print("| " + " | ".join(cells) + " |")


def main(paths):
    vals = load(paths)
    first = True
    for table in (add_table, growth_table, rss_table, fleet_table):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            table(vals)
        if out.getvalue():
            if not first:
                print()
            print(out.getvalue(), end="")
            first = False


if __name__ == "__main__":
    main(sys.argv[1:])
