"""Lines too long to be a row: found by one chunked pass over a CSV's bytes, before Polars
reads the file (Polars holds a whole field in memory, so a 200 MB field without a newline
would cost gigabytes; a broken export, not data).

The pass looks only at where newlines are (two `find`s per chunk), so it runs at memory
speed; its result is remembered in the cache by the file's content hash. A line found too
long is then located exactly (row counted outside quotes, column from the header) by a
second pass over the bytes before it, which only a broken file pays for.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kpitool import cache

__all__ = ["LONGEST_LINE", "LongLine", "long_lines"]

LONGEST_LINE = 1 << 20
"""Bytes a CSV line may hold (1 MiB): no extract's row comes near it."""

FOUND = 50
"""Long lines located per file (the check lists them; evaluation names the first)."""

_KNOWN: dict[tuple[object, ...], list[LongLine]] = {}
"""File states already scanned in this process (a run opens the same file several times)."""


@dataclass(frozen=True)
class LongLine:
    """One line longer than `LONGEST_LINE`: its data row (1-based, the header is not a row;
    0 for the header), the column its longest field is in, and its length in bytes."""

    row: int
    column: str | None
    length: int

    @property
    def message(self) -> str:
        """What is wrong, without the place (a data check problem names that itself)."""
        return (
            f"a line of {self.length:,} bytes, beyond the {LONGEST_LINE:,} a line may hold "
            "(a broken export?)"
        )

    def describe(self, where: str) -> str:
        """One line naming file, row and column, as errors do."""
        place = f"{where}: row {self.row}" if self.row else f"{where}: header"
        if self.column is not None:
            place += f": column {self.column}"
        return f"{place}: {self.message}"


def _starts(path: Path, bound: int) -> list[tuple[int, int]]:
    """(offset, length) of the first `FOUND` lines longer than `bound`, in one pass."""
    found: list[tuple[int, int]] = []
    start = offset = 0
    with open(path, "rb", buffering=0) as handle:
        while len(found) < FOUND and (chunk := handle.read(bound)):
            first = chunk.find(b"\n")
            if first < 0:
                offset += len(chunk)
                continue
            if offset + first - start > bound:
                found.append((start, offset + first - start))
            start = offset + chunk.rfind(b"\n") + 1  # lines between fit in one chunk
            offset += len(chunk)
    if offset - start > bound and len(found) < FOUND:  # the last line, with no newline
        found.append((start, offset - start))
    return found


def _walk(path: Path, start: int, end: int, quoted: bool, visit: _Visit) -> bool:
    """Feed `visit` the bytes from `start` to `end` split at quotes, with whether each piece
    is inside quotes; return the quote state at `end`."""
    with open(path, "rb") as handle:
        handle.seek(start)
        left = end - start
        while left > 0 and (chunk := handle.read(min(left, 1 << 20))):
            left -= len(chunk)
            pieces = chunk.split(b'"')
            for number, piece in enumerate(pieces):
                if number:
                    quoted = not quoted
                visit(piece, quoted)
    return quoted


class _Visit:
    """Counts what a walk sees: rows (newlines outside quotes), fields, the longest field."""

    def __init__(self, delimiter: bytes) -> None:
        self.delimiter = delimiter
        self.newlines = 0
        self.field = 0
        self.length = 0
        self.longest = (0, -1)  # (length, field)

    def __call__(self, piece: bytes, quoted: bool) -> None:
        if quoted:
            self.length += len(piece)
            return
        self.newlines += piece.count(b"\n")
        parts = piece.split(self.delimiter)
        for number, part in enumerate(parts):
            if number:
                self.close()
            self.length += len(part)

    def close(self) -> None:
        if self.length > self.longest[0]:
            self.longest = (self.length, self.field)
        self.field += 1
        self.length = 0


def _header(path: Path, delimiter: str) -> list[str]:
    """The header's column names (none when the header itself is too long)."""
    with open(path, "rb") as handle:
        head = handle.read(LONGEST_LINE + 1)
    end = head.find(b"\n")
    if end < 0 and len(head) > LONGEST_LINE:
        return []
    line = head[: end if end >= 0 else len(head)].decode("utf-8", errors="replace")
    return next(csv.reader([line.removeprefix("\ufeff")], delimiter=delimiter), [])


def _locate(path: Path, delimiter: str, found: list[tuple[int, int]]) -> list[LongLine]:
    """Row and column of each long line, by a quote-aware pass over the bytes before it."""
    header = _header(path, delimiter)
    located = []
    rows = _Visit(delimiter.encode())
    quoted, position = False, 0
    for start, length in found:
        quoted = _walk(path, position, start, quoted, rows)
        position = start
        fields = _Visit(delimiter.encode())
        _walk(path, start, start + length, quoted, fields)
        fields.close()
        index = fields.longest[1]
        column = header[index] if 0 <= index < len(header) else None
        row = rows.newlines if start else 0
        located.append(LongLine(row, column, length))
    return located


def long_lines(path: Path, delimiter: str, origin: Path, encoding: str) -> list[LongLine]:
    """The lines of UTF-8 CSV `path` (the extract `origin` in `encoding`, or its UTF-8 copy)
    longer than `LONGEST_LINE`, at most `FOUND`; remembered by the extract's content hash."""
    info = origin.stat()
    known = (str(origin), info.st_size, info.st_mtime_ns, encoding, delimiter, LONGEST_LINE)
    if known in _KNOWN:
        return _KNOWN[known]
    store = cache.store()
    key = ""
    if store is not None:
        state = (cache.fingerprint(origin), encoding, delimiter, LONGEST_LINE)
        key = cache.make_key("long-lines", *state)
    saved = store.get("lines", key) if store is not None else None
    if saved is not None:
        located = [LongLine(**line) for line in json.loads(saved)]
    else:
        found = _starts(path, LONGEST_LINE)
        located = _locate(path, delimiter, found) if found else []
        if store is not None:
            store.put("lines", key, json.dumps([asdict(line) for line in located]).encode())
    _KNOWN[known] = located
    return located
