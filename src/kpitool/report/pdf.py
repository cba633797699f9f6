"""PDF rendering with WeasyPrint: CJK fonts checked first, nothing fetched from outside.

Reports inline their stylesheet and charts, so the fetcher serves only `data:` URLs: a
branch name such as `<img src=file:///etc/passwd>` cannot pull a file or a URL into a PDF.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from pathlib import Path
from typing import Any

from kpitool.errors import KpiError
from kpitool.output import atomic_path

__all__ = ["check_cjk_font", "render_pdf"]

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


def render_pdf(html: str, target: Path) -> Path:
    """Write `html` as a PDF to `target` atomically (one font configuration per process)."""
    from weasyprint import HTML

    check_cjk_font()
    document = HTML(string=html, base_url="data:,", url_fetcher=_fetcher())
    with atomic_path(target) as tmp:
        document.write_pdf(tmp, font_config=_font_config())
    return target
