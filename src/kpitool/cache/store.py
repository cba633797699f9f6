"""The on-disk cache: one private folder of checksummed entries, bounded, evicted LRU.

Every entry is written to a temporary file beside it and renamed into place, so a reader
sees a whole entry or none; every read verifies a blake2b checksum, so a corrupt or
truncated entry is deleted and rebuilt, never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kpitool.errors import ConfigError
from kpitool.log import logger

__all__ = ["DEFAULT_LIMIT", "STATS", "CacheInfo", "Store", "cache_location", "parse_size"]

DEFAULT_LIMIT = 2 << 30
"""2 GiB unless kpitool.toml's cache_size or KPITOOL_CACHE_SIZE says otherwise."""
_MAGIC = b"KPC1"
_DIGEST = 32
_HEADER = len(_MAGIC) + _DIGEST + 8
_SUM = ".sum"
STATS: Counter[str] = Counter()
"""`<kind>.hit`, `<kind>.miss`, `<kind>.corrupt` counts of this process (for -v and tests)."""


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=_DIGEST).digest()


def file_digest(path: Path, algorithm: str = "blake2b") -> str:
    """The blake2b (or `algorithm`, e.g. sha256) of a file's bytes, read in chunks."""
    with open(path, "rb") as handle:
        if algorithm == "blake2b":
            return hashlib.file_digest(
                handle, lambda: hashlib.blake2b(digest_size=_DIGEST)
            ).hexdigest()
        return hashlib.file_digest(handle, algorithm).hexdigest()


def parse_size(text: str, origin: str = "cache_size") -> int:
    """`2G`, `500M`, `64K` or a number of bytes."""
    units = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    value = text.strip().upper().removesuffix("IB").removesuffix("B")
    unit = value[-1:] if value[-1:] in units else ""
    number = value[: len(value) - len(unit)].strip()
    try:
        size = int(float(number) * units[unit])
    except ValueError:
        raise ConfigError(f"{origin}: {text!r} is not a size (e.g. 2G, 500M)") from None
    if size < 0:
        raise ConfigError(f"{origin}: {text!r}: expected 0 or more")
    return size


def cache_location() -> Path:
    """$KPITOOL_CACHE, else $XDG_CACHE_HOME/kpitool, else ~/.cache/kpitool."""
    if os.environ.get("KPITOOL_CACHE"):
        return Path(os.environ["KPITOOL_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "kpitool"
    try:
        home = Path.home()
    except (RuntimeError, KeyError):
        raise ConfigError(
            "no home folder for the cache: set KPITOOL_CACHE (or use --no-cache)"
        ) from None
    return home / ".cache" / "kpitool"


def _private_folder(folder: Path) -> Path:
    """Create the folder 0700, or accept an existing one only if it is ours and private."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError as exc:
        raise ConfigError(
            f"{folder}: cannot use as the cache: {exc.strerror} (set KPITOOL_CACHE or use "
            "--no-cache)"
        ) from None
    if not stat.S_ISDIR(info.st_mode):
        raise ConfigError(f"{folder}: the cache is not a folder")
    if info.st_uid != os.getuid():
        raise ConfigError(f"{folder}: the cache folder belongs to another user; not used")
    if info.st_mode & 0o022:
        raise ConfigError(
            f"{folder}: the cache folder is writable by others (mode "
            f"{stat.S_IMODE(info.st_mode):o}); chmod 700 it"
        )
    return folder


@dataclass(frozen=True)
class CacheInfo:
    """Where the cache is, how much it holds and its bound."""

    location: str
    entries: int
    bytes: int
    limit: int


class Store:
    """The entries of one cache folder: `<kind>/<key>` blobs and `<kind>/<key>.<suffix>`
    files with a `.sum` sidecar."""

    def __init__(self, root: Path, limit: int = DEFAULT_LIMIT) -> None:
        self.root = _private_folder(root)
        self.limit = limit
        self._size: int | None = None

    def _path(self, kind: str, key: str, suffix: str = "") -> Path:
        return self.root / kind / key[:2] / f"{key}{suffix}"

    def _folder(self, folder: Path) -> None:
        """An entry's folder and those between it and the root, each made 0700."""
        parts = folder.relative_to(self.root).parts
        for depth in range(1, len(parts) + 1):
            self.root.joinpath(*parts[:depth]).mkdir(mode=0o700, exist_ok=True)

    def _write(self, target: Path, write: Callable[[int], None]) -> None:
        """Write through a temporary file in the target's folder, then rename it in."""
        self._folder(target.parent)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            write(fd)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _corrupt(self, kind: str, path: Path, why: str) -> None:
        STATS[f"{kind}.corrupt"] += 1
        logger.warning("cache entry %s is %s: deleted, rebuilding", path, why)
        path.unlink(missing_ok=True)

    def get(self, kind: str, key: str) -> bytes | None:
        """The payload of an entry whose checksum holds, else None (a bad entry deleted)."""
        path = self._path(kind, key)
        try:
            data = path.read_bytes()
        except OSError:
            STATS[f"{kind}.miss"] += 1
            return None
        payload = data[_HEADER:]
        length = int.from_bytes(data[len(_MAGIC) + _DIGEST : _HEADER], "big")
        head_ok = data.startswith(_MAGIC) and length == len(payload)
        if not head_ok or data[len(_MAGIC) : len(_MAGIC) + _DIGEST] != _digest(payload):
            self._corrupt(kind, path, "truncated" if not head_ok else "corrupt")
            STATS[f"{kind}.miss"] += 1
            return None
        self._touch(path)
        STATS[f"{kind}.hit"] += 1
        return payload

    def put(self, kind: str, key: str, payload: bytes) -> None:
        """Store a payload under its checksum header, then keep the cache under its bound."""
        header = _MAGIC + _digest(payload) + len(payload).to_bytes(8, "big")

        def write(fd: int) -> None:
            with os.fdopen(fd, "wb") as handle:
                handle.write(header + payload)

        self._write(self._path(kind, key), write)
        self._grew(_HEADER + len(payload))

    def get_file(self, kind: str, key: str, suffix: str) -> Path | None:
        """A cached file whose content still has the checksum it was stored with."""
        path = self._path(kind, key, suffix)
        sidecar = path.with_name(path.name + _SUM)
        try:
            expected = sidecar.read_text("ascii").strip()
            actual = file_digest(path)
        except (OSError, UnicodeDecodeError):  # absent, or another run is still writing it
            STATS[f"{kind}.miss"] += 1
            return None
        if actual != expected:
            self._corrupt(kind, path, "corrupt")
            sidecar.unlink(missing_ok=True)
            STATS[f"{kind}.miss"] += 1
            return None
        self._touch(path)
        STATS[f"{kind}.hit"] += 1
        return path

    def put_file(self, kind: str, key: str, suffix: str, fill: Callable[[Path], None]) -> Path:
        """Make a cached file: `fill` writes it (at a temporary path), then its sum is kept."""
        path = self._path(kind, key, suffix)
        self._folder(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=suffix)
        os.close(fd)
        try:
            fill(Path(tmp))
            checksum = file_digest(Path(tmp))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

        def write(sum_fd: int) -> None:
            with os.fdopen(sum_fd, "w", encoding="ascii") as handle:
                handle.write(checksum)

        self._write(path.with_name(path.name + _SUM), write)
        self._grew(path.stat().st_size)
        return path

    def _touch(self, path: Path) -> None:
        """Mark an entry used now (eviction removes the least recently used first)."""
        with contextlib.suppress(OSError):
            os.utime(path)

    def _entries(self) -> list[tuple[float, int, Path]]:
        """(last used, size, path) of every entry (sidecars go with their file)."""
        found = []
        for folder, _dirs, names in os.walk(self.root):
            for name in names:
                if name.endswith(_SUM) or name.startswith(".tmp-"):
                    continue
                path = Path(folder) / name
                try:
                    info = path.stat()
                except OSError:
                    continue
                found.append((info.st_mtime, info.st_size, path))
        return found

    def _grew(self, added: int) -> None:
        if self._size is None:
            self._size = sum(size for _t, size, _p in self._entries())
        else:
            self._size += added
        if self._size > self.limit:
            self.evict()

    def evict(self) -> None:
        """Delete the least recently used entries until the cache holds at most its bound."""
        entries = sorted(self._entries())
        total = sum(size for _t, size, _p in entries)
        for _used, size, path in entries:
            if total <= self.limit:
                break
            path.unlink(missing_ok=True)
            path.with_name(path.name + _SUM).unlink(missing_ok=True)
            total -= size
        self._size = total

    def info(self) -> CacheInfo:
        entries = self._entries()
        size = sum(size for _t, size, _p in entries)
        return CacheInfo(str(self.root), len(entries), size, self.limit)

    def clear(self) -> int:
        """Delete every entry; how many there were."""
        count = len(self._entries())
        for child in self.root.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
        self._size = 0
        return count
