"""`AssetCache`: a drop-in for aiXplain's ``aixplain.utils.asset_cache.AssetCache``.

Same constructor, attributes, methods and files as the released SDK
(aixplain 0.2.48, whose module and documentation this follows): the cache is
``<cache_folder>/<name>.json`` with the lock ``<cache_folder>/<name>.lock``,
``<name>`` being ``cache_filename`` or the class name in lower case, and
``cache_folder`` ``.cache`` in the working directory by default. So processes
running the original and processes running this share one cache.

Where the original has a known defect this class behaves as asset-cache does
(the fix is the point of using it):

* Lost updates: the original rewrites the whole file from its own memory on
  each ``add``, so concurrent writers erase each other's assets. Here each
  ``add`` is merged with the file under the lock: nothing is lost.
* Torn files: the original truncates and rewrites in place, so a crash
  mid-write leaves a partial file that the next ``load`` deletes. Here whole
  files are renamed into place and single adds are appended, so a crash
  leaves the file as it was before or after the write.
* Lock file: the original's ``invalidate`` deletes the lock file, which can
  give two processes "the" lock at once. Here the lock file is kept.
* Expired stores: a write to an expired store starts a fresh expiry instead
  of keeping the old one (which made the next ``load`` throw the write away);
  ``add_list`` always starts a fresh expiry.
* ``compute_expiry`` with an unparsable, zero or negative CACHE_EXPIRY_TIME
  logs a warning and uses the default, without deleting the variable (deleting it
  is ``unsetenv``, which is not thread-safe in a process hosting native code).
* Construction writes nothing (the original writes an empty file); the first
  write creates the file, as in the SDK's development branch.
* ``get`` and ``get_all`` always return ``cls.from_dict(...)`` instances built
  afresh (a copy the caller may mutate); the original returned the added
  object's ``__dict__`` after ``add`` in the same process and a
  ``from_dict`` instance after ``load``. An expired store answers ``get`` with
  None (the original served expired data from memory until ``load``).

Errors: like the original, ``load``, ``save``, ``add``, ``add_list`` and
``invalidate`` log an I/O or lock failure (logger ``asset_cache``; the
library's own warnings, such as a corrupt file set aside, go to
``asset_cache.library`` from the first AssetCache on) instead of raising,
because SDK code calls them without handling errors; pass ``strict=True`` to
have them raise `asset_cache.CacheError` (with ``.status``). A bad
``cache_filename`` raises `InvalidArgumentError` in both modes, and so does a
bad asset given to ``add`` (programming errors, as in the original, which
raises AttributeError from ``asset.id``): no non-empty str ``id`` raises
`MissingIdError`, which is also an AttributeError; not writable as JSON,
`InvalidJsonError`.

What is written: as in 0.2.48, ``serialize(asset.__dict__)``, credentials
included (the SDK's Model carries ``api_key``); the development branch's
field allowlist and credential scrubbing are not applied here.

From the SDK's development branch (unreleased when this was written): a
``cache_folder`` argument and `user_cache_folder` (its per-user folder), a
process-wide `AssetCache.shared`, ``get`` returning a copy, and ``in``. The
default folder stays the released 0.2.48's ``.cache`` until a released SDK
moves; pass ``cache_folder=user_cache_folder()`` to use the per-user one.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from typing import (
    Any,
    Dict,
    Generic,
    Iterator,
    List,
    Mapping,
    Optional,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from . import _native
from .cache import Cache, _dumps, _mask_password
from .errors import CacheError, InvalidArgumentError, InvalidJsonError, InvalidUtf8Error, MissingIdError, Status

__all__ = [
    "AssetCache",
    "Store",
    "serialize",
    "shared",
    "user_cache_folder",
    "CACHE_FOLDER",
    "CACHE_DURATION",
]

logger = logging.getLogger("asset_cache")

T = TypeVar("T")

#: The released SDK's (0.2.48) folder, relative to the working directory.
CACHE_FOLDER = ".cache"
#: The original's default TTL in seconds, when CACHE_EXPIRY_TIME is unset.
CACHE_DURATION = 86400
#: Environment variable naming the backend URL of every `AssetCache` built
#: without ``backend_url`` (the SDK builds its caches without arguments).
BACKEND_URL_ENV = "ASSET_CACHE_BACKEND_URL"
#: Environment variable giving their backend timeout, in milliseconds.
BACKEND_TIMEOUT_ENV = "ASSET_CACHE_BACKEND_TIMEOUT_MS"


def user_cache_folder() -> str:
    """The per-user cache folder of the SDK's development branch.

    ``$AIXPLAIN_CACHE_FOLDER/aixplain`` when that variable is set, else (on
    Windows) ``%LOCALAPPDATA%\\aixplain\\cache``, else
    ``$XDG_CACHE_HOME/aixplain``, else ``~/.cache/aixplain``; never the
    working directory. The folder is not created here (the first write does).
    """
    override = os.getenv("AIXPLAIN_CACHE_FOLDER")
    if override:
        return os.path.join(os.path.abspath(os.path.expanduser(override)), "aixplain")
    if sys.platform == "win32":  # pragma: no cover - the library is built for Linux
        root = os.getenv("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
        return os.path.join(root, "aixplain", "cache")
    xdg = os.getenv("XDG_CACHE_HOME")
    if xdg:
        return os.path.join(xdg, "aixplain")
    return os.path.join(os.path.expanduser("~"), ".cache", "aixplain")


def serialize(obj: Any) -> Any:
    """Turn a Python value into a JSON-ready one, exactly as the original's ``serialize``.

    str, int, float, bool and None as they are; list, tuple and set as lists;
    dict with its keys turned into str; an object with ``to_dict()`` through
    it; an object with ``__dict__`` through ``vars()``; anything else as
    ``str(obj)``. Nested values are converted the same way.
    """
    if isinstance(obj, (str, int, float, bool, type(None))):
        return obj
    if isinstance(obj, (list, tuple, set)):
        return [serialize(o) for o in obj]
    if isinstance(obj, dict):
        return {str(k): serialize(v) for k, v in obj.items()}
    if hasattr(obj, "to_dict"):
        return serialize(obj.to_dict())
    if hasattr(obj, "__dict__"):
        return serialize(vars(obj))
    return str(obj)


@dataclass
class Store(Generic[T]):
    """Cached assets and their expiry, as in the original.

    Attributes:
        data: mapping of asset id to asset. On an `AssetCache` this is a live,
            read-only view of the cache (``data.get(id)``, ``data[id]``, ``in``,
            ``len``, iteration), each read building a fresh ``cls.from_dict``
            instance: the SDK's ``ModelGetterMixin.get`` reads
            ``cache.store.data.get(model_id)`` directly.
        expiry: Unix time in seconds when the data expires (a float, as the
            original writes it, though its documentation says int).
    """

    data: Mapping[str, T]
    expiry: float


_log_installed = False


def _forward_library_log_once() -> None:
    # The original logs what goes wrong in load and save; the library's own
    # messages (a corrupt file set aside, a torn add dropped) go to the
    # logger "asset_cache.library" from the first AssetCache on.
    global _log_installed
    if not _log_installed:
        _log_installed = True
        _native.forward_library_log(logging.WARNING)


class _AssetIdError(MissingIdError, AttributeError):
    """MISSING_ID for an asset without an id; an AttributeError too, as the original raises from ``asset.id``."""


def _backend_options(url: Optional[str], timeout_ms: Optional[int]) -> Dict[str, Any]:
    # Arguments first, then the environment: the SDK constructs its caches
    # itself, so a fleet switches them to Redis with a variable.
    if url is None:
        url = os.getenv(BACKEND_URL_ENV) or None
    if url is None:
        return {}
    options: Dict[str, Any] = {"backend_url": url}
    if timeout_ms is None:
        raw = os.getenv(BACKEND_TIMEOUT_ENV)
        if raw:
            try:
                timeout_ms = int(raw)
            except ValueError:
                raise InvalidArgumentError(
                    Status.INVALID_ARGUMENT, f"{BACKEND_TIMEOUT_ENV}={raw!r} is not a number of milliseconds"
                ) from None
    if timeout_ms is not None:
        options["backend_timeout_ms"] = timeout_ms
    return options


def _compute_expiry() -> float:
    raw = os.getenv("CACHE_EXPIRY_TIME", CACHE_DURATION)
    try:
        ttl = int(raw)
        if ttl <= 0:
            raise ValueError(f"lifetime {ttl} is not positive")
    except (TypeError, ValueError) as e:
        logger.warning("Failed to parse CACHE_EXPIRY_TIME: %s, fallback to default value %s", e, CACHE_DURATION)
        ttl = CACHE_DURATION
    return time.time() + ttl


class _Core(Generic[T]):
    """The native handle and the reads, shared by an AssetCache and its views.

    The views (``store``, ``store.data``) hold this, not the AssetCache, so
    that nothing forms a reference cycle: the SDK builds an AssetCache per
    lookup, and each must free its native memory as soon as it is dropped,
    not at the next cyclic garbage collection.
    """

    __slots__ = (
        "name", "folder", "where", "lock_timeout_ms", "strict", "from_dict", "lock", "native", "open_error",
        "backend", "__weakref__",
    )

    def __init__(
        self, cls: Type[T], name: str, folder: str, lock_timeout_ms: int, strict: bool, backend: Dict[str, Any]
    ) -> None:
        self.name, self.folder, self.lock_timeout_ms, self.strict = name, folder, lock_timeout_ms, strict
        self.backend = backend
        # What log messages name: the file, or the cache on its server.
        url = backend.get("backend_url")
        self.where = os.path.join(folder, f"{name}.json") if url is None else f"{name} on {_mask_password(url)}"
        self.from_dict = getattr(cls, "from_dict", None)
        self.lock = threading.Lock()
        self.native: Optional[Cache] = None
        self.open_error: Optional[CacheError] = None
        _cores.add(self)

    def handle(self) -> Optional[Cache]:
        """The native cache, opened now if needed; None (logged) when opening fails."""
        c = self.native
        if c is not None:
            return c
        with self.lock:
            if self.native is None:
                try:
                    self.native = Cache(self.name, self.folder, lock_timeout_ms=self.lock_timeout_ms, **self.backend)
                    self.open_error = None
                except InvalidArgumentError:
                    raise
                except CacheError as e:
                    # The original logs a failed load and starts empty; so do
                    # we, and try to open again at the next call.
                    if self.strict:
                        raise
                    self.open_error = e
                    logger.error("asset_cache: cannot open %s: %s", self.where, e)
            return self.native

    def build(self, d: Dict[str, Any]) -> Any:
        return self.from_dict(d) if self.from_dict is not None else d

    def get(self, asset_id: object) -> Any:
        c = self.handle()
        if c is None or not isinstance(asset_id, str):
            return None
        try:
            text = c.get_json(asset_id)
        except (InvalidArgumentError, InvalidUtf8Error):  # a NUL or a lone surrogate: never cached
            return None
        return None if text is None else self.build(json.loads(text))

    def contains(self, asset_id: object) -> bool:
        c = self.handle()
        if c is None or not isinstance(asset_id, str):
            return False
        try:
            return c.get_json(asset_id) is not None
        except (InvalidArgumentError, InvalidUtf8Error):
            return False

    def raw_all(self) -> List[Dict[str, Any]]:
        c = self.handle()
        return [] if c is None else c.get_all()

    def expiry(self) -> float:
        c = self.handle()
        return c.expiry() if c is not None else _compute_expiry()


# Every live _Core, so that a child made by fork() drops the handles it
# inherited: the library refuses calls on a parent's handle in a child
# (INVALID_ARGUMENT), and an instance kept across a fork (shared(), a
# module-level cache in a preforking server) must go on working there, as
# the original does. The child reopens on its next call.
_cores: "weakref.WeakSet[_Core[Any]]" = weakref.WeakSet()


def _reopen_after_fork() -> None:
    for core in list(_cores):
        core.lock = threading.Lock()  # the parent's may have been held by another thread
        core.native = None  # freeing it in the child would release nothing


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reopen_after_fork)


class _DataView(Mapping[str, T]):
    """``store.data``: the cache seen as a read-only mapping of id to asset."""

    __slots__ = ("_core",)

    def __init__(self, core: _Core[T]) -> None:
        self._core = core

    def get(self, key: str, default: Any = None) -> Any:
        asset = self._core.get(key)
        return default if asset is None else asset

    def __getitem__(self, key: str) -> T:
        asset = self._core.get(key)
        if asset is None:
            raise KeyError(key)
        return asset  # type: ignore[no-any-return]

    def __contains__(self, key: object) -> bool:
        return self._core.contains(key)

    def __iter__(self) -> Iterator[str]:
        return iter([a["id"] for a in self._core.raw_all()])

    def __len__(self) -> int:
        # Without decoding every asset: an expired store reads as empty, as get_all does.
        c = self._core.handle()
        if c is None:
            return 0
        n = len(c)
        return n if n == 0 or c.expiry() >= time.time() else 0

    def values(self) -> List[T]:  # type: ignore[override]
        """A snapshot list of the assets, in insertion order."""
        return [self._core.build(a) for a in self._core.raw_all()]

    def items(self) -> List[Tuple[str, T]]:  # type: ignore[override]
        """A snapshot list of (id, asset) pairs, in insertion order."""
        build = self._core.build
        return [(a["id"], build(a)) for a in self._core.raw_all()]

    def keys(self) -> List[str]:  # type: ignore[override]
        """A snapshot list of the ids, in insertion order."""
        return list(self)

    def __repr__(self) -> str:
        return f"<asset_cache store.data of {self._core.where}>"


class _LiveStore(Store[T]):
    """``AssetCache.store``: ``data`` the live view, ``expiry`` read from the cache on access."""

    def __init__(self, core: _Core[T]) -> None:  # no dataclass __init__: expiry is live
        self._core = core
        self.data = _DataView(core)

    @property
    def expiry(self) -> float:  # type: ignore[override]
        return self._core.expiry()


class AssetCache(Generic[T]):
    """A persistent, expiring, multi-process-safe cache of ``cls`` assets.

    Drop-in for ``aixplain.utils.asset_cache.AssetCache`` (aixplain 0.2.48);
    see the module documentation for what differs and why.

    Args:
        cls: the asset class. Assets need an ``id`` (a non-empty str);
            ``cls.from_dict(dict)`` rebuilds them (without it, dicts are returned).
        cache_filename: base name of the files; None uses ``cls.__name__.lower()``.
        cache_folder: folder of the files; None is ``.cache`` in the working
            directory (the released SDK's); see `user_cache_folder`.
        lock_timeout_ms: longest wait for another process's lock, in
            milliseconds (the original waited forever); default 30000.
        strict: raise `CacheError` from writes and loads instead of logging.
        backend_url: keep the cache on a Redis server instead of in
            ``cache_folder`` (``"redis://[user:password@]host[:port][/db]"``,
            see `asset_cache.Cache`), shared by processes on many hosts
            under the same ``cache_filename``. None reads the environment
            variable ASSET_CACHE_BACKEND_URL (at construction, as the
            original reads CACHE_EXPIRY_TIME), so that the SDK's own
            ``AssetCache(Model)`` reaches Redis too; unset or empty: files.
            A URL that does not parse raises `InvalidArgumentError` in both
            modes (a configuration error); an unreachable server is logged
            like any failed load (raised with ``strict=True``) and the next
            call tries again.
        backend_timeout_ms: longest wait for each answer of the server, in
            milliseconds; None reads ASSET_CACHE_BACKEND_TIMEOUT_MS, else
            the library's 5000.

    Attributes:
        cls, cache_folder, cache_file, lock_file: as in the original.
        store: a `Store` whose ``data`` is a live, read-only mapping view and
            whose ``expiry`` is read from the cache at each access.
        native: the underlying `asset_cache.Cache`.
    """

    def __init__(
        self,
        cls: Type[T],
        cache_filename: Optional[str] = None,
        cache_folder: Optional[Union[str, "os.PathLike[str]"]] = None,
        *,
        lock_timeout_ms: int = 30_000,
        strict: bool = False,
        backend_url: Optional[str] = None,
        backend_timeout_ms: Optional[int] = None,
    ) -> None:
        self.cls = cls
        if cache_filename is None:
            cache_filename = cls.__name__.lower()
        self.cache_filename = cache_filename
        self.cache_folder = CACHE_FOLDER if cache_folder is None else os.fspath(cache_folder)
        self.cache_file = os.path.join(self.cache_folder, f"{cache_filename}.json")
        self.lock_file = os.path.join(self.cache_folder, f"{cache_filename}.lock")
        self.strict = strict
        backend = _backend_options(backend_url, backend_timeout_ms)
        #: The backend URL in use (password masked), or None for files.
        self.backend = None if "backend_url" not in backend else _mask_password(backend["backend_url"])
        self._core: _Core[T] = _Core(cls, cache_filename, self.cache_folder, lock_timeout_ms, strict, backend)
        self._store: Store[T] = _LiveStore(self._core)
        _forward_library_log_once()
        self._core.handle()

    # -- the native handle -------------------------------------------------

    @property
    def native(self) -> Cache:
        """The `asset_cache.Cache` under this object (opened now if it failed before).

        Raises the `CacheError` of the failed open when it still fails.
        """
        c = self._core.handle()
        if c is None:
            assert self._core.open_error is not None
            raise self._core.open_error
        return c

    def _failed(self, what: str, e: CacheError) -> None:
        if self.strict:
            raise e
        logger.error("asset_cache: %s failed for %s: %s", what, self._core.where, e)

    def close(self) -> None:
        """Free the native handle now instead of when this object is dropped. Idempotent."""
        with self._core.lock:
            if self._core.native is not None:
                self._core.native.close()

    # -- expiry ------------------------------------------------------------

    def compute_expiry(self) -> float:
        """``time.time()`` + CACHE_EXPIRY_TIME seconds (default 86400), as the original.

        An unparsable, zero or negative CACHE_EXPIRY_TIME logs a warning and
        gives the default, as the library does when it opens a cache; unlike
        the original, the variable is left in the environment, and a lifetime
        that is not positive (which made every write vanish) is not used.
        """
        return _compute_expiry()

    @property
    def store(self) -> Store[T]:
        """The store: ``data`` a live read-only mapping id -> asset, ``expiry`` in Unix seconds (read live)."""
        return self._store

    def has_valid_cache(self) -> bool:
        """True when the store has not expired and holds at least one asset."""
        c = self._core.handle()
        return c is not None and c.has_valid_cache()

    # -- reads ---------------------------------------------------------------

    def get(self, asset_id: str) -> Optional[T]:
        """The asset with this id, as a fresh ``cls.from_dict`` instance, or None.

        Reads memory, as the original does (``load`` sees other processes'
        writes; every ``add`` of this object already merged them).
        None for an id that is absent or not a str, or when the store has expired.
        """
        return self._core.get(asset_id)  # type: ignore[no-any-return]

    def __contains__(self, asset_id: object) -> bool:
        return self._core.contains(asset_id)

    def get_all(self) -> List[T]:
        """All assets, fresh ``cls.from_dict`` instances in insertion order ([] when empty or expired)."""
        build = self._core.build
        return [build(d) for d in self._core.raw_all()]

    # -- writes --------------------------------------------------------------

    @staticmethod
    def _payload(asset: Any) -> Dict[str, Any]:
        # The original stores asset.__dict__ under asset.id and writes it
        # through serialize(); the library keys by the "id" field, so it must
        # be there and agree with asset.id.
        asset_id = getattr(asset, "id", None)
        if not isinstance(asset_id, str) or not asset_id:
            raise _AssetIdError(Status.MISSING_ID, f"asset {type(asset).__name__} has no non-empty str 'id' attribute")
        payload = serialize(vars(asset)) if hasattr(asset, "__dict__") else serialize(asset)
        if not isinstance(payload, dict):
            raise _AssetIdError(Status.MISSING_ID, f"asset {asset_id!r} does not serialize to a JSON object")
        if payload.get("id") != asset_id:
            payload = {**payload, "id": asset_id}
        return payload

    def add(self, asset: T) -> None:
        """Add or replace one asset (``asset.__dict__`` through `serialize`, under ``asset.id``).

        On disk when this returns, merged with other processes' writes under
        the lock (the original overwrote them). I/O and lock failures are
        logged (raised with ``strict=True``); the asset is then not cached.

        Raises (in both modes, as the original raises AttributeError from
        ``asset.id``): `MissingIdError`, also an AttributeError, for an asset
        without a non-empty str ``id`` or that does not serialize to a JSON
        object; `InvalidJsonError` (a ValueError) for one that cannot be
        written as JSON (NaN, a circular reference, a failing ``to_dict``).
        """
        try:
            text = _dumps(self._payload(asset))
        except CacheError:
            raise
        except (ValueError, TypeError, RecursionError) as e:
            raise InvalidJsonError(Status.INVALID_JSON, f"asset cannot be serialized: {e}") from e
        try:
            self.native.add_json(text)
        except CacheError as e:
            self._failed("add", e)

    def add_list(self, assets: List[T]) -> None:
        """Replace all cached assets with these (the last of equal ids wins), with a fresh expiry.

        An asset without a non-empty str ``id`` raises `MissingIdError` (also an
        AttributeError, as the original's ``asset.id`` raises) and nothing
        changes. The original skipped an asset that failed to serialize and
        saved the rest; so does this (logged).
        """
        payloads = []
        for asset in assets:
            try:
                payloads.append(_dumps(self._payload(asset)))
            except _AssetIdError:
                raise
            except (CacheError, ValueError, TypeError, RecursionError) as e:
                if self.strict:
                    raise
                logger.error("asset_cache: skipping %r in add_list for %s: %s", getattr(asset, "id", asset), self._core.where, e)
        try:
            self.native.add_list_json("[" + ",".join(payloads) + "]")
        except CacheError as e:
            self._failed("add_list", e)

    def load(self) -> None:
        """Bring memory up to date with the file.

        A missing file gives an empty store; an expired file is deleted; an
        unreadable file is moved aside to ``<name>.json.corrupt`` (the original
        deleted it) and the store starts empty.
        """
        try:
            self.native.load()
        except CacheError as e:
            self._failed("load", e)

    def save(self) -> None:
        """Rewrite the file from memory (every add is already on disk; this compacts it)."""
        try:
            self.native.save()
        except CacheError as e:
            self._failed("save", e)

    def invalidate(self) -> None:
        """Empty the cache with a fresh expiry and delete the cache file; the lock file is kept."""
        try:
            self.native.invalidate()
        except CacheError as e:
            self._failed("invalidate", e)

    # -- shared instances (SDK development branch) ---------------------------

    _instances: Dict[Tuple[Any, ...], "AssetCache[Any]"] = {}
    _instances_lock = threading.Lock()

    @classmethod
    def shared(
        cls,
        asset_cls: Type[T],
        cache_filename: Optional[str] = None,
        cache_folder: Optional[Union[str, "os.PathLike[str]"]] = None,
    ) -> "AssetCache[T]":
        """One process-wide instance per (asset class, file name, folder), created on first use.

        Thread-safe. Saves reopening (and reparsing) the file for every lookup.
        """
        folder = os.path.abspath(CACHE_FOLDER if cache_folder is None else os.fspath(cache_folder))
        key = (cls, asset_cls, cache_filename, folder)
        with cls._instances_lock:
            inst = cls._instances.get(key)
            if inst is None:
                inst = cls(asset_cls, cache_filename, folder)
                cls._instances[key] = inst
            return inst

    def __repr__(self) -> str:
        return f"<asset_cache.AssetCache of {self.cls.__name__} at {self._core.where}>"


def shared(
    cls: Type[T],
    cache_filename: Optional[str] = None,
    cache_folder: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> AssetCache[T]:
    """`AssetCache.shared`: the process-wide drop-in instance for ``cls``."""
    return AssetCache.shared(cls, cache_filename, cache_folder)
