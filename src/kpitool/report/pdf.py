"""PDF rendering with WeasyPrint: CJK fonts checked first, nothing fetched from outside.

Reports inline their stylesheet and charts, so the fetcher serves only `data:` URLs: a
branch name such as `<img src=file:///etc/passwd>` cannot pull a file or a URL into a PDF.
Many PDFs are made in a pool of spawned workers that die with the process that started them.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import ctypes
import functools
import gc
import logging
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kpitool.errors import KpiError
from kpitool.output import atomic_path

__all__ = ["check_cjk_font", "print_html", "render_pdf", "render_pdfs"]

logging.getLogger("weasyprint").setLevel(logging.ERROR)
logging.getLogger("fontTools").setLevel(logging.ERROR)


@functools.cache
def check_cjk_font() -> str:
    """The family of an installed Simplified Chinese font, or a KpiError saying how to get one."""
    if shutil.which("fc-list") is None:
        raise KpiError(
            "no fontconfig (fc-list) found: install fontconfig and fonts-noto-cjk "
            "(make setup does) to make PDFs"
        )
    found = subprocess.run(
        ["fc-list", ":lang=zh-cn", "family"], capture_output=True, text=True, check=False
    ).stdout
    families = sorted({f.split(",")[0].strip() for f in found.splitlines() if f.strip()})
    if not families:
        raise KpiError(
            "no Chinese font installed, the PDF would show empty boxes: install "
            "fonts-noto-cjk (make setup does) or use --format html"
        )
    preferred = [f for f in families if "Sans CJK SC" in f]
    return (preferred or families)[0]


@functools.cache
def _font_config() -> Any:
    from weasyprint.text.fonts import FontConfiguration

    return FontConfiguration()


def _fetcher() -> Any:
    from weasyprint.urls import URLFetcher

    class _InlineOnly(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.startswith("data:"):
                return super().fetch(url, headers)
            raise ValueError(f"kpitool reports fetch nothing from outside: {url}")

    return _InlineOnly()


_INLINE_SVG = re.compile(r'<svg xmlns="http://www.w3.org/2000/svg"[^>]*>.*?</svg>', re.S)


def _svg_as_image(match: re.Match[str]) -> str:
    svg = match.group(0)
    try:
        ET.fromstring(svg)
    except ET.ParseError:  # not XML (hand-written markup): left to the HTML parser
        return svg
    return f'<img src="data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()}">'


def print_html(html: str) -> str:
    """The page as WeasyPrint gets it: each inline SVG chart becomes an `<img>` of itself (a
    `data:` URL). WeasyPrint then reads a chart with the XML parser, not its HTML parser,
    and keeps the chart's elements out of the page's CSS cascade: the same drawing for a
    tenth less CPU. The HTML file keeps its inline SVG for the browser."""
    return _INLINE_SVG.sub(_svg_as_image, html)


@contextmanager
def _collected_after() -> Iterator[None]:
    """Python's cycle collector paused while WeasyPrint builds a document and run once
    after: its passes over the boxes just made cost about a tenth of a PDF's CPU."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def render_pdf(html: str, target: Path) -> Path:
    """Write `html` as a PDF to `target` atomically (one font configuration per process)."""
    from weasyprint import HTML

    check_cjk_font()
    with _collected_after():
        document = HTML(string=print_html(html), base_url="data:,", url_fetcher=_fetcher())
        with atomic_path(target) as tmp:
            document.write_pdf(tmp, font_config=_font_config())
    return target


_PARENT = 0  # in a worker: the pid of the process that started it


def _watch_parent() -> None:
    while os.getppid() == _PARENT:
        time.sleep(0.5)
    os._exit(1)


def _worker_start() -> None:
    """In a PDF worker: die when the run's process dies (Linux prctl PR_SET_PDEATHSIG, and a
    thread that checks the parent elsewhere); leave Ctrl-C to the parent, which ends the pool."""
    global _PARENT
    _PARENT = os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != _PARENT or _PARENT == 1:  # the parent died before prctl took effect
        os._exit(1)
    threading.Thread(target=_watch_parent, daemon=True).start()
    import weasyprint  # noqa: F401  (imported once, then left out of every collection)

    gc.collect()
    gc.freeze()


def _job(html: str, target: str) -> str:
    if os.getppid() != _PARENT:  # orphaned: never write
        os._exit(1)
    render_pdf(html, Path(target))
    return target


def render_pdfs(
    jobs: Sequence[tuple[str, Path]], workers: int | None, done: Callable[[Path], None]
) -> None:
    """Make each (html, target) PDF in a pool of `workers` processes (default: one per
    core), calling `done` as each is written. On any error or interrupt the pool's workers
    are killed at once, so none writes after this returns."""
    if not jobs:
        return
    count = workers or min(os.cpu_count() or 1, len(jobs))
    before = set(multiprocessing.active_children())
    pool = cf.ProcessPoolExecutor(
        max_workers=count,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_worker_start,
    )
    try:
        # Workers start (at submit) with Ctrl-C blocked, so one pressed while they import
        # reaches only this process, which then ends them; it is delivered here after.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            futures = [pool.submit(_job, h, str(t)) for h, t in jobs]
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
        for future in cf.as_completed(futures):
            done(Path(future.result()))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in set(multiprocessing.active_children()) - before:
            worker.kill()
            worker.join()
        raise
    pool.shutdown()
