"""`Cache`: the C API of asset_cache.h, one method per call, typed.

A `Cache` owns one `asset_cache *` handle. Assets are JSON objects with a
non-empty string ``"id"``; methods taking or returning Python values encode
and decode them with the standard `json` module, the ``*_json`` methods pass
the text through unchanged. Each failing status raises the `CacheError`
subclass for it (see `asset_cache.errors`), with ``.status`` and the
library's message.

Thread safety (as in the header): every method except `close` may be called
from several threads at once on one `Cache`; calls release the GIL while
they run. `close` must not run concurrently with another call on the same
`Cache`. Several `Cache` objects on the same files, in one process or
several, coordinate through the lock file like separate processes.

fork: in a child made by ``os.fork()``, every call on a `Cache` opened by
the parent raises `InvalidArgumentError` at once (the library's rule); open
a new `Cache` in the child. (`AssetCache` reopens by itself.)
"""

from __future__ import annotations

import ctypes
import json
import math
import numbers
import os
import weakref
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from . import _native
from .errors import InvalidArgumentError, Status

__all__ = ["Cache", "version", "status_str"]

PathLike = Union[str, "os.PathLike[str]"]
JsonText = Union[str, bytes]


def version() -> str:
    """The loaded library's version, e.g. ``"0.2.0"`` (``asset_cache_version()``)."""
    raw: bytes = _native.lib().asset_cache_version()
    return raw.decode("ascii")


def status_str(status: int) -> str:
    """The library's static description of a status code (``asset_cache_status_str``)."""
    raw: bytes = _native.lib().asset_cache_status_str(int(status))
    return raw.decode("utf-8", "replace")


def _c_text(value: str, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, got {type(value).__name__}")
    # A NUL would silently cut the C string short: refuse it here, by name.
    if "\0" in value:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{what} contains a NUL character")
    # surrogatepass: a lone surrogate reaches the library as invalid UTF-8,
    # which answers INVALID_UTF8 like it does for a C caller.
    return value.encode("utf-8", "surrogatepass")


def _json_bytes(text: JsonText, what: str) -> bytes:
    if isinstance(text, str):
        return _c_text(text, what)
    if isinstance(text, (bytes, bytearray)):
        if b"\0" in text:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{what} contains a NUL byte")
        return bytes(text)
    raise TypeError(f"{what} must be str or bytes, not {type(text).__name__}")


def _dumps(value: Any) -> str:
    # ensure_ascii=False keeps the text short; allow_nan=False because NaN and
    # Infinity are not JSON (ValueError here, instead of INVALID_JSON later).
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _ttl_seconds(ttl: Optional[float]) -> int:
    # One rule in every binding: whole seconds (the C API's ttl_seconds is an
    # integer), a fraction rounded up, zero or negative refused.
    if ttl is None:
        return -1
    if isinstance(ttl, bool) or not isinstance(ttl, numbers.Real):
        raise TypeError(f"ttl_seconds must be a number of seconds or None, got {type(ttl).__name__}")
    if not math.isfinite(ttl) or ttl <= 0:
        raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"ttl_seconds must be a positive number of seconds, got {ttl}")
    return math.ceil(ttl)


def _lock_timeout_ms(ms: int) -> int:
    if isinstance(ms, bool) or not isinstance(ms, numbers.Integral):
        raise TypeError(f"lock_timeout_ms must be an int (milliseconds), got {type(ms).__name__}")
    return int(ms)


class Cache:
    """One open cache: ``<dir>/<name>.json`` and its lock ``<dir>/<name>.lock``.

    Opening loads the file when there is one and never creates files; the
    first write does. An unreadable file is moved aside to
    ``<name>.json.corrupt``; an expired one is deleted.

    Args:
        name: base name of the files. Not empty, no ``/``, ``\\``, ``..`` or
            control characters (else `InvalidArgumentError`).
        dir: folder of the files; None means ``.cache`` in the current
            directory, as in the Python original (aixplain 0.2.48).
        ttl_seconds: lifetime of a new store in whole seconds (the C API's
            ``ttl_seconds`` is an integer): a fraction is rounded up (0.5 and
            1 give 1 s, 1.5 gives 2 s), as in the Go and Node bindings; zero,
            negative, NaN or infinite is `InvalidArgumentError`, not a number
            `TypeError`. None reads CACHE_EXPIRY_TIME once, at open, as the
            original's ``int()`` does, else 86400.
        lock_timeout_ms: longest wait for another process's lock, in
            milliseconds (an int, else `TypeError`), before
            `LockTimeoutError`; 0 tries once, negative waits forever.
            Default 30000.
        durable: fsync every write before the call returns (survives power
            loss, not only a crash of the process). Default False.

    Raises:
        TypeError: an argument of the wrong type, naming it (``name`` not a
            str, ``dir`` not a str or path, ...).
        InvalidArgumentError, InvalidUtf8Error, CacheIOError, LockError,
        LockTimeoutError: as ``asset_cache_open``.
    """

    def __init__(
        self,
        name: str,
        dir: Optional[PathLike] = None,
        *,
        ttl_seconds: Optional[float] = None,
        lock_timeout_ms: int = 30_000,
        durable: bool = False,
    ) -> None:
        name_b = _c_text(name, "name")
        if dir is not None and not isinstance(dir, (str, os.PathLike)):
            raise TypeError(f"dir must be a str, an os.PathLike or None, got {type(dir).__name__}")
        dir_b = None if dir is None else _c_text(os.fsdecode(dir), "dir")
        ttl = _ttl_seconds(ttl_seconds)
        timeout = _lock_timeout_ms(lock_timeout_ms)
        lib = _native.lib()
        opts = _native.Options()
        lib.asset_cache_options_init(ctypes.byref(opts))
        opts.name = name_b
        opts.dir = dir_b
        opts.ttl_seconds = ttl
        opts.lock_timeout_ms = timeout
        opts.durable = bool(durable)
        handle = ctypes.c_void_p()
        _native.check(lib.asset_cache_open(ctypes.byref(opts), ctypes.byref(handle)))
        self._h: Optional[int] = handle.value
        self.name = name
        self.dir = ".cache" if dir is None else os.fsdecode(dir)
        # Frees the handle when the object is collected without close().
        self._finalizer = weakref.finalize(self, lib.asset_cache_free, handle.value)
        self._get = lib.asset_cache_get
        self._free_string = lib.asset_cache_string_free

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Free the handle (``asset_cache_free``); the files stay. Idempotent."""
        self._h = None
        self._finalizer()

    @property
    def closed(self) -> bool:
        """True once `close` has run."""
        return self._h is None

    def __enter__(self) -> "Cache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handle(self) -> int:
        h = self._h
        if h is None:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, "the cache is closed")
        return h

    # -- reads (from memory; `load` first to see other processes' writes) ---

    def get_json(self, id: str) -> Optional[str]:
        """The asset with this id as JSON text, or None when absent or expired."""
        out = ctypes.c_void_p()
        status = self._get(self._handle(), _c_text(id, "id"), ctypes.byref(out))
        if status == Status.NOT_FOUND:
            return None
        _native.check(status)
        try:
            return ctypes.string_at(out).decode("utf-8")
        finally:
            self._free_string(out)

    def get(self, id: str) -> Optional[Dict[str, Any]]:
        """The asset with this id, decoded, or None when absent or the store has expired."""
        text = self.get_json(id)
        return None if text is None else json.loads(text)

    def __contains__(self, id: object) -> bool:
        return isinstance(id, str) and self.get_json(id) is not None

    def get_all_json(self) -> str:
        """All assets as one JSON array, in insertion order (``"[]"`` when empty or expired)."""
        out = ctypes.c_void_p()
        _native.check(_native.lib().asset_cache_get_all(self._handle(), ctypes.byref(out)))
        return _native.take_string(out).decode("utf-8")

    def get_all(self) -> List[Dict[str, Any]]:
        """All assets, decoded, in insertion order ([] when empty or expired)."""
        assets: List[Dict[str, Any]] = json.loads(self.get_all_json())
        return assets

    def has_valid_cache(self) -> bool:
        """True when the store has not expired and holds at least one asset."""
        out = ctypes.c_bool()
        _native.check(_native.lib().asset_cache_has_valid_cache(self._handle(), ctypes.byref(out)))
        return out.value

    def expiry(self) -> float:
        """The store's expiry, in Unix seconds (fractional, as the original writes it)."""
        out = ctypes.c_double()
        _native.check(_native.lib().asset_cache_expiry(self._handle(), ctypes.byref(out)))
        return out.value

    def __len__(self) -> int:
        """The number of assets in memory (expired ones included until `load`)."""
        out = ctypes.c_size_t()
        _native.check(_native.lib().asset_cache_len(self._handle(), ctypes.byref(out)))
        return out.value

    # -- writes (each is on disk when the call returns) --------------------

    def add_json(self, asset_json: JsonText) -> None:
        """Add or replace one asset given as JSON text, merged with other processes' writes.

        Raises InvalidJsonError, MissingIdError, InvalidUtf8Error, CacheIOError,
        LockError, LockTimeoutError; on failure memory and file are unchanged.
        """
        _native.check(_native.lib().asset_cache_add(self._handle(), _json_bytes(asset_json, "asset_json")))

    def add(self, asset: Mapping[str, Any]) -> None:
        """Add or replace one asset (a mapping with a non-empty string ``"id"``); see `add_json`."""
        self.add_json(_dumps(asset))

    def add_list_json(self, assets_json: JsonText) -> None:
        """Replace the whole cache with a JSON array of assets and start a fresh expiry.

        The last of equal ids wins; one bad element rejects the call, and the
        message names its index. Errors as `add_json`.
        """
        _native.check(
            _native.lib().asset_cache_add_list(self._handle(), _json_bytes(assets_json, "assets_json"))
        )

    def add_list(self, assets: Iterable[Mapping[str, Any]]) -> None:
        """Replace the whole cache with these assets (a list or other iterable of mappings); see `add_list_json`.

        Raises TypeError for a mapping, str or bytes given as the whole list
        (iterating it would store its keys or characters).
        """
        if isinstance(assets, (Mapping, str, bytes, bytearray)) or not isinstance(assets, Iterable):
            raise TypeError(f"assets must be a list of assets (mappings), got {type(assets).__name__}")
        self.add_list_json(_dumps(list(assets)))

    def load(self) -> None:
        """Bring memory up to date with the file (other processes' writes).

        A missing file gives an empty store, an expired one is deleted, an
        unreadable one is moved aside to ``<name>.json.corrupt``.
        """
        _native.check(_native.lib().asset_cache_load(self._handle()))

    def save(self) -> None:
        """Rewrite the file from the current state (compacts it; creates it when missing)."""
        _native.check(_native.lib().asset_cache_save(self._handle()))

    def invalidate(self) -> None:
        """Empty the cache, start a fresh expiry, delete the cache file; the lock file is kept."""
        _native.check(_native.lib().asset_cache_invalidate(self._handle()))

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<asset_cache.Cache {os.path.join(self.dir, self.name)}.json {state}>"
