"""kpitool report on small data made here: PDF and HTML text, masking, escaping, safety."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from kpitool.api import report as render_reports
from kpitool.errors import KpiError

from builders import write_dataset

EVIL = "<img src=x onerror=alert(1)>"


def _data(folder: Path, *, county_id: str = "B2", county_name: str = "丰县支公司") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_dataset(
        folder,
        "branches",
        [
            {"branch_id": "B1", "branch_name": "市区营业部", "level": "city"},
            {
                "branch_id": county_id,
                "branch_name": county_name,
                "level": "county",
                "parent_id": "B1",
            },
        ],
    )
    write_dataset(
        folder,
        "claims",
        [
            # B1: 2 of 3 closed within 5 days -> 66.7%; county: 1 of 1 -> 100.0%
            {
                "claim_id": "c1",
                "branch_id": "B1",
                "reported_at": "2015-03-02",
                "closed_at": "2015-03-04",
            },
            {
                "claim_id": "c2",
                "branch_id": "B1",
                "reported_at": "2015-03-03",
                "closed_at": "2015-03-08",
            },
            {
                "claim_id": "c3",
                "branch_id": "B1",
                "reported_at": "2015-03-04",
                "closed_at": "2015-03-20",
            },
            {
                "claim_id": "c4",
                "branch_id": county_id,
                "reported_at": "2015-03-05",
                "closed_at": "2015-03-06",
            },
        ],
    )
    write_dataset(
        folder,
        "agents",
        [
            {
                "agent_id": "A1",
                "branch_id": "B1",
                "phone": "13800005678",
                "person_id": "PA1",
                "name": "王小明",
                "channel": "individual",
                "status": "active",
            },
        ],
    )
    write_dataset(
        folder,
        "policies",
        [
            {
                "policy_id": "p1",
                "branch_id": "B1",
                "agent_id": "A1",
                "policyholder_id": "H1",
                "channel": "individual",
                "applied_at": "2015-03-01",
                "issued_at": "2015-03-02",
            },
        ],
    )
    write_dataset(
        folder,
        "callbacks",
        [
            {
                "callback_id": "k1",
                "policy_id": "p1",
                "branch_id": "B1",
                "channel": "individual",
                "phone": "13800005678",
                "called_at": "2015-03-05 10:00:00",
                "success": True,
            },
        ],
    )
    return folder


def _pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def test_branch_and_company_pdfs_show_names_titles_and_values(tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    summary = render_reports("2015-03", data, out=tmp_path / "out", branches=["B1"], progress=False)
    folder = tmp_path / "out" / "2015-03"
    assert {p.name for p in folder.iterdir()} == {
        "B1.html",
        "B1.pdf",
        "index.html",
        "company.pdf",
        "manifest.json",
    }
    assert set(summary.files) == set(folder.iterdir())
    text = _pdf_text(folder / "B1.pdf")
    assert "市区营业部" in text and "2015年3月 客服运营指标报告" in text
    assert "理赔5日结案率" in text and "66.7%" in text and "≥ 98.0%" in text
    assert "疑似销售人员电话" in text and "138****5678" in text
    assert "指标趋势 · 2015年" in text  # the axis says 01 02 03: the year is named once
    company = _pdf_text(folder / "company.pdf")
    assert "2015年3月 市公司客服运营指标汇总" in company and "丰县支公司" in company
    # the company's 5-day rate: 3 of 4 = 75.0%
    assert "75.0%" in company
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["month"] == "2015-03" and manifest["branches"] == ["B1"]
    assert {i["dataset"] for i in manifest["inputs"]} >= {"claims", "branches"}
    assert all(len(i["sha256"]) == 64 for i in manifest["inputs"])


def test_html_in_english_escapes_hostile_names_and_masks_phones(tmp_path: Path) -> None:
    data = _data(tmp_path / "data", county_name=EVIL)
    render_reports(
        "2015-03",
        data,
        out=tmp_path / "out",
        formats=["html"],
        lang="en",
        progress=False,
        reproducible=True,
    )
    folder = tmp_path / "out" / "2015-03"
    index = (folder / "index.html").read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(1)&gt;" in index and EVIL not in index
    branch = (folder / "B1.html").read_text(encoding="utf-8")
    assert "Claims closed within 5 days" in branch and "66.7%" in branch
    assert "Trends · 2015</h2>" in branch
    for path in folder.iterdir():
        assert "13800005678" not in path.read_text(encoding="utf-8"), path
    assert "138****5678" in branch


def test_html_is_byte_identical_with_reproducible(tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    for out in ("a", "b"):
        render_reports(
            "2015-03", data, out=tmp_path / out, formats=["html"], progress=False, reproducible=True
        )
    for name in ("B1.html", "B2.html", "index.html"):
        assert (tmp_path / "a" / "2015-03" / name).read_bytes() == (
            tmp_path / "b" / "2015-03" / name
        ).read_bytes(), name


def test_branch_ids_cannot_write_outside_the_output_folder(tmp_path: Path) -> None:
    data = _data(tmp_path / "data", county_id="../../escape")
    render_reports("2015-03", data, out=tmp_path / "out", formats=["html"], progress=False)
    written = sorted(p.name for p in (tmp_path / "out" / "2015-03").iterdir())
    assert written == ["B1.html", "escape.html", "index.html", "manifest.json"]
    assert not (tmp_path / "escape.html").exists()


def test_pdf_fetches_nothing_from_the_file_system(tmp_path: Path) -> None:
    from kpitool.report.pdf import render_pdf

    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-42", encoding="utf-8")
    html = (
        f'<html><head><link rel="stylesheet" href="file://{secret}"></head><body>'
        f'<p>报告</p><img src="file://{secret}"><object data="file://{secret}"></object>'
        f'<iframe src="file:///etc/passwd"></iframe></body></html>'
    )
    render_pdf(html, tmp_path / "x.pdf")
    text = _pdf_text(tmp_path / "x.pdf")
    assert "报告" in text and "TOPSECRET" not in text and "root:" not in text


def test_unknown_branch_and_format_are_usage_errors(cli, tmp_path: Path) -> None:
    data = _data(tmp_path / "data")
    result = cli(
        "report",
        "--month",
        "2015-03",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "out"),
        "--branch",
        "B9",
        "--format",
        "html",
    )
    assert result.exit_code == 2 and "--branch 'B9': not a branch" in result.stderr
    result = cli(
        "report",
        "--month",
        "2015-03",
        "--data",
        str(data),
        "--out",
        str(tmp_path / "out"),
        "--format",
        "docx",
    )
    assert result.exit_code == 2 and "--format docx" in result.stderr
    assert not (tmp_path / "out").exists()


def test_missing_fontconfig_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from kpitool.report import pdf

    pdf.check_cjk_font.cache_clear()
    monkeypatch.setattr(pdf.shutil, "which", lambda _name: None)
    with pytest.raises(KpiError, match="install fontconfig and fonts-noto-cjk"):
        pdf.check_cjk_font()
    pdf.check_cjk_font.cache_clear()


def test_a_row_in_two_detection_lists_is_shown_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    # The bundled sample: B05's 2 callbacks were answered on agents' phones (planted), so
    # they are in 疑似销售人员电话 and again in 疑似虚假回访合计: listed once, then noted.
    render_reports("2015-03", None, out=out, formats=["html"], branches=["B05"], progress=False)
    page = (out / "2015-03" / "B05.html").read_text(encoding="utf-8")
    lists = page[page.index('<section class="lists" id="lists">') :]
    assert lists.count("K00005035") == 1 and lists.count("K00005056") == 1
    total = lists[lists.index("疑似虚假回访合计") :]
    block = total[: total.index("<h3>")]
    assert "另有 2 条已在上方清单列出" in block and "K000050" not in block
    assert ">True<" not in page and ">False<" not in page


def test_exception_reasons_and_codes_read_in_the_report_s_language(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    write_dataset(folder, "branches", [{"branch_id": "B1", "branch_name": "市区", "level": "city"}])
    write_dataset(
        folder,
        "lapse_cleanup",
        [
            {
                "task_id": "T1",
                "branch_id": "B1",
                "visited_at": "2015-03-05",
                "outcome": "met_policyholder",
                "visited_person": "relative",
                "has_photo": False,
                "has_policy_no": True,
                "has_signature": False,
            }
        ],
    )
    for lang, words in (
        ("zh", ["无照片; 非投保人本人; 无签名", "面见投保人", "亲属"]),
        ("en", ["no photo; not the policyholder; no signature", "met_policyholder"]),
    ):
        render_reports("2015-03", folder, out=tmp_path / lang, formats=["html"], lang=lang)
        page = (tmp_path / lang / "2015-03" / "B1.html").read_text(encoding="utf-8")
        for word in words:
            assert f">{word}<" in page, (lang, word)
