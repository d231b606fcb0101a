"""Asset classes as the SDK's caches hold them (an `id`, a `__dict__`,
`from_dict`), and the original module loaded on its own."""

import importlib.metadata
import importlib.util
from typing import Any, Dict


class Model:
    """A plain asset (its fields in `__dict__`), rebuilt with `from_dict`."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "Model":
        return cls(**d)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __repr__(self) -> str:
        return f"Model({vars(self)!r})"


def fields(x: Any) -> Dict[str, Any]:
    """The fields of what a cache returned: the original gives the added dict or a loaded Model."""
    return dict(x) if isinstance(x, dict) else dict(vars(x))


def original_module():
    """aixplain 0.2.48's asset_cache.py, loaded from the installed package by
    path: it only needs filelock, so the SDK's heavy __init__ is skipped."""
    path = importlib.metadata.distribution("aixplain").locate_file("aixplain/utils/asset_cache.py")
    spec = importlib.util.spec_from_file_location("aixplain_asset_cache", str(path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
