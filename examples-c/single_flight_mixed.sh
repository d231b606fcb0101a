#!/usr/bin/env bash
# Single-flight across two languages: 4 C processes (single_flight --worker)
# and 4 Python processes (ctypes over the same C ABI, fetch in a Python
# callback) ask for the same 50 ids at once. Every fetch appends a line to one
# log; exactly 50 lines must result, and every process must get every asset.
# usage: single_flight_mixed.sh PATH/TO/single_flight PATH/TO/libasset_cache.so SCRATCH
# The failure this catches (a claim byte that differs between processes) was
# checked in the Rust reliability suite (single_flight.rs): 65 fetches for 50
# ids. The test also fails unless both languages did some of the fetches.
set -euo pipefail
prog=$1 lib=$2 dir=$3
command -v python3 >/dev/null || { echo "FAIL: python3 is required for this test"; exit 1; }
rm -rf "$dir" && mkdir -p "$dir"
log=$dir/fetches.log
go=$dir/go
cat > "$dir/worker.py" <<'PY'
import ctypes, os, sys, time
lib = ctypes.CDLL(sys.argv[1])
directory, log, n = sys.argv[2], sys.argv[3], int(sys.argv[4])

class Options(ctypes.Structure):
    _fields_ = [("dir", ctypes.c_char_p), ("name", ctypes.c_char_p),
                ("ttl_seconds", ctypes.c_int64), ("lock_timeout_ms", ctypes.c_int64),
                ("durable", ctypes.c_bool)]

vp = ctypes.c_void_p
FETCH = ctypes.CFUNCTYPE(None, vp, ctypes.c_char_p, vp)
lib.asset_cache_options_init.argtypes = [ctypes.POINTER(Options)]
lib.asset_cache_open.argtypes = [ctypes.POINTER(Options), ctypes.POINTER(vp)]
lib.asset_cache_get_or_fetch.argtypes = [vp, ctypes.c_char_p, FETCH, vp, ctypes.POINTER(vp)]
lib.asset_cache_fetch_ok.argtypes = [vp, ctypes.c_char_p]
lib.asset_cache_string_free.argtypes = [vp]
lib.asset_cache_free.argtypes = [vp]
lib.asset_cache_last_error.restype = ctypes.c_char_p

opts = Options()
lib.asset_cache_options_init(ctypes.byref(opts))
opts.dir, opts.name, opts.ttl_seconds, opts.lock_timeout_ms = directory.encode(), b"model", 3600, 20000
cache = vp()
assert lib.asset_cache_open(ctypes.byref(opts), ctypes.byref(cache)) == 0, lib.asset_cache_last_error()

def fetch(_userdata, ident, answer):
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(fd, b"py " + ident + b"\n")
    os.close(fd)
    time.sleep(0.003)
    lib.asset_cache_fetch_ok(answer, b'{"id":"' + ident + b'","by":"py"}')

callback = FETCH(fetch)
while not os.path.exists(os.environ["SF_GO"]):
    time.sleep(0.001)
for i in range(n):
    # The other way round from the C workers, so both languages fetch some.
    ident = ("m%d" % ((n - 1 - i * 7 - os.getpid()) % n)).encode()
    out = vp()
    st = lib.asset_cache_get_or_fetch(cache, ident, callback, None, ctypes.byref(out))
    assert st == 0, (st, lib.asset_cache_last_error())
    text = ctypes.string_at(out.value)
    assert b'"id":"' + ident + b'"' in text, text
    lib.asset_cache_string_free(out)
lib.asset_cache_free(cache)
PY
export SF_GO=$go
pids=()
for i in 1 2 3 4; do
  "$prog" --worker "$dir" "$log" 50 & pids+=($!)
  python3 "$dir/worker.py" "$lib" "$dir" "$log" 50 & pids+=($!)
done
sleep 1
touch "$go"
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
[ "$fail" = 0 ] || { echo "FAIL: a worker failed"; exit 1; }
total=$(wc -l < "$log")
distinct=$(cut -d' ' -f2 "$log" | sort -u | wc -l)
echo "C and Python workers: $total fetches of $distinct ids ($(grep -c '^c ' "$log" || true) by C, $(grep -c '^py ' "$log" || true) by Python)"
[ "$total" = 50 ] && [ "$distinct" = 50 ] || { echo "FAIL: want exactly 50 fetches, one per id"; exit 1; }
# Both languages must have fetched, or this tested one language only.
grep -q '^c ' "$log" && grep -q '^py ' "$log" || { echo "FAIL: one language did every fetch"; exit 1; }
