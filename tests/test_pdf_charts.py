"""Charts in the PDF: WeasyPrint gets each inline SVG chart as an image of itself, drawn
with its labels; markup that is not XML stays inline."""

from __future__ import annotations

import base64
import re
import subprocess
from pathlib import Path

from kpitool.report.charts import trend_svg
from kpitool.report.pdf import print_html, render_pdf

CHART = trend_svg(
    ["2015-01", "2015-02", "2015-03"],
    [0.96, 0.99, 0.97],
    [0.97, 0.98, 0.99],
    [0.95] * 3,
    percent=True,
)


def test_a_chart_goes_to_weasyprint_as_an_image_of_itself() -> None:
    page = f'<div class="chart"><h3>满意度 &lt;b&gt;</h3>{CHART}</div>'
    printed = print_html(page)
    (url,) = re.findall(r'<img src="data:image/svg\+xml;base64,([^"]+)">', printed)
    assert base64.b64decode(url).decode() == CHART
    image = f'<img src="data:image/svg+xml;base64,{url}">'
    assert printed == f'<div class="chart"><h3>满意度 &lt;b&gt;</h3>{image}</div>'


def test_svg_that_is_not_xml_stays_inline() -> None:
    page = '<p>a<svg xmlns="http://www.w3.org/2000/svg"><text>&nbsp;</text></svg></p>'
    assert print_html(page) == page


def test_the_pdf_draws_the_chart_s_labels(tmp_path: Path) -> None:
    render_pdf(f"<html><body><h3>满意度</h3>{CHART}</body></html>", tmp_path / "c.pdf")
    out = subprocess.run(
        ["pdftotext", str(tmp_path / "c.pdf"), "-"], capture_output=True, text=True
    )
    words = out.stdout.split()
    assert "满意度" in words and {"94%", "96%", "98%", "100%", "01", "02", "03"} <= set(words)
