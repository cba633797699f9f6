"""The HTML reports in a real browser: headless Chromium at a desktop's 1366 px and a phone's
390 px; nothing may stick out of the viewport (a table too wide scrolls inside its own box).
Skipped where Chromium is not installed (`make system-packages` installs it)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from kpitool.api import report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

_PROBE = """<!DOCTYPE html><html><body style="margin:0">
<iframe id="page" src="PAGE" style="width:WIDTHpx;height:2000px;border:0"></iframe>
<script>
document.getElementById('page').addEventListener('load', (event) => {
  const doc = event.target.contentDocument;
  const width = doc.documentElement.clientWidth;
  const inScroller = (el) => el.closest('.scroll') && !el.classList.contains('scroll');
  const wide = [...doc.body.querySelectorAll('*')]
    .filter((el) => !inScroller(el) && !el.closest('svg'))
    .filter((el) => el.getBoundingClientRect().right > width + 0.5)
    .map((el) => el.tagName + '.' + el.className + ' ' + (el.textContent || '').slice(0, 30));
  const scorecard = doc.querySelector('table.scorecard');
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({
    width, wide,
    scorecardFits: scorecard ? scorecard.scrollWidth <= scorecard.parentElement.clientWidth : true,
    viewport: !!doc.querySelector('meta[name=viewport]'),
  });
  document.body.appendChild(out);
});
</script></body></html>"""
"""A page holding the report in a frame of the given width (headless Chromium will not make
a window narrower than 500 px), reporting what sticks out of it."""


def _probe(page: Path, width: int, tmp: Path) -> dict[str, object]:
    probe = tmp / f"probe-{width}-{page.name}"
    probe.write_text(_PROBE.replace("PAGE", page.as_uri()).replace("WIDTH", str(width)))
    assert CHROMIUM is not None
    dom = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--allow-file-access-from-files",
            "--window-size=1400,2000",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-500:]
    text = found.group(1).replace("&quot;", '"').replace("&amp;", "&")
    return dict(json.loads(text))


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser")
    summary = report("2015-03", None, out=out, formats=["html"], branches=["B03"], progress=False)
    return summary.folder


@pytest.mark.parametrize("width", [1366, 390])
@pytest.mark.parametrize("name", ["B03.html", "index.html"])
def test_nothing_is_wider_than_the_viewport(
    pages: Path, tmp_path: Path, width: int, name: str
) -> None:
    found = _probe(pages / name, width, tmp_path)
    assert found["viewport"] is True
    assert found["width"] == width
    assert found["wide"] == []
    # the scorecard reflows on a phone and fits a desktop: it never needs its scroll box
    assert found["scorecardFits"] is True
