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
* ``get`` and ``get_all`` return ``cls.from_dict(...)`` instances; the
  original returned the added object's ``__dict__`` after ``add`` in the
  same process and a ``from_dict`` instance after ``load``. As in the
  original, it is the same object for an id on every read until memory
  changes (an ``add``, ``load`` or ``invalidate`` of this object): decoded
  once, kept, and dropped at the change; a kept instance reads a plain dict
  of them, as the original does. ``copies=True`` gives the development
  branch's behaviour instead (a new instance, a copy the caller may mutate,
  on every read). An expired store answers ``get`` with None (the original
  served expired data from memory until ``load``).

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
process-wide `AssetCache.shared`, ``get`` returning a copy (with
``copies=True``; the default follows the released 0.2.48), and ``in``. The
default folder stays the released 0.2.48's ``.cache`` until a released SDK
moves; pass ``cache_folder=user_cache_folder()`` to use the per-user one.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
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
            ``len``, iteration) giving the objects `AssetCache.get` gives
            (on a kept instance, a plain dict of them): the SDK's
            ``ModelGetterMixin.get`` reads ``cache.store.data.get(model_id)``
            directly.
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


class _Memo(Dict[str, Any]):
    """Assets decoded since memory last changed, by id, for one state of memory.

    Replaced whole (never emptied) when memory may have changed, so a read
    that raced the change stores into a dict nobody reads any more.
    """

    __slots__ = ("until", "gets", "threshold")

    def __init__(self) -> None:
        super().__init__()
        self.until = -math.inf  # the store's expiry (Unix seconds), read at the first fill
        self.gets = 0  # reads answered since memory last changed
        self.threshold = 0  # reads after which every asset is decoded at once (see _Core.get)


class _Core(Generic[T]):
    """The native handle and the reads, shared by an AssetCache and its views.

    The views (``store``, ``store.data``) hold this, not the AssetCache, so
    that nothing forms a reference cycle: the SDK builds an AssetCache per
    lookup, and each must free its native memory as soon as it is dropped,
    not at the next cyclic garbage collection.

    Decoded assets are kept (`_Memo`) until the handle's memory may change:
    the native `Cache` tells `changed` after every write, load, fetch or
    close, which is the only way its memory changes (the drop-in never turns
    fresh reads on). After enough reads on one state of memory (a kept
    instance, not the SDK's instance per lookup), every asset is decoded
    once and ``store.data`` becomes a plain dict of them (a dict, not a
    subclass: CPython runs ``dict.get`` on a subclass the slow way) until the next change
    or the store's expiry, whichever comes first (`_expiry_reaper`).
    """

    __slots__ = (
        "name", "folder", "where", "lock_timeout_ms", "strict", "from_dict", "lock", "native", "open_error",
        "backend", "copies", "memo", "generation", "store", "__weakref__",
    )

    def __init__(
        self,
        cls: Type[T],
        name: str,
        folder: str,
        lock_timeout_ms: int,
        strict: bool,
        backend: Dict[str, Any],
        copies: bool,
    ) -> None:
        self.name, self.folder, self.lock_timeout_ms, self.strict = name, folder, lock_timeout_ms, strict
        self.backend = backend
        # What log messages name: the file, or the cache on its server.
        url = backend.get("backend_url")
        self.where = os.path.join(folder, f"{name}.json") if url is None else f"{name} on {_mask_password(url)}"
        self.from_dict = getattr(cls, "from_dict", None)
        # Reentrant: AssetCache.close holds it while the native close tells changed().
        self.lock = threading.RLock()
        self.native: Optional[Cache] = None
        self.open_error: Optional[CacheError] = None
        self.copies = copies
        self.memo: Optional[_Memo] = None if copies else _Memo()
        self.generation = 0  # counts changes, so that a stale expiry timer does nothing
        # The _LiveStore whose ``data`` is swapped; weak: the store holds this core.
        self.store: Optional["weakref.ref[_LiveStore[T]]"] = None
        _cores.add(self)

    def handle(self) -> Optional[Cache]:
        """The native cache, opened now if needed; None (logged) when opening fails."""
        c = self.native
        if c is not None:
            return c
        with self.lock:
            if self.native is None:
                try:
                    native = Cache(self.name, self.folder, lock_timeout_ms=self.lock_timeout_ms, **self.backend)
                    native._on_change = weakref.WeakMethod(self.changed)
                    self.native = native
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
        if self.native is not None:
            self.changed()
        return self.native

    def changed(self) -> None:
        """Memory may differ from what was decoded: drop it (called after the native call)."""
        with self.lock:
            self.generation += 1
            if not self.copies:
                self.memo = _Memo()
            store = self.store() if self.store is not None else None
            if store is not None and store.data is not store.view:
                store.data = store.view

    def expire(self, generation: int) -> None:
        """The store decoded at `generation` has expired: reads go to the library again."""
        with self.lock:
            if self.generation == generation:
                self.generation += 1
                self.memo = None if self.copies else _Memo()
                store = self.store() if self.store is not None else None
                if store is not None:
                    store.data = store.view

    def build(self, d: Dict[str, Any]) -> Any:
        return self.from_dict(d) if self.from_dict is not None else d

    def get(self, asset_id: object) -> Any:
        c = self.handle()
        if c is None or not isinstance(asset_id, str):
            return None
        memo = self.memo  # before reading: a change meanwhile replaces it
        if memo is not None and _time() < memo.until:
            hit = memo.get(asset_id)
            if hit is not None:
                memo.gets += 1
                if memo.gets >= memo.threshold:
                    self.decode_all(c, memo)
                return hit
        try:
            text = c.get_json(asset_id)
        except (InvalidArgumentError, InvalidUtf8Error):  # a NUL or a lone surrogate: never cached
            return None
        if text is None:
            return None
        asset = self.build(json.loads(text))
        if memo is not None:
            if memo.until == -math.inf:
                # A kept instance decodes everything once it has answered a
                # quarter of the store's size in reads (at least 64): the
                # SDK's instance per lookup never does, and a store that
                # changes often is not decoded whole more than once per
                # quarter-store of reads.
                memo.until = c.expiry()
                memo.threshold = max(64, len(c) // 4)
            memo[asset_id] = asset
            memo.gets += 1
            if memo.gets >= memo.threshold:
                self.decode_all(c, memo)
        return asset

    def decode_all(self, c: Cache, memo: _Memo) -> None:
        """Make ``store.data`` a dict of every asset, if memory is still `memo`'s."""
        memo.threshold = sys.maxsize  # once per state of memory, even if this fails
        with self.lock:
            generation = self.generation
        until = c.expiry()
        raw = c.get_all()
        if self.memo is not memo or _time() >= until:
            return
        build = self.build
        snapshot: Dict[str, Any] = {}
        for d in raw:
            asset_id = d["id"]
            kept = memo.get(asset_id)
            snapshot[asset_id] = kept if kept is not None else build(d)
        with self.lock:
            store = self.store() if self.store is not None else None
            if self.generation != generation or store is None:
                return
            store.data = snapshot
        _expiry_reaper.schedule(until, self, generation)

    def contains(self, asset_id: object) -> bool:
        c = self.handle()
        if c is None or not isinstance(asset_id, str):
            return False
        memo = self.memo
        if memo is not None and _time() < memo.until and asset_id in memo:
            return True
        try:
            return c.get_json(asset_id) is not None
        except (InvalidArgumentError, InvalidUtf8Error):
            return False

    def raw_all(self) -> List[Dict[str, Any]]:
        c = self.handle()
        return [] if c is None else c.get_all()

    def all(self) -> List[Tuple[str, Any]]:
        """(id, asset) for every asset in insertion order, the decoded ones reused."""
        c = self.handle()
        if c is None:
            return []
        memo = self.memo
        raw = c.get_all()
        if memo is None:
            return [(d["id"], self.build(d)) for d in raw]
        out = []
        for d in raw:
            asset_id = d["id"]
            kept = memo.get(asset_id)
            if kept is None:
                kept = memo[asset_id] = self.build(d)
            out.append((asset_id, kept))
        return out

    def expiry(self) -> float:
        c = self.handle()
        return c.expiry() if c is not None else _compute_expiry()


class _ExpiryReaper:
    """One daemon thread that turns snapshots back into live views when their
    store expires (``store.data.get`` on a dict runs no Python code
    that could look at the clock). Started at the first snapshot."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.heap: List[Tuple[float, int, "weakref.ref[_Core[Any]]", int]] = []
        self.seq = 0
        self.thread: Optional[threading.Thread] = None

    def schedule(self, until: float, core: "_Core[Any]", generation: int) -> None:
        with self.cond:
            if len(self.heap) > 1024:  # drop the timers of changed or dropped caches
                self.heap = [e for e in self.heap if (k := e[2]()) is not None and k.generation == e[3]]
                heapq.heapify(self.heap)
            self.seq += 1
            heapq.heappush(self.heap, (until, self.seq, weakref.ref(core), generation))
            if self.thread is None:
                self.thread = threading.Thread(target=self.run, name="asset_cache-expiry", daemon=True)
                self.thread.start()
            self.cond.notify()

    def run(self) -> None:
        while True:
            with self.cond:
                while not self.heap or self.heap[0][0] > _time():
                    # Woken by a new timer; re-checked at least every minute,
                    # since the wall clock may move under the monotonic wait.
                    self.cond.wait(60.0 if not self.heap else min(60.0, self.heap[0][0] - _time()))
                _, _, ref, generation = heapq.heappop(self.heap)
            core = ref()
            if core is not None:
                core.expire(generation)

    def after_fork(self) -> None:
        self.cond = threading.Condition()
        self.heap = []
        self.thread = None


_expiry_reaper = _ExpiryReaper()
_time = time.time


# Every live _Core, so that a child made by fork() drops the handles it
# inherited: the library refuses calls on a parent's handle in a child
# (INVALID_ARGUMENT), and an instance kept across a fork (shared(), a
# module-level cache in a preforking server) must go on working there, as
# the original does. The child reopens on its next call.
_cores: "weakref.WeakSet[_Core[Any]]" = weakref.WeakSet()


def _reopen_after_fork() -> None:
    _expiry_reaper.after_fork()
    for core in list(_cores):
        core.lock = threading.RLock()  # the parent's may have been held by another thread
        core.native = None  # freeing it in the child would release nothing
        core.generation += 1
        core.memo = None if core.copies else _Memo()
        store = core.store() if core.store is not None else None
        if store is not None:
            store.data = store.view


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
        return [a for _, a in self._core.all()]

    def items(self) -> List[Tuple[str, T]]:  # type: ignore[override]
        """A snapshot list of (id, asset) pairs, in insertion order."""
        return self._core.all()

    def keys(self) -> List[str]:  # type: ignore[override]
        """A snapshot list of the ids, in insertion order."""
        return list(self)

    def __repr__(self) -> str:
        return f"<asset_cache store.data of {self._core.where}>"


class _LiveStore(Store[T]):
    """``AssetCache.store``: ``data`` a live view (or, on a kept instance, a
    dict of every asset), ``expiry`` read from the cache on access."""

    def __init__(self, core: _Core[T]) -> None:  # no dataclass __init__: expiry is live
        self._core = core
        self.view: _DataView[T] = _DataView(core)
        self.data: Mapping[str, T] = self.view
        core.store = weakref.ref(self)

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
        copies: False (the default, as the released 0.2.48): `get`,
            `get_all` and ``store.data`` return the same object for an id
            until memory changes (a write, ``load``, ``invalidate`` by this
            object), so a caller that mutates it changes what later gets
            return, as with the original's dict; True: a new
            ``cls.from_dict`` instance on every read, a copy the caller may
            mutate (the SDK's development branch), at the cost of decoding
            JSON on every read.

    Attributes:
        cls, cache_folder, cache_file, lock_file: as in the original.
        store: a `Store` whose ``data`` is a mapping of id to asset, to be
            read (a live view of memory; on a kept instance, after a quarter
            of the store's size in reads, a plain dict of every asset
            decoded, replaced by the view again when memory changes or the
            store expires: writing into that dict changes nothing in the
            cache, use `add`) and whose ``expiry`` is read from the cache at
            each access.
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
        copies: bool = False,
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
        self._core: _Core[T] = _Core(cls, cache_filename, self.cache_folder, lock_timeout_ms, strict, backend, copies)
        self._live: _LiveStore[T] = _LiveStore(self._core)
        # A plain attribute, as in the original: the SDK reads
        # cache.store.data.get(id) on every lookup.
        self.store: Store[T] = self._live
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

    def has_valid_cache(self) -> bool:
        """True when the store has not expired and holds at least one asset."""
        c = self._core.handle()
        return c is not None and c.has_valid_cache()

    # -- reads ---------------------------------------------------------------

    def get(self, asset_id: str) -> Optional[T]:
        """The asset with this id (a ``cls.from_dict`` instance), or None.

        As in the released original, the same object each time until memory
        changes (with ``copies=True``, a new one each time, as the SDK's
        development branch). Reads memory, as the original does (``load``
        sees other processes' writes; every ``add`` of this object already
        merged them). None for an id that is absent or not a str, or when
        the store has expired.
        """
        try:
            return self._live.data.get(asset_id)
        except TypeError:  # an unhashable id, which a dict refuses
            return None

    def __contains__(self, asset_id: object) -> bool:
        return isinstance(asset_id, str) and asset_id in self._live.data

    def get_all(self) -> List[T]:
        """All assets in insertion order ([] when empty or expired): the objects `get` returns."""
        data = self._live.data
        if data is not self._live.view:
            return list(data.values())
        return [a for _, a in self._core.all()]

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
