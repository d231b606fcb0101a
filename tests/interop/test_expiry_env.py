"""Issue 10 item 1: the lifetime of one shared cache is the same in both
implementations. The Python original computes it as
`int(os.getenv("CACHE_EXPIRY_TIME", 86400))`; the library must accept
exactly what Python's int() accepts: surrounding Unicode whitespace, a sign, single underscores between digits,
any Unicode decimal digit, at most 4300 digits. Where int() raises, both use
86400 (the original also deletes the variable). Deliberate difference: a value of 0 or less, which the original uses
as is (every write then vanishes at the next load), gives the library the
default and a warning; a value beyond 2**64 seconds (the original cannot
open with 10**4299: float overflow) is taken as 2**64-1. A ttl_seconds of 0
passed to open is refused.

Checked to fail before the fix: the old parser (ASCII digits, '+', strip())
gave 86400 for every underscore, Unicode-digit and Unicode/ASCII-separator
case (60 of the cases below) and accepted "0" as a lifetime of 0; open with
ttl_seconds=0 returned OK."""

import os
import time
import unicodedata

import pytest

from acache import Cache, CacheError
from conftest import Model

INVALID_ARGUMENT = 2


def python_ttl(original, text, tmp_path, n):
    """The lifetime the original computes for CACHE_EXPIRY_TIME=text."""
    os.environ["CACHE_EXPIRY_TIME"] = text
    os.chdir(tmp_path)
    before = time.time()
    py = original.AssetCache(Model, cache_filename=f"py{n}")
    return py.store.expiry - before


def library_ttl(text, tmp_path, n):
    os.environ["CACHE_EXPIRY_TIME"] = text
    before = time.time()
    with Cache(str(tmp_path / "lib"), f"lib{n}") as c:
        return c.expiry() - before


def cases():
    out = ["60", " +5\n", "-7", "0", "-0", "+0", "1_000", "0_0", "007", "1.5", "1e3",
           "0x10", "1__0", "_1", "1_", "+_1", "+ 1", "1 2", "--1", "", " ", "abc",
           "\u00b2", "\u2167", "\u00bd", "9" * 30, "1" * 4300, "1" * 4301, "1_" * 4299 + "1"]
    # Every character str.isspace() calls whitespace, around a number (int()
    # refuses four of them, U+001C..U+001F).
    for cp in range(0x110000):
        if chr(cp).isspace():
            out.append(f"{chr(cp)}12{chr(cp)}")
    # Every run of decimal digits Python knows: its 1, 2 and 0 ("120").
    for cp in range(0x110000):
        if unicodedata.decimal(chr(cp), None) == 0:
            out.append(chr(cp + 1) + chr(cp + 2) + chr(cp))
    return out


def test_library_reads_cache_expiry_time_as_python_int(original, workdir, monkeypatch):
    mismatches = []
    for n, text in enumerate(cases()):
        try:
            value = int(text)
        except ValueError:
            value = None
        try:
            py = python_ttl(original, text, workdir, n)
        except OverflowError:
            # time.time() + 10**4299: the original cannot even open.
            assert value is not None and value > 1e308
            py = None
        lib = library_ttl(text, workdir, n)
        if value is None:
            assert abs(py - 86400) < 2, (text[:20], py)
        elif py is not None and value > 0:
            assert abs(py - value) < 2 or value > 1e18, (text[:20], py)
        # The library: Python's value when it is a positive lifetime, else
        # the default.
        want = value if value is not None and value > 0 else 86400
        if want > 1e18:
            ok = lib > 1e18
        else:
            ok = abs(lib - want) <= 2
        if not ok:
            mismatches.append((text[:20], want, lib))
    monkeypatch.delenv("CACHE_EXPIRY_TIME", raising=False)
    assert not mismatches, mismatches


def test_zero_ttl_is_refused_at_open(workdir):
    with pytest.raises(CacheError) as e:
        Cache(".cache", "zero", ttl_seconds=0)
    assert e.value.status == INVALID_ARGUMENT
    assert "ttl is 0" in str(e.value)
    assert not os.path.exists(".cache/zero.json")
