"""Atomic output: every file kpitool writes appears whole or not at all."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from kpitool.errors import OutputError

__all__ = ["atomic_path", "atomic_write", "folder_lock", "safe_filename"]

_UNSAFE = re.compile(r"[^0-9A-Za-z._\-\u4e00-\u9fff]+")


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it over `target`.

    The temporary file lives in the same folder, so the rename is atomic: a reader (or a run
    killed at any moment) sees the old complete file or the new complete one, never a part.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write(target: Path | str, content: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write `content` to `target` atomically and return the target path."""
    target = Path(target)
    with atomic_path(target) as tmp:
        handle: IO[bytes]
        with open(tmp, "wb") as handle:
            handle.write(content.encode(encoding) if isinstance(content, str) else content)
    return target


def safe_filename(identifier: str) -> str:
    """A file name from an id that cannot leave its folder (`../../x` -> `x`, `a/b` -> `a_b`)."""
    name = _UNSAFE.sub("_", identifier).strip("._")
    if not name:
        raise OutputError(f"id {identifier!r} cannot be made into a safe file name")
    return name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[Path]:
    """Hold `folder/.kpitool.lock` while writing a month's outputs.

    A second run for the same folder fails with an OutputError naming the running one; a lock
    left by a process that no longer runs (on this host) is taken over, and the temporary
    files a killed run left behind are removed.
    """
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / ".kpitool.lock"
    host = socket.gethostname()
    for _attempt in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = lock.read_text(encoding="utf-8", errors="replace").split()
            pid = int(holder[0]) if holder and holder[0].isdigit() else 0
            same_host = len(holder) > 1 and holder[1] == host
            if same_host and pid and not _alive(pid):
                lock.unlink(missing_ok=True)
                continue
            since = " ".join(holder[2:]) or "an unknown time"
            raise OutputError(
                f"{folder}: another kpitool run (pid {pid or '?'} on "
                f"{holder[1] if len(holder) > 1 else '?'}, since {since}) is "
                f"writing this month; wait for it or remove {lock} if it is "
                "gone"
            ) from None
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(f"{os.getpid()} {host} {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        break
    for stale in folder.glob(".*.tmp"):
        stale.unlink(missing_ok=True)
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)
