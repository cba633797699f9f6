"""The cache as the library offers it: turn it off, size it, see it, clear it."""

from __future__ import annotations

from kpitool import cache
from kpitool.cache import CacheInfo

__all__ = ["CacheInfo", "cache_info", "cache_stats", "clear_cache", "use_cache"]


def use_cache(
    enabled: bool | None = None, *, size: str | int | None = None, origin: str = "cache_size"
) -> None:
    """Turn the cache on or off for this process (`--no-cache`) and set its bound (`2G`);
    None leaves a choice as it is."""
    limit = cache.parse_size(size, origin) if isinstance(size, str) else size
    cache.configure(enabled=enabled, limit=limit)


def cache_info() -> CacheInfo:
    """Where the cache is, how many entries and bytes it holds, and its bound."""
    return cache.open_store().info()


def clear_cache() -> int:
    """Delete every cache entry; how many there were."""
    return cache.open_store().clear()


def cache_stats() -> dict[str, int]:
    """This process's cache hits, misses and corrupt entries per kind (`plan.hit` …)."""
    return dict(cache.STATS)
