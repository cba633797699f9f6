"""Atomic output: every file kpitool writes appears whole or not at all.

Regular files (and new paths) are written to a temporary name beside them and renamed;
devices, FIFOs and `-` (stdout) are written directly, never replaced; a folder is refused.
Every OSError (a full disk, a read-only mount) becomes a one-line OutputError. A whole
folder is replaced at once by `replace_folder` (Linux `renameat2(RENAME_EXCHANGE)`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import socket
import stat
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from kpitool.errors import OutputError

__all__ = [
    "atomic_path",
    "atomic_write",
    "folder_lock",
    "lock_path",
    "replace_folder",
    "restore_folder",
    "safe_filename",
    "write_error",
]

_UNSAFE = re.compile(r"[^0-9A-Za-z._\-\u4e00-\u9fff]+")
_LOCK_BYTES = 200  # a lock holds "pid host date time"; never read or quote more


def write_error(target: Path | str, exc: OSError) -> OutputError:
    """The one-line error for an OSError while writing `target`."""
    return OutputError(f"{target}: cannot write: {exc.strerror or exc}")


def _kind(target: Path) -> str:
    """'stdout', 'new', 'file', 'stream' (a character device or FIFO) or 'folder'."""
    if str(target) == "-":
        return "stdout"
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        return "new"
    except OSError as exc:
        raise write_error(target, exc) from None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        raise OutputError(f"{target}: is a folder; give a file name")
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return "stream"
    raise OutputError(f"{target}: not a regular file, a character device or a FIFO")


@contextlib.contextmanager
def _opened_stream(target: Path, kind: str) -> Iterator[IO[bytes]]:
    if kind == "stdout":
        yield sys.stdout.buffer
        sys.stdout.flush()
        return
    with open(target, "wb") as handle:
        yield handle


@contextlib.contextmanager
def _through_temp(target: Path, kind: str) -> Iterator[Path]:
    """A private temporary file, copied to the device, FIFO or stdout when complete."""
    fd, tmp_name = tempfile.mkstemp(prefix=".kpitool-output.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb") as source, _opened_stream(target, kind) as handle:
            shutil.copyfileobj(source, handle, 1 << 20)
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _renamed(target: Path) -> Iterator[Path]:
    """A temporary file beside `target`, renamed over it when complete (atomic)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
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


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write; when done it becomes `target` whole.

    A regular or new `target` gets the file by a rename in its folder, so a reader (or a run
    killed at any moment) sees the old complete file or the new one, never a part. A device,
    FIFO or `-` gets the finished bytes copied to it. An OSError becomes an OutputError.
    """
    target = Path(target)
    kind = _kind(target)
    try:
        with _renamed(target) if kind in ("new", "file") else _through_temp(target, kind) as tmp:
            yield tmp
    except OSError as exc:
        raise write_error(target, exc) from None


def atomic_write(target: Path | str, content: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write `content` to `target` atomically (a device, FIFO or `-` directly); return it."""
    target = Path(target)
    data = content.encode(encoding) if isinstance(content, str) else content
    kind = _kind(target)
    try:
        if kind in ("stdout", "stream"):
            with _opened_stream(target, kind) as stream:
                stream.write(data)
            return target
        with _renamed(target) as tmp, open(tmp, "wb") as handle:
            handle.write(data)
    except OSError as exc:
        raise write_error(target, exc) from None
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


def _holder(lock: Path) -> list[str] | None:
    """The words of a lock file ("pid host date time"), read without following a symlink;
    None when it vanished. Only printable ASCII is kept, so an error never echoes junk."""
    try:
        fd = os.open(lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OutputError(
            f"{lock}: not a kpitool lock (a link or a special file: {exc.strerror}); remove it"
        ) from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OutputError(f"{lock}: not a kpitool lock (not a regular file); remove it")
        head = handle.read(_LOCK_BYTES).decode("ascii", errors="replace")
    return "".join(c if c.isprintable() and c.isascii() else " " for c in head).split()


def _stale(holder: list[str], host: str) -> bool:
    """A lock kpitool did not write (empty, garbage) or whose process on this host is gone.

    Locks are created whole (written aside, then linked in), so a partial one is never seen.
    """
    if len(holder) < 2 or not holder[0].isdigit():
        return True
    pid = int(holder[0])
    return holder[1] == host and (pid <= 0 or not _alive(pid))


def _take(lock: Path, line: str) -> bool:
    """Create `lock` holding `line` at once: written to a temporary file, then hard-linked
    (which fails if the lock exists). False when another run holds it."""
    fd, tmp_name = tempfile.mkstemp(prefix=".kpitool.lock-new.", dir=lock.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(line)
        os.link(tmp_name, lock)
    except FileExistsError:
        return False
    finally:
        os.unlink(tmp_name)
    return True


def lock_path(folder: Path) -> Path:
    """Where the lock of `folder` lives: beside it (`OUT/.2015-03.kpitool.lock`), so the
    folder itself can be swapped for a new one while the lock is held."""
    return folder.parent / f".{folder.name}.kpitool.lock"


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[Path]:
    """Hold the lock of `folder` (`lock_path`) while writing a period's outputs.

    A second run for the same folder fails with an OutputError naming the running one; a lock
    left by a process that no longer runs (on this host), or one kpitool did not write, is
    taken over. The folder itself is not created.
    """
    lock = lock_path(folder)
    host = socket.gethostname()
    line = f"{os.getpid()} {host} {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):
            if _take(lock, line):
                break
            holder = _holder(lock)
            if holder is None or _stale(holder, host):
                lock.unlink(missing_ok=True)
                continue
            raise OutputError(
                f"{folder}: another kpitool run (pid {holder[0]} on {holder[1]}, since "
                f"{' '.join(holder[2:4]) or 'an unknown time'}) is writing this period; wait "
                f"for it or remove {lock} if it is gone"
            )
        else:
            raise OutputError(f"{lock}: could not be taken; remove it if no kpitool runs")
    except OSError as exc:
        reason = "Not a directory" if isinstance(exc, FileExistsError) else exc.strerror
        raise OutputError(f"{folder}: cannot write the report here: {reason or exc}") from None
    try:
        yield lock
    finally:
        lock.unlink(missing_ok=True)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where the system
    or the filesystem cannot, so the caller falls back to two renames."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    a, b = os.fsencode(first), os.fsencode(second)
    if renameat2(_AT_FDCWD, a, _AT_FDCWD, b, _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(second))


def replace_folder(new: Path, live: Path) -> Path | None:
    """Put the folder `new` at `live` so a reader sees the old folder or the new one whole;
    return where the old one now is (for the caller to remove), None when there was none.

    Linux swaps the two in one step; elsewhere the old folder is renamed to `.<name>.old`
    first (a run killed between the two renames is repaired by `restore_folder`).
    """
    if not live.exists():
        os.rename(new, live)
        return None
    if _exchange(new, live):
        return new
    old = live.parent / f".{live.name}.old"
    os.rename(live, old)
    os.rename(new, live)
    return old


def restore_folder(live: Path) -> None:
    """Undo a two-rename swap killed half-way: `.<name>.old` back to `live` if `live` is
    missing; else remove the leftover."""
    old = live.parent / f".{live.name}.old"
    if old.is_dir() and not old.is_symlink():
        if live.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(old, live)
