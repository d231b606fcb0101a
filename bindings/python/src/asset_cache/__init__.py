"""asset-cache for Python: a persistent, expiring, multi-process-safe cache of JSON assets.

Two layers over the bundled ``libasset_cache.so`` (its C API, through ctypes):

* `Cache`: the C API, one method per call (``asset_cache_open`` ->
  ``Cache(name, dir)``, ``asset_cache_add`` -> ``Cache.add``, ...), statuses
  raised as `CacheError` subclasses carrying ``.status`` (a `Status`).
* `AssetCache`: a drop-in for the aiXplain SDK's
  ``aixplain.utils.asset_cache.AssetCache`` (aixplain 0.2.48): same API, same
  files and lock, without its lost updates, torn files and lock-file
  deletion. `use_in_aixplain` switches the installed SDK over in one line.
"""

from ._native import forward_library_log
from .cache import Cache, StaleAsset, StaleAssets, status_str, version
from .dropin import (
    CACHE_DURATION,
    CACHE_FOLDER,
    AssetCache,
    Store,
    serialize,
    shared,
    user_cache_folder,
)
from .errors import (
    BackendError,
    BackendUnavailableError,
    CacheError,
    CacheIOError,
    CacheMemoryError,
    InternalError,
    InvalidArgumentError,
    InvalidJsonError,
    InvalidUtf8Error,
    LockError,
    LockTimeoutError,
    MissingIdError,
    Status,
)
from .sdk import use_in_aixplain

__version__ = "0.2.0"

__all__ = [
    "Cache",
    "StaleAsset",
    "StaleAssets",
    "version",
    "status_str",
    "forward_library_log",
    "AssetCache",
    "Store",
    "serialize",
    "shared",
    "user_cache_folder",
    "use_in_aixplain",
    "CACHE_FOLDER",
    "CACHE_DURATION",
    "Status",
    "CacheError",
    "InvalidArgumentError",
    "InvalidUtf8Error",
    "InvalidJsonError",
    "MissingIdError",
    "CacheIOError",
    "LockError",
    "LockTimeoutError",
    "CacheMemoryError",
    "InternalError",
    "BackendUnavailableError",
    "BackendError",
]
