"""Statuses of the C API, and the exceptions that carry them.

Every fallible call of `asset_cache.h` returns an `asset_cache_status`; the
binding turns each status other than OK into an exception whose ``status``
is the code (a `Status`) and whose ``message`` is the library's
``asset_cache_last_error()`` text, naming the problem. NOT_FOUND is not an
error: `Cache.get` returns None for it.
"""

from __future__ import annotations

import enum
from typing import Dict, Type

__all__ = [
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


class Status(enum.IntEnum):
    """`asset_cache_status` from asset_cache.h: the same numbers, never renumbered."""

    OK = 0
    NOT_FOUND = 1
    INVALID_ARGUMENT = 2
    INVALID_UTF8 = 3
    INVALID_JSON = 4
    MISSING_ID = 5
    IO = 6
    LOCK = 7
    LOCK_TIMEOUT = 8
    NO_MEMORY = 9
    PANIC = 10
    BACKEND_UNAVAILABLE = 11
    BACKEND_ERROR = 12
    FETCH_FAILED = 13
    STALE = 14


class CacheError(Exception):
    """A call of the library failed.

    Attributes:
        status: the `Status` the C call returned (an int for a code this
            version does not know).
        message: the library's message for it (``asset_cache_last_error()``).
    """

    def __init__(self, status: int, message: str) -> None:
        try:
            status = Status(status)
            name = status.name
        except ValueError:
            name = str(status)
        super().__init__(f"{name}: {message}" if message else name)
        self.status = status
        self.message = message


class InvalidArgumentError(CacheError, ValueError):
    """INVALID_ARGUMENT: a bad cache name, folder or option."""


class InvalidUtf8Error(CacheError, ValueError):
    """INVALID_UTF8: a string is not valid UTF-8 (e.g. lone surrogates)."""


class InvalidJsonError(CacheError, ValueError):
    """INVALID_JSON: text is not JSON, or add_list was not given an array."""


class MissingIdError(CacheError, ValueError):
    """MISSING_ID: an asset is not an object with a non-empty string "id"."""


class CacheIOError(CacheError, OSError):
    """IO: the file system failed; the cache file is as it was before the call."""

    def __init__(self, status: int, message: str) -> None:
        CacheError.__init__(self, status, message)


class LockError(CacheError):
    """LOCK: the lock file could not be opened or locked."""


class LockTimeoutError(CacheError, TimeoutError):
    """LOCK_TIMEOUT: another process held the lock longer than lock_timeout_ms."""

    def __init__(self, status: int, message: str) -> None:
        CacheError.__init__(self, status, message)


class CacheMemoryError(CacheError, MemoryError):
    """NO_MEMORY: memory for a returned string could not be allocated."""


class InternalError(CacheError):
    """PANIC: a bug inside the library was caught at the C boundary; the handle is still usable."""


class BackendUnavailableError(CacheError, ConnectionError):
    """BACKEND_UNAVAILABLE: the backend server (Redis) cannot be reached or gave no
    answer in time; memory is as it was, and a later call may succeed."""

    def __init__(self, status: int, message: str) -> None:
        CacheError.__init__(self, status, message)


class BackendError(CacheError):
    """BACKEND_ERROR: the backend server refused the operation (credentials, a key of
    another type, out of memory, ...); the message names the server."""


_BY_STATUS: Dict[int, Type[CacheError]] = {
    Status.INVALID_ARGUMENT: InvalidArgumentError,
    Status.INVALID_UTF8: InvalidUtf8Error,
    Status.INVALID_JSON: InvalidJsonError,
    Status.MISSING_ID: MissingIdError,
    Status.IO: CacheIOError,
    Status.LOCK: LockError,
    Status.LOCK_TIMEOUT: LockTimeoutError,
    Status.NO_MEMORY: CacheMemoryError,
    Status.PANIC: InternalError,
    Status.BACKEND_UNAVAILABLE: BackendUnavailableError,
    Status.BACKEND_ERROR: BackendError,
}


def error_for(status: int, message: str) -> CacheError:
    """The exception for a status: its subclass, or CacheError for an unknown code."""
    return _BY_STATUS.get(status, CacheError)(status, message)
