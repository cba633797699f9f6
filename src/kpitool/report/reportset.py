"""A period's report folder as one set: built beside it, swapped in whole.

A run writes `OUT/<label>/` into the staging folder `OUT/.<label>.staging/` (manifest.json
last) and swaps it in at once, so a reader sees the complete old set or the complete new
one. A run for some branches (`--branch B03`) starts its staging folder as hard links of
the other branches' files of the current set (those its manifest lists), so they stay; the
pages it renders itself (the chosen branches', the company's) start from nothing. A page
(HTML or PDF) whose content, the run's generated-at stamp left out, is the one the current
set's manifest records for it is linked, its hash checked, instead of made again: an
unchanged page keeps the time it was first made.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kpitool.errors import OutputError
from kpitool.output import replace_folder, restore_folder, write_error

__all__ = ["ReportSet", "sha256_of", "staged_set"]

MANIFEST = "manifest.json"
COMPANY_FILES = ("index.html", "company.pdf", "company.xlsx")
"""Files every run renders again (the company page counts every branch)."""


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's content, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _previous_files(folder: Path) -> dict[str, dict[str, Any]]:
    """What the current set's manifest says of each file it lists (name → sha256, and for a
    page content_sha256); names that could leave the folder, or files gone, are left out."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        names = manifest.get("outputs", []) if isinstance(manifest, dict) else []
        files = {name: {} for name in names if isinstance(name, str)}
    return {
        name: entry
        for name, entry in files.items()
        if isinstance(entry, dict)
        and name == Path(name).name
        and not name.startswith(".")
        and name != MANIFEST
        and (folder / name).is_file()
        and not (folder / name).is_symlink()
    }


def _link(source: Path, target: Path) -> None:
    """A hard link of `source` at `target` (a copy where links are not possible). Files are
    only ever replaced by rename, never written in place, so the link never changes the
    old set."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


@dataclass
class ReportSet:
    """The staging folder of one run and what it knows of the set it will replace."""

    folder: Path
    staging: Path
    previous: dict[str, dict[str, Any]]
    stamp: str = ""
    """The run's generated-at text, left out when pages are compared: a page whose content
    is otherwise the same is kept whole (HTML and PDF), with the time it was made."""
    content_of: dict[str, str] = field(default_factory=dict)
    rendered: int = 0
    reused: int = 0
    kept_pages: int = 0

    def content(self, html: str) -> str:
        """A page's content hash: its HTML without the run's stamp."""
        text = html.replace(self.stamp, "") if self.stamp else html
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def _kept(self, name: str, html: str) -> bool:
        """Link the current set's `name` into staging if it was made from this content (its
        recorded hash still matching the file); record the content's hash either way."""
        content = self.content(html)
        self.content_of[name] = content
        entry = self.previous.get(name, {})
        old = self.folder / name
        if entry.get("content_sha256") != content or sha256_of(old) != entry.get("sha256"):
            return False
        _link(old, self.staging / name)
        return True

    def keep_html(self, name: str, html: str) -> bool:
        """Keep the current set's HTML page `name` if its content is unchanged."""
        kept = self._kept(name, html)
        self.kept_pages += kept
        return kept

    def reuse_pdf(self, name: str, html: str) -> bool:
        """Keep the current set's PDF `name` if it was made from this page content."""
        kept = self._kept(name, html)
        self.reused += kept
        return kept

    def files(self) -> dict[str, dict[str, str]]:
        """Every file in staging but the manifest: its sha256, and a page's content hash."""
        found: dict[str, dict[str, str]] = {}
        for path in sorted(self.staging.iterdir()):
            if path.name.startswith(".") or path.name == MANIFEST or not path.is_file():
                continue
            entry = {"sha256": sha256_of(path)}
            carried = self.previous.get(path.name, {}).get("content_sha256")
            content = self.content_of.get(path.name, carried)
            if path.suffix in (".pdf", ".html") and isinstance(content, str):
                entry["content_sha256"] = content
            found[path.name] = entry
        return found


def _staging(folder: Path) -> Path:
    return folder.parent / f".{folder.name}.staging"


def _clean(folder: Path) -> None:
    """Remove what a killed run left: its staging folder, or a swap it did not finish."""
    staging = _staging(folder)
    if staging.is_symlink() or staging.is_file():
        staging.unlink()
    elif staging.exists():
        shutil.rmtree(staging)
    restore_folder(folder)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for a moment (delivered after), so a swap is never cut."""
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


def _begin(folder: Path, own: Iterable[str], keep_others: bool, stamp: str) -> ReportSet:
    """Clear what a killed run left, make the staging folder and link the kept files in."""
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise OutputError(f"{folder}: not a folder; remove it or choose another --out")
    try:
        _clean(folder)
        staging = _staging(folder)
        staging.mkdir()
        previous = _previous_files(folder)
        owned = {*own, *COMPANY_FILES}
        if keep_others:
            for name in previous:
                if name not in owned:
                    _link(folder / name, staging / name)
    except OSError as exc:
        raise write_error(folder, exc) from None
    return ReportSet(folder, staging, previous, stamp)


@contextlib.contextmanager
def staged_set(
    folder: Path, own: Iterable[str], *, keep_others: bool, stamp: str = ""
) -> Iterator[ReportSet]:
    """A fresh staging folder for `folder` (the caller holds its lock), swapped in when the
    block ends well and removed when it does not. With `keep_others`, the current set's
    files not in `own` (and not the company's) are linked in first. Errors name the file
    as it would be in `folder`."""
    report_set = _begin(folder, own, keep_others, stamp)
    staging = report_set.staging
    try:
        yield report_set
        with _signals_held():
            old = replace_folder(staging, folder)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise write_error(folder, exc) from None
    except OutputError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise OutputError(str(exc).replace(str(staging), str(folder))) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
