"""The shared library and its C signatures, loaded once per process.

The wheel bundles ``libasset_cache.so`` next to this file; the environment
variable ASSET_CACHE_LIB, when set, names another build to load instead (as
the Node binding does). Calls go through ctypes.CDLL: each runs on the
calling thread, with the GIL released, so `asset_cache_last_error()` (a
per-thread slot in the library) read right after a failing call on the same
thread gives that call's message.
"""

from __future__ import annotations

import ctypes
import logging
import os
import threading
from typing import Optional

from .errors import Status, error_for

LIBRARY_FILE = "libasset_cache.so"
#: The oldest library this package can drive (0.2.0, encoded as in
#: ASSET_CACHE_VERSION_NUMBER): it opens through the options object and
#: uses the fetch claims, both new in 0.2.0.
MIN_VERSION_NUMBER = 200


class Options(ctypes.Structure):
    """`asset_cache_options` (0.1 layout). Filled by asset_cache_options_init first."""

    _fields_ = [
        ("dir", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("ttl_seconds", ctypes.c_int64),
        ("lock_timeout_ms", ctypes.c_int64),
        ("durable", ctypes.c_bool),
    ]


#: `asset_cache_log_callback`: (userdata, level 1 error .. 4 debug, message).
LOG_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)

_handle = ctypes.c_void_p
_status = ctypes.c_int
_lib: Optional[ctypes.CDLL] = None
_load_lock = threading.Lock()


def library_path() -> str:
    """Where the library is loaded from: $ASSET_CACHE_LIB, else the bundled copy."""
    env = os.environ.get("ASSET_CACHE_LIB")
    if env:
        return env
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), LIBRARY_FILE)


def _declare(lib: ctypes.CDLL) -> None:
    vp, cp = ctypes.c_void_p, ctypes.c_char_p
    sigs = {
        "asset_cache_version": ([], cp),
        "asset_cache_version_number": ([], ctypes.c_uint32),
        "asset_cache_status_str": ([ctypes.c_int], cp),
        "asset_cache_last_error": ([], cp),
        "asset_cache_options_init": ([ctypes.POINTER(Options)], None),
        "asset_cache_open": ([ctypes.POINTER(Options), ctypes.POINTER(vp)], _status),
        "asset_cache_free": ([vp], None),
        "asset_cache_string_free": ([vp], None),
        "asset_cache_get": ([vp, cp, ctypes.POINTER(vp)], _status),
        "asset_cache_get_all": ([vp, ctypes.POINTER(vp)], _status),
        "asset_cache_has_valid_cache": ([vp, ctypes.POINTER(ctypes.c_bool)], _status),
        "asset_cache_expiry": ([vp, ctypes.POINTER(ctypes.c_double)], _status),
        "asset_cache_len": ([vp, ctypes.POINTER(ctypes.c_size_t)], _status),
        "asset_cache_add": ([vp, cp], _status),
        "asset_cache_add_list": ([vp, cp], _status),
        "asset_cache_load": ([vp], _status),
        "asset_cache_save": ([vp], _status),
        "asset_cache_invalidate": ([vp], _status),
        "asset_cache_set_log_callback": ([LOG_CALLBACK, ctypes.c_int, vp], _status),
        # 0.2.0: the options object.
        "asset_cache_config_new": ([ctypes.POINTER(vp)], _status),
        "asset_cache_config_free": ([vp], None),
        "asset_cache_config_set_dir": ([vp, cp], _status),
        "asset_cache_config_set_name": ([vp, cp], _status),
        "asset_cache_config_set_ttl_seconds": ([vp, ctypes.c_int64], _status),
        "asset_cache_config_set_lock_timeout_ms": ([vp, ctypes.c_int64], _status),
        "asset_cache_config_set_durable": ([vp, ctypes.c_bool], _status),
        "asset_cache_config_set_file_mode": ([vp, ctypes.c_uint32], _status),
        "asset_cache_config_set_dir_mode": ([vp, ctypes.c_uint32], _status),
        "asset_cache_config_set_stale_if_error_ms": ([vp, ctypes.c_int64], _status),
        "asset_cache_config_set_max_entries": ([vp, ctypes.c_size_t], _status),
        "asset_cache_config_set_max_staleness_ms": ([vp, ctypes.c_int64], _status),
        "asset_cache_config_set_backend_url": ([vp, cp], _status),
        "asset_cache_config_set_backend_timeout_ms": ([vp, ctypes.c_int64], _status),
        "asset_cache_open_config": ([vp, ctypes.POINTER(vp), vp], _status),
        # 0.2.0: fetch claims and the SDK dev branch's calls.
        "asset_cache_begin_fetch": ([vp, cp, ctypes.c_int64, ctypes.POINTER(vp), ctypes.POINTER(vp)], _status),
        "asset_cache_begin_refresh_all": ([vp, ctypes.c_int64, ctypes.POINTER(vp), ctypes.POINTER(vp)], _status),
        "asset_cache_claim_complete": ([vp, vp, cp], _status),
        "asset_cache_claim_fail": ([vp, vp, cp, ctypes.POINTER(vp)], _status),
        "asset_cache_claim_abandon": ([vp], None),
        "asset_cache_remove": ([vp, cp, ctypes.POINTER(ctypes.c_bool)], _status),
        "asset_cache_contains": ([vp, cp, ctypes.POINTER(ctypes.c_bool)], _status),
        "asset_cache_ids": ([vp, ctypes.POINTER(vp)], _status),
        "asset_cache_add_many": ([vp, cp], _status),
        "asset_cache_add_with_key": ([vp, cp, cp], _status),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res


def lib() -> ctypes.CDLL:
    """The loaded library, its signatures declared; loads it on first use.

    Raises OSError naming the path when the library is missing or too old.
    """
    global _lib
    if _lib is not None:
        return _lib
    with _load_lock:
        if _lib is None:
            path = library_path()
            # A path from the environment is the first suspect: say so.
            source = " (from ASSET_CACHE_LIB)" if os.environ.get("ASSET_CACHE_LIB") else ""
            try:
                loaded = ctypes.CDLL(path)
            except OSError as e:
                raise OSError(
                    f"asset_cache: cannot load the shared library {path!r}{source} ({e}); "
                    + (
                        "fix or unset ASSET_CACHE_LIB"
                        if source
                        else "reinstall the wheel, or set ASSET_CACHE_LIB to a libasset_cache.so"
                    )
                ) from e
            _declare(loaded)
            number = loaded.asset_cache_version_number()
            if number < MIN_VERSION_NUMBER:
                raise OSError(
                    f"asset_cache: {path!r}{source} is version {number}, older than {MIN_VERSION_NUMBER} "
                    "(0.2.0) which this package needs"
                )
            _lib = loaded
    return _lib


def last_error() -> str:
    """This thread's last failure message from the library."""
    raw = lib().asset_cache_last_error()
    return raw.decode("utf-8", "replace") if raw else ""


def check(status: int) -> None:
    """Raise the exception for a status other than OK (message read on this thread)."""
    if status != Status.OK:
        raise error_for(status, last_error())


def take_string(ptr: ctypes.c_void_p) -> bytes:
    """Copy a library-owned string out, then free it with asset_cache_string_free."""
    try:
        return ctypes.string_at(ptr.value) if ptr.value else b""
    finally:
        lib().asset_cache_string_free(ptr)


_PY_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}
_library_logger = logging.getLogger("asset_cache.library")


def _forward_to_logging(userdata: object, level: int, message: bytes) -> None:
    # Runs on whichever thread the library logs from; ctypes takes the GIL.
    try:
        _library_logger.log(_PY_LEVELS.get(level, logging.ERROR), message.decode("utf-8", "replace"))
    except Exception:  # never let an exception reach the library
        pass


# Module-level, so it lives as long as the process: the library keeps its address.
_forward = LOG_CALLBACK(_forward_to_logging)


def forward_library_log(level: int = logging.WARNING) -> None:
    """Send the library's log messages at `level` or more severe to the
    logger ``asset_cache.library`` (process-wide, replacing any callback
    another user of the library installed). `level` is a `logging` level."""
    if level >= logging.ERROR:
        c_level = 1
    elif level >= logging.WARNING:
        c_level = 2
    elif level >= logging.INFO:
        c_level = 3
    else:
        c_level = 4
    check(lib().asset_cache_set_log_callback(_forward, c_level, None))
