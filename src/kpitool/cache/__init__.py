"""The per-user cache of file fingerprints, transcoded inputs, data checks and plan results.

`store()` is the process's cache (None under `--no-cache`); `fingerprint(path)` a file's
content hash, computed once per file state. See README "Cache".
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from kpitool.cache.keys import canonical, code_fingerprint, make_key, stat_key
from kpitool.cache.store import (
    DEFAULT_LIMIT,
    STATS,
    CacheInfo,
    Store,
    cache_location,
    file_digest,
    parse_size,
)

__all__ = [
    "DEFAULT_LIMIT",
    "STATS",
    "CacheInfo",
    "Store",
    "cache_location",
    "canonical",
    "code_fingerprint",
    "configure",
    "file_digest",
    "fingerprint",
    "make_key",
    "open_store",
    "parse_size",
    "store",
]

_SETTINGS: dict[str, object] = {"enabled": True, "limit": None}
_OPEN: dict[tuple[Path, int], Store] = {}
_KNOWN: dict[str, str] = {}
"""File states already fingerprinted in this process (a run asks for the same files often)."""


def configure(*, enabled: bool | None = None, limit: int | None = None) -> None:
    """Turn the cache off (`--no-cache`) or set its bound (kpitool.toml's cache_size)."""
    if enabled is not None:
        _SETTINGS["enabled"] = enabled
    if limit is not None:
        _SETTINGS["limit"] = limit


def _limit() -> int:
    if isinstance(_SETTINGS["limit"], int):
        return _SETTINGS["limit"]
    text = os.environ.get("KPITOOL_CACHE_SIZE")
    return parse_size(text, "KPITOOL_CACHE_SIZE") if text else DEFAULT_LIMIT


def open_store() -> Store:
    """The cache at its location (checked private), whether or not it is enabled."""
    where, limit = cache_location(), _limit()
    found = _OPEN.get((where, limit))
    if found is None or not where.is_dir():
        found = _OPEN[(where, limit)] = Store(where, limit)
    return found


def store() -> Store | None:
    """The cache this run uses, None when it is turned off."""
    return open_store() if _SETTINGS["enabled"] else None


_RACY_NS = 2_000_000_000


def _racy(info: os.stat_result) -> bool:
    """A file changed in the last two seconds could change again without its times moving
    (timestamps are coarse): its hash is not remembered ("racy git")."""
    return time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) < _RACY_NS


def fingerprint(path: Path, algorithm: str = "blake2b") -> str:
    """A file's content hash; remembered per (path, device, inode, size, mtime, ctime), so a
    later run costs one stat unless the file changed."""
    cache = store()
    if cache is None:
        return file_digest(path, algorithm)
    key, _ = stat_key(path, algorithm)
    if key in _KNOWN:
        return _KNOWN[key]
    known = cache.get("stat", key)
    if known is not None:
        _KNOWN[key] = known.decode("ascii")
        return _KNOWN[key]
    digest = file_digest(path, algorithm)
    after_key, info = stat_key(path, algorithm)
    if after_key == key and not _racy(info):  # not changed while (or just before) read
        cache.put("stat", key, digest.encode("ascii"))
        _KNOWN[key] = digest
    return digest
