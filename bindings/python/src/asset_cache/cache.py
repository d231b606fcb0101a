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
import functools
import json
import math
import numbers
import os
import weakref
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple, TypeVar, Union, cast

from . import _native
from .errors import InvalidArgumentError, Status, error_for

__all__ = ["Cache", "StaleAsset", "StaleAssets", "version", "status_str"]

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


def _lock_timeout_ms(ms: int, what: str = "lock_timeout_ms") -> int:
    if isinstance(ms, bool) or not isinstance(ms, numbers.Integral):
        raise TypeError(f"{what} must be an int (milliseconds), got {type(ms).__name__}")
    return int(ms)


def _int_arg(value: Optional[int], what: str, unit: str) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an int ({unit}) or None, got {type(value).__name__}")
    return int(value)


def _mask_password(url: str) -> str:
    # The URL may carry a password (redis://user:pw@host): never show it.
    scheme, sep, rest = url.partition("://")
    auth, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in auth:
        return url
    return f"{scheme}://{auth.split(':', 1)[0]}:***@{host}"


_F = TypeVar("_F", bound=Callable[..., Any])


def _changes_memory(method: _F) -> _F:
    """Marks a call after which the handle's memory may differ (a write, a
    load, a fetch, close): the `Cache`'s change listener, if one is set, is
    told once the call has returned or raised, so that a layer keeping
    decoded assets (the drop-in) drops them. Told after, not before: a read
    racing the call then keeps at most what the discarded layer held."""

    @functools.wraps(method)
    def wrapper(self: "Cache", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        finally:
            listener = self._on_change
            if listener is not None:
                tell = listener()
                if tell is not None:
                    tell()

    return cast(_F, wrapper)


class StaleAsset(Dict[str, Any]):
    """What `Cache.get_or_fetch` returns when the fetch failed but the
    stale-if-error grace period let the expired asset stand in (the C
    API's ASSET_CACHE_STALE): the asset itself (a dict), marked. Tell it
    apart with ``isinstance(value, StaleAsset)``; ``.error`` is the
    exception the fetch raised. Nothing new was stored."""

    error: BaseException

    def __init__(self, asset: Dict[str, Any], error: BaseException) -> None:
        super().__init__(asset)
        self.error = error


class StaleAssets(List[Dict[str, Any]]):
    """`Cache.refresh_all`'s counterpart of `StaleAsset`: the expired
    store's assets (a list), with ``.error`` the exception of the fetch."""

    error: BaseException

    def __init__(self, assets: List[Dict[str, Any]], error: BaseException) -> None:
        super().__init__(assets)
        self.error = error


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
        file_mode: permission bits of the files the library creates (an
            int, e.g. ``0o660``); must include 0o600, at most 0o777.
            Default 0o600.
        dir_mode: permission bits of the folders the library creates, e.g.
            ``0o2770``; must include 0o700, at most 0o7777. Default 0o700.
        stale_if_error_ms: for how long after the store's expiry, in
            milliseconds, a failed fetch of `get_or_fetch` / `refresh_all`
            returns the expired value (a `StaleAsset` / `StaleAssets`)
            instead of raising. None or <= 0: never (the default).
        max_entries: size cap, keeping the most recently written assets;
            0: no cap. None: CACHE_MAX_ENTRIES from the environment, else
            no cap (as the SDK's development branch).
        max_staleness_ms: longest a read may lag behind other processes'
            writes, in milliseconds, without `load`; 0 checks the file's
            stat on every read. None or negative: reads see memory only, as
            in the Python original (the default).

        backend_url: keep the cache on a Redis server (7.0 or later, or
            Valkey) instead of in `dir`, so that processes on many hosts
            share it: ``"redis://[user:password@]host[:port][/db]"``,
            ``"rediss://..."`` (TLS, the server's certificate checked against
            the system's trust store, or against the CAs of
            ``?ssl_ca_certs=/path/ca.pem``) or ``"redis+unix:///path/to.sock"``
            (``asset_cache_config_set_backend_url``;
            Go ``WithBackendURL``, Node ``backendUrl``). Every method
            behaves as with files; `dir`, `lock_timeout_ms`, `durable` and
            the modes are not used. Calls then raise `BackendUnavailableError`
            (server unreachable, connection dropped, no answer within
            `backend_timeout_ms`; also a ``ConnectionError``) or
            `BackendError` (credentials refused, a key of another type at
            the cache's key names, a certificate not trusted), memory
            staying as it was and the next call connecting again; a URL that
            does not parse (or an unreadable ``ssl_ca_certs`` file) raises
            `InvalidArgumentError` naming it, password masked. None (the
            default): the file backend.
        backend_timeout_ms: longest wait for each answer of the backend
            server, connecting included, in milliseconds (an int >= 1, else
            `InvalidArgumentError`; ``asset_cache_config_set_backend_timeout_ms``,
            Go ``WithBackendTimeout``, Node ``backendTimeoutMs``). None: the
            library's 5000. Not used by the file backend.

    Raises:
        TypeError: an argument of the wrong type, naming it (``name`` not a
            str, ``dir`` not a str or path, ...).
        InvalidArgumentError, InvalidUtf8Error, CacheIOError, LockError,
        LockTimeoutError: as ``asset_cache_open_config`` (a bad mode is
        InvalidArgumentError naming it).
    """

    def __init__(
        self,
        name: str,
        dir: Optional[PathLike] = None,
        *,
        ttl_seconds: Optional[float] = None,
        lock_timeout_ms: int = 30_000,
        durable: bool = False,
        file_mode: Optional[int] = None,
        dir_mode: Optional[int] = None,
        stale_if_error_ms: Optional[int] = None,
        max_entries: Optional[int] = None,
        max_staleness_ms: Optional[int] = None,
        backend_url: Optional[str] = None,
        backend_timeout_ms: Optional[int] = None,
    ) -> None:
        name_b = _c_text(name, "name")
        url_b = None if backend_url is None else _c_text(backend_url, "backend_url")
        backend_timeout = _int_arg(backend_timeout_ms, "backend_timeout_ms", "milliseconds")
        if dir is not None and not isinstance(dir, (str, os.PathLike)):
            raise TypeError(f"dir must be a str, an os.PathLike or None, got {type(dir).__name__}")
        dir_b = None if dir is None else _c_text(os.fsdecode(dir), "dir")
        ttl = _ttl_seconds(ttl_seconds)
        timeout = _lock_timeout_ms(lock_timeout_ms)
        ints = {
            "file_mode": _int_arg(file_mode, "file_mode", "permission bits"),
            "dir_mode": _int_arg(dir_mode, "dir_mode", "permission bits"),
            "stale_if_error_ms": _int_arg(stale_if_error_ms, "stale_if_error_ms", "milliseconds"),
            "max_entries": _int_arg(max_entries, "max_entries", "a count"),
            "max_staleness_ms": _int_arg(max_staleness_ms, "max_staleness_ms", "milliseconds"),
        }
        if ints["max_entries"] is not None and ints["max_entries"] < 0:
            raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"max_entries must be >= 0, got {max_entries}")
        for what in ("file_mode", "dir_mode"):
            v = ints[what]
            if v is not None and not 0 <= v <= 0xFFFFFFFF:
                raise InvalidArgumentError(Status.INVALID_ARGUMENT, f"{what} out of range: {oct(v)}")
        lib = _native.lib()
        cfg = ctypes.c_void_p()
        _native.check(lib.asset_cache_config_new(ctypes.byref(cfg)))
        handle = ctypes.c_void_p()
        try:
            # Each setter is checked, so the error names the option at fault.
            _native.check(lib.asset_cache_config_set_name(cfg, name_b))
            if dir_b is not None:
                _native.check(lib.asset_cache_config_set_dir(cfg, dir_b))
            if ttl > 0:  # else: CACHE_EXPIRY_TIME or one day, read at open
                _native.check(lib.asset_cache_config_set_ttl_seconds(cfg, ttl))
            _native.check(lib.asset_cache_config_set_lock_timeout_ms(cfg, timeout))
            _native.check(lib.asset_cache_config_set_durable(cfg, bool(durable)))
            for what, v in ints.items():
                if v is not None:
                    _native.check(getattr(lib, f"asset_cache_config_set_{what}")(cfg, v))
            if url_b is not None:
                _native.check(lib.asset_cache_config_set_backend_url(cfg, url_b))
            if backend_timeout is not None:
                _native.check(lib.asset_cache_config_set_backend_timeout_ms(cfg, backend_timeout))
            _native.check(lib.asset_cache_open_config(cfg, ctypes.byref(handle), None))
        finally:
            lib.asset_cache_config_free(cfg)
        self._h: Optional[int] = handle.value
        self.name = name
        self.dir = ".cache" if dir is None else os.fsdecode(dir)
        #: Where the cache lives on a backend server, password masked; None for files.
        self.backend = None if backend_url is None else _mask_password(backend_url)
        # Frees the handle when the object is collected without close().
        self._finalizer = weakref.finalize(self, lib.asset_cache_free, handle.value)
        self._get = lib.asset_cache_get
        self._free_string = lib.asset_cache_string_free
        # A weak reference to a method called after each call that may change
        # memory (see _changes_memory); weak, so that the drop-in's core and
        # this object form no reference cycle.
        # (Reads change memory too when fresh reads are on, max_staleness_ms
        # >= 0: a listener relying on this must not open with them.)
        self._on_change: Optional[Callable[[], Optional[Callable[[], None]]]] = None

    @classmethod
    def open(cls, name: str, dir: Optional[PathLike] = None, **options: Any) -> "Cache":
        """``Cache(name, dir, **options)``, named like the C API's open; see `Cache`."""
        return cls(name, dir, **options)

    # -- lifecycle ---------------------------------------------------------

    @_changes_memory
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

    def contains(self, id: str) -> bool:
        """True when `id` is cached and the store has not expired (``asset_cache_contains``)."""
        out = ctypes.c_bool()
        _native.check(_native.lib().asset_cache_contains(self._handle(), _c_text(id, "id"), ctypes.byref(out)))
        return out.value

    def __contains__(self, id: object) -> bool:
        """``id in cache``: `contains`; False for anything but a str."""
        return isinstance(id, str) and self.contains(id)

    def ids(self) -> List[str]:
        """The cached ids, in insertion order ([] when empty or expired; ``asset_cache_ids``)."""
        out = ctypes.c_void_p()
        _native.check(_native.lib().asset_cache_ids(self._handle(), ctypes.byref(out)))
        ids: List[str] = json.loads(_native.take_string(out).decode("utf-8"))
        return ids

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

    @_changes_memory
    def add_json(self, asset_json: JsonText) -> None:
        """Add or replace one asset given as JSON text, merged with other processes' writes.

        Raises InvalidJsonError, MissingIdError, InvalidUtf8Error, CacheIOError,
        LockError, LockTimeoutError; on failure memory and file are unchanged.
        """
        _native.check(_native.lib().asset_cache_add(self._handle(), _json_bytes(asset_json, "asset_json")))

    def add(self, asset: Mapping[str, Any]) -> None:
        """Add or replace one asset (a mapping with a non-empty string ``"id"``); see `add_json`."""
        self.add_json(_dumps(asset))

    @_changes_memory
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

    @_changes_memory
    def add_many_json(self, assets_json: JsonText) -> None:
        """Add a JSON array of assets in one write, keeping every other asset
        (the SDK's ``add_many``; `add_list_json` replaces instead). One bad
        element rejects the call, its index named; nothing is written."""
        _native.check(
            _native.lib().asset_cache_add_many(self._handle(), _json_bytes(assets_json, "assets_json"))
        )

    def add_many(self, assets: Iterable[Mapping[str, Any]]) -> None:
        """Add these assets (an iterable of mappings) in one write, keeping the others; see `add_many_json`."""
        if isinstance(assets, (Mapping, str, bytes, bytearray)) or not isinstance(assets, Iterable):
            raise TypeError(f"assets must be a list of assets (mappings), got {type(assets).__name__}")
        self.add_many_json(_dumps(list(assets)))

    @_changes_memory
    def add_with_key(self, key: str, asset: Mapping[str, Any]) -> None:
        """Store `asset` under `key` instead of its own ``"id"`` (a lookup by
        slug answered with the canonical asset; the SDK's ``add(asset, key=)``).
        The asset still needs a non-empty string ``"id"``; an empty key is
        `MissingIdError`."""
        _native.check(
            _native.lib().asset_cache_add_with_key(
                self._handle(), _c_text(key, "key"), _json_bytes(_dumps(asset), "asset")
            )
        )

    @_changes_memory
    def remove(self, id: str) -> bool:
        """Remove the asset with this id; True when it was cached. The file is
        rewritten whole (``asset_cache_remove``); an empty id is `MissingIdError`."""
        out = ctypes.c_bool()
        _native.check(_native.lib().asset_cache_remove(self._handle(), _c_text(id, "id"), ctypes.byref(out)))
        return out.value

    # -- single-flight fetches (``asset_cache_begin_fetch`` + claims) -------

    def _end_claim(
        self, claim: ctypes.c_void_p, produce: Callable[[], bytes]
    ) -> Optional[Tuple[Any, BaseException]]:
        """Run `produce` for a claim and end the claim with its outcome.

        Returns the stale value (decoded JSON) and the fetch's exception, or
        None when the claim completed; raises what the fetch raised otherwise."""
        lib = _native.lib()
        try:
            text = produce()
        except Exception as e:
            message = _c_text(f"{type(e).__name__}: {e}".replace("\0", " "), "message")
            out = ctypes.c_void_p()
            status = lib.asset_cache_claim_fail(self._handle(), claim, message, ctypes.byref(out))
            if status == Status.STALE:
                return json.loads(_native.take_string(out).decode("utf-8")), e
            if status != Status.FETCH_FAILED:
                raise error_for(status, _native.last_error()) from e
            raise
        except BaseException:
            # KeyboardInterrupt, SystemExit: cancelled, not failed.
            lib.asset_cache_claim_abandon(claim)
            raise
        _native.check(lib.asset_cache_claim_complete(self._handle(), claim, text))
        return None

    @_changes_memory
    def get_or_fetch(
        self, id: str, fetch: Callable[[str], Mapping[str, Any]], *, wait_ms: int = -1
    ) -> Dict[str, Any]:
        """The asset with this id; when it is not cached, ``fetch(id)`` runs
        and its result is stored, once for the whole fleet (single-flight:
        other threads and processes asking for the same id wait, up to
        `wait_ms` milliseconds, negative forever, then read what was stored).

        `fetch` returns a mapping with a non-empty string ``"id"`` (stored
        under `id`). If it raises an `Exception`, nothing is stored and the
        exception propagates to this caller; except within the
        stale-if-error grace period (``stale_if_error_ms``), when the
        expired asset is returned as a `StaleAsset` (a dict; check
        ``isinstance(v, StaleAsset)``, ``v.error`` is the exception).
        KeyboardInterrupt and other BaseExceptions abandon the claim.

        Raises: what `fetch` raised; `LockTimeoutError` when another
        caller's fetch outlasts `wait_ms`; `InvalidJsonError` /
        `MissingIdError` / `TypeError`-derived failures of the returned
        value (nothing stored); the errors of `add`.
        """
        wait = _lock_timeout_ms(wait_ms, "wait_ms")
        claim = ctypes.c_void_p()
        out = ctypes.c_void_p()
        status = _native.lib().asset_cache_begin_fetch(
            self._handle(), _c_text(id, "id"), wait, ctypes.byref(claim), ctypes.byref(out)
        )
        if status == Status.OK:
            asset: Dict[str, Any] = json.loads(_native.take_string(out).decode("utf-8"))
            return asset
        if status != Status.NOT_FOUND:
            _native.check(status)
        holder: List[bytes] = []

        def produce() -> bytes:
            value = fetch(id)
            if not isinstance(value, Mapping):
                raise TypeError(f"fetch({id!r}) must return a mapping (an asset), got {type(value).__name__}")
            holder.append(_json_bytes(_dumps(value), "fetched asset"))
            return holder[0]

        stale = self._end_claim(claim, produce)
        if stale is not None:
            value, error = stale
            return StaleAsset(value, error)
        fetched: Dict[str, Any] = json.loads(holder[0])
        return fetched

    @_changes_memory
    def refresh_all(
        self, fetch_all: Callable[[], Iterable[Mapping[str, Any]]], *, wait_ms: int = -1
    ) -> List[Dict[str, Any]]:
        """All assets; when the store is empty or expired, ``fetch_all()``
        runs once for the fleet (single-flight, as `get_or_fetch`) and its
        assets replace the store. Failures as `get_or_fetch`, the stale
        value being a `StaleAssets` (a list)."""
        wait = _lock_timeout_ms(wait_ms, "wait_ms")
        claim = ctypes.c_void_p()
        out = ctypes.c_void_p()
        status = _native.lib().asset_cache_begin_refresh_all(
            self._handle(), wait, ctypes.byref(claim), ctypes.byref(out)
        )
        if status == Status.OK:
            assets: List[Dict[str, Any]] = json.loads(_native.take_string(out).decode("utf-8"))
            return assets
        if status != Status.NOT_FOUND:
            _native.check(status)
        holder: List[bytes] = []

        def produce() -> bytes:
            values = fetch_all()
            if isinstance(values, (Mapping, str, bytes, bytearray)) or not isinstance(values, Iterable):
                raise TypeError(f"fetch_all() must return a list of assets, got {type(values).__name__}")
            holder.append(_json_bytes(_dumps(list(values)), "fetched assets"))
            return holder[0]

        stale = self._end_claim(claim, produce)
        if stale is not None:
            value, error = stale
            return StaleAssets(value, error)
        fetched: List[Dict[str, Any]] = json.loads(holder[0])
        return fetched

    @_changes_memory
    def load(self) -> None:
        """Bring memory up to date with the file (other processes' writes).

        A missing file gives an empty store, an expired one is deleted, an
        unreadable one is moved aside to ``<name>.json.corrupt``.
        """
        _native.check(_native.lib().asset_cache_load(self._handle()))

    @_changes_memory
    def save(self) -> None:
        """Rewrite the file from the current state (compacts it; creates it when missing)."""
        _native.check(_native.lib().asset_cache_save(self._handle()))

    @_changes_memory
    def invalidate(self) -> None:
        """Empty the cache, start a fresh expiry, delete the cache file; the lock file is kept."""
        _native.check(_native.lib().asset_cache_invalidate(self._handle()))

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        if self.backend is not None:
            return f"<asset_cache.Cache {self.name} on {self.backend} {state}>"
        return f"<asset_cache.Cache {os.path.join(self.dir, self.name)}.json {state}>"
