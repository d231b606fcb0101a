"""The library's C ABI through ctypes: the interop tests drive the very
functions a C program calls, from Python processes, so no extra compiled
helper is needed."""

import ctypes
import json
import os

OK, NOT_FOUND = 0, 1
STATUS_NAMES = [
    "OK", "NOT_FOUND", "INVALID_ARGUMENT", "INVALID_UTF8", "INVALID_JSON",
    "MISSING_ID", "IO", "LOCK", "LOCK_TIMEOUT", "NO_MEMORY", "PANIC",
]


class Options(ctypes.Structure):
    _fields_ = [
        ("dir", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("ttl_seconds", ctypes.c_int64),
        ("lock_timeout_ms", ctypes.c_int64),
        ("durable", ctypes.c_bool),
    ]


def library_path():
    path = os.environ.get("ASSET_CACHE_LIB")
    if not path:
        raise RuntimeError("ASSET_CACHE_LIB must name libasset_cache.so")
    return path


_lib = None


def lib():
    global _lib
    if _lib is None:
        l = ctypes.CDLL(library_path())
        vp = ctypes.c_void_p
        l.asset_cache_open.argtypes = [ctypes.POINTER(Options), ctypes.POINTER(vp)]
        l.asset_cache_options_init.argtypes = [ctypes.POINTER(Options)]
        l.asset_cache_free.argtypes = [vp]
        l.asset_cache_string_free.argtypes = [vp]
        for f in ("add", "add_list"):
            getattr(l, "asset_cache_" + f).argtypes = [vp, ctypes.c_char_p]
        l.asset_cache_get.argtypes = [vp, ctypes.c_char_p, ctypes.POINTER(vp)]
        l.asset_cache_get_all.argtypes = [vp, ctypes.POINTER(vp)]
        for f in ("load", "save", "invalidate"):
            getattr(l, "asset_cache_" + f).argtypes = [vp]
        l.asset_cache_len.argtypes = [vp, ctypes.POINTER(ctypes.c_size_t)]
        l.asset_cache_expiry.argtypes = [vp, ctypes.POINTER(ctypes.c_double)]
        l.asset_cache_remove.argtypes = [vp, ctypes.c_char_p, ctypes.POINTER(ctypes.c_bool)]
        l.asset_cache_ids.argtypes = [vp, ctypes.POINTER(vp)]
        l.asset_cache_add_many.argtypes = [vp, ctypes.c_char_p]
        l.asset_cache_last_error.restype = ctypes.c_char_p
        _lib = l
    return _lib


class CacheError(Exception):
    def __init__(self, status, message):
        super().__init__(f"{STATUS_NAMES[status] if status < len(STATUS_NAMES) else status}: {message}")
        self.status = status


def _check(status):
    if status != OK:
        raise CacheError(status, lib().asset_cache_last_error().decode("utf-8", "replace"))


def _take_string(ptr):
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        lib().asset_cache_string_free(ptr)


class Cache:
    """One library handle on <dir>/<name>.json."""

    def __init__(self, dir, name, lock_timeout_ms=30000, ttl_seconds=-1):
        opts = Options()
        lib().asset_cache_options_init(ctypes.byref(opts))
        opts.dir = os.fsencode(dir)
        opts.name = name.encode()
        opts.lock_timeout_ms = lock_timeout_ms
        opts.ttl_seconds = ttl_seconds
        self._h = ctypes.c_void_p()
        _check(lib().asset_cache_open(ctypes.byref(opts), ctypes.byref(self._h)))

    def close(self):
        if self._h:
            lib().asset_cache_free(self._h)
            self._h = ctypes.c_void_p()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def add_text(self, text):
        _check(lib().asset_cache_add(self._h, text.encode("utf-8")))

    def add(self, asset):
        self.add_text(json.dumps(asset))

    def add_list_text(self, text):
        _check(lib().asset_cache_add_list(self._h, text.encode("utf-8")))

    def add_list(self, assets):
        self.add_list_text(json.dumps(assets))

    def get_text(self, id):
        out = ctypes.c_void_p()
        status = lib().asset_cache_get(self._h, id.encode("utf-8"), ctypes.byref(out))
        if status == NOT_FOUND:
            return None
        _check(status)
        return _take_string(out)

    def get_all_text(self):
        out = ctypes.c_void_p()
        _check(lib().asset_cache_get_all(self._h, ctypes.byref(out)))
        return _take_string(out)

    def get_all(self):
        return json.loads(self.get_all_text())

    def load(self):
        _check(lib().asset_cache_load(self._h))

    def remove(self, id):
        removed = ctypes.c_bool()
        _check(lib().asset_cache_remove(self._h, id.encode("utf-8"), ctypes.byref(removed)))
        return removed.value

    def ids(self):
        out = ctypes.c_void_p()
        _check(lib().asset_cache_ids(self._h, ctypes.byref(out)))
        return json.loads(_take_string(out))

    def add_many(self, assets):
        _check(lib().asset_cache_add_many(self._h, json.dumps(assets).encode("utf-8")))

    def save(self):
        _check(lib().asset_cache_save(self._h))

    def invalidate(self):
        _check(lib().asset_cache_invalidate(self._h))

    def __len__(self):
        n = ctypes.c_size_t()
        _check(lib().asset_cache_len(self._h, ctypes.byref(n)))
        return n.value

    def expiry(self):
        e = ctypes.c_double()
        _check(lib().asset_cache_expiry(self._h, ctypes.byref(e)))
        return e.value
