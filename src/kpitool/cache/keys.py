"""Cache keys: a canonical text of plain values, the code's own fingerprint, file contents.

A key never depends on Python's per-process hash order: sets are sorted, dataclasses and
pydantic models written field by field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel

__all__ = ["canonical", "code_fingerprint", "make_key"]


def canonical(value: Any) -> Any:
    """A JSON-ready form of a value that is the same in every process."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, BaseModel):
        return [type(value).__name__, canonical(value.model_dump(mode="json"))]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return [type(value).__name__, fields]
    if isinstance(value, Mapping):
        return sorted([str(k), canonical(v)] for k, v in value.items())
    if isinstance(value, set | frozenset):
        return sorted((canonical(v) for v in value), key=json.dumps)
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"no canonical form for {type(value).__name__}")


@cache
def code_fingerprint() -> str:
    """kpitool's own sources and the Polars version: a changed check or plan translation
    makes every earlier entry unreachable."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    digest.update(importlib.metadata.version("polars").encode())
    return digest.hexdigest()


def make_key(*parts: Any) -> str:
    """A key for what `parts` (canonicalisable values) describe, under this code."""
    text = json.dumps([code_fingerprint(), canonical(list(parts))], ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=20).hexdigest()


def stat_key(path: Path, algorithm: str = "blake2b") -> tuple[str, os.stat_result]:
    """A key for a file's state (like git's index): path, device, inode, size and times."""
    info = os.stat(path)
    state = (
        f"{algorithm}|{path.resolve()}|{info.st_dev}|{info.st_ino}|{info.st_size}|"
        f"{info.st_mtime_ns}|{info.st_ctime_ns}"
    )
    return hashlib.blake2b(state.encode(), digest_size=20).hexdigest(), info
