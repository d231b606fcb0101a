"""`use_in_aixplain()`: make the installed aiXplain SDK use this package's cache.

The SDK builds its caches with ``AssetCache(Model)`` and friends, imported
from ``aixplain.utils.asset_cache`` (e.g. by the v1
``ModelGetterMixin.get``, which then reads ``cache.store.data.get(id)``).
Replacing that class, in the module and in every already imported SDK module
holding it, is enough for all of the SDK's cache use to go through
asset-cache, sharing the same ``.cache/<name>.json`` files and lock with
processes still running the original.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional, Type, Union, cast

from .dropin import AssetCache

__all__ = ["use_in_aixplain"]

SDK_MODULE = "aixplain.utils.asset_cache"


def use_in_aixplain(
    cache_folder: Optional[Union[str, "os.PathLike[str]"]] = None,
    *,
    backend_url: Optional[str] = None,
    enabled: bool = True,
) -> Type[Any]:
    """Replace the aiXplain SDK's ``AssetCache`` with `asset_cache.AssetCache`. Idempotent.

    Call it once, before or after importing the SDK's factories, e.g. at the
    top of a program: ``import asset_cache; asset_cache.use_in_aixplain()``.

    Args:
        cache_folder: folder for the SDK's caches; None keeps the released
            SDK's ``.cache`` in the working directory (so a fleet with
            processes still running the original keeps sharing one cache);
            ``asset_cache.user_cache_folder()`` gives the development
            branch's per-user folder.
        backend_url: keep the SDK's caches on this Redis server
            (``"redis://host:6379/0"``), shared by processes on many hosts;
            None leaves the choice to the environment variable
            ASSET_CACHE_BACKEND_URL, read by each `asset_cache.AssetCache`
            the SDK builds (unset: files). Not checked here: a bad URL
            raises `InvalidArgumentError` from the SDK's first cache.
        enabled: False puts the SDK's own class back everywhere.

    Returns:
        The SDK's original class.

    Raises:
        ImportError: the aixplain package is not installed.
    """
    import importlib

    module = importlib.import_module(SDK_MODULE)
    original = getattr(module, "_asset_cache_original", None) or module.AssetCache
    current = module.AssetCache

    if not enabled:
        replacement: Type[Any] = original
    elif cache_folder is None and backend_url is None:
        replacement = AssetCache
    else:
        folder = None if cache_folder is None else os.fspath(cache_folder)
        url = backend_url

        class SdkAssetCache(AssetCache):  # type: ignore[type-arg]
            """`asset_cache.AssetCache` with the folder and backend given to use_in_aixplain as defaults."""

            def __init__(self, cls: Any, cache_filename: Optional[str] = None, cache_folder: Any = None, **kw: Any):
                if url is not None:
                    kw.setdefault("backend_url", url)
                super().__init__(cls, cache_filename, folder if cache_folder is None else cache_folder, **kw)

        replacement = SdkAssetCache

    module._asset_cache_original = original  # type: ignore[attr-defined]
    for name, mod in list(sys.modules.items()):
        if mod is None or not (name == "aixplain" or name.startswith("aixplain.")):
            continue
        held = getattr(mod, "AssetCache", None)
        if held is not None and (held is original or held is current):
            setattr(mod, "AssetCache", replacement)
    setattr(module, "AssetCache", replacement)
    return cast(Type[Any], original)
