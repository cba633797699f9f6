"""The summary a report opens with and the drill-down behind each missed figure, read from
the rendered HTML and PDF: on data built here (values worked out by hand) and on the bundled
sample's planted failures."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path

import pytest

from kpitool.api import report
from kpitool.api.engines import open_engine
from kpitool.measure.evaluate import evaluate
from kpitool.measure.listing import exceptions
from kpitool.plan.periods import parse_period
from kpitool.report.findings import find
from kpitool.rules.loader import load_rules

from builders import write_dataset


def _text(page: str) -> str:
    """A page's visible text on one line: tags, styles and charts dropped, spaces collapsed."""
    page = re.sub(r"<(style|svg)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def _section(text: str, start: str, end: str) -> str:
    return text[text.index(start) : text.index(end, text.index(start))]


def _pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True)
    return re.sub(r"\s+", " ", out.stdout)


@pytest.fixture
def counters_data(tmp_path: Path) -> Path:
    """B1's counter C1 keeps people 30 minutes (two visits), C2 5 minutes (two visits); B2's
    C3 10 minutes. B1's mean is (30+30+5+5)/4 = 17.5 > 15: it fails because of C1.
    B1 has four staff, E3 and E4 not appraised in March: 2/4 = 50.0% against ≥ 95.0%."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_dataset(
        folder,
        "branches",
        [
            {"branch_id": "B1", "branch_name": "市区营业部", "level": "city"},
            {"branch_id": "B2", "branch_name": "丰县支公司", "level": "county", "parent_id": "B1"},
        ],
    )
    write_dataset(
        folder,
        "counters",
        [
            {"counter_id": "C1", "branch_id": "B1", "counter_name": "一号柜面"},
            {"counter_id": "C2", "branch_id": "B1", "counter_name": "二号柜面"},
            {"counter_id": "C3", "branch_id": "B2", "counter_name": "丰县柜面"},
        ],
    )
    visits = [("C1", "B1", 30), ("C1", "B1", 30), ("C2", "B1", 5), ("C2", "B1", 5)]
    visits.append(("C3", "B2", 10))
    write_dataset(
        folder,
        "counter_visits",
        [
            {
                "ticket_id": f"T{i}",
                "counter_id": counter,
                "branch_id": branch,
                "arrived_at": "2015-03-02 09:00:00",
                "called_at": f"2015-03-02 09:{wait:02d}:00",
                "finished_at": f"2015-03-02 09:{wait + 3:02d}:00",  # 3 minutes' handling
                "satisfaction": 5,
            }
            for i, (counter, branch, wait) in enumerate(visits)
        ],
    )
    write_dataset(
        folder,
        "staff",
        [{"employee_id": f"E{i}", "branch_id": "B1", "role": "柜面"} for i in range(1, 5)]
        + [{"employee_id": "E9", "branch_id": "B2", "role": "柜面"}],
    )
    write_dataset(
        folder,
        "appraisals",
        [{"employee_id": e, "period": "2015-03", "appraised": True} for e in ("E1", "E2", "E9")],
    )
    return folder


def test_branch_summary_names_each_failure_its_gap_and_cause(
    counters_data: Path, tmp_path: Path
) -> None:
    out = report("2015-03", counters_data, out=tmp_path / "out", formats=["html"], progress=False)
    text = _text((out.folder / "B1.html").read_text(encoding="utf-8"))
    summary = _section(text, "本期要点", "指标计分卡")
    assert "本期 2 项未达标、0 项预警" in summary
    assert (
        "柜面平均排队时间 : 17.5分钟；目标 ≤ 15.0分钟；差距 2.5分钟；主要原因: C1 一号柜面 30.0分钟"
    ) in summary
    assert (
        # February had no appraisals (0.0%): +50.0pt since
        "客服员工绩效考核覆盖率 : 50.0%；目标 ≥ 95.0%；差距 45.0pt；较上月 ▲ +50.0pt；"
        "主要原因: 2 条明细见下方 (E3、E4)"
    ) in summary
    # the summary comes before the scorecard, the drill-down right after it
    drill = _section(text, "未达标明细", "指标趋势")
    assert "柜面 C1 一号柜面 30.0分钟 未达标" in drill and "C2" not in drill
    assert (
        "客服员工绩效考核覆盖率 50.0% · 目标 ≥ 95.0% · 共 2 条 员工号 岗位 E3 柜面 E4 柜面" in drill
    )
    b2 = _text((out.folder / "B2.html").read_text(encoding="utf-8"))
    assert "本期各项指标均达标" in b2 and "未达标明细" not in b2


def test_company_summary_counts_the_branches_failures(counters_data: Path, tmp_path: Path) -> None:
    out = report("2015-03", counters_data, out=tmp_path / "out", formats=["html"], progress=False)
    text = _text((out.folder / "index.html").read_text(encoding="utf-8"))
    summary = _section(text, "本期要点", "各单位指标达标情况")
    # company: (30+30+5+5+10)/5 = 16.0 minutes; staff 3/5 = 60.0%
    assert (
        "柜面平均排队时间 : 16.0分钟；目标 ≤ 15.0分钟；差距 1.0分钟；"
        "未达标单位: 市区营业部 17.5分钟" in summary
    )
    assert "各单位未达标项数: 市区营业部 2 项" in summary
    assert "较上月新增未达标: 柜面平均排队时间" in summary  # February had no visits to fail


def test_english_summary(counters_data: Path, tmp_path: Path) -> None:
    out = report(
        "2015-03", counters_data, out=tmp_path / "out", formats=["html"], lang="en", progress=False
    )
    text = _text((out.folder / "B1.html").read_text(encoding="utf-8"))
    assert "2 KPIs fail and 0 warn this period" in text
    assert "gap 2.5 min; main cause: C1 一号柜面 30.0 min" in text


def test_sample_planted_failures_in_html_and_pdf(tmp_path: Path) -> None:
    """The bundled sample plants B03's slow counter C0301, B06's five early death and
    critical-illness claims and B06's one unappraised employee of eight (7/8 = 87.5%)."""
    out = report("2015-03", None, out=tmp_path / "out", branches=["B03", "B06"], progress=False)
    b03 = _text((out.folder / "B03.html").read_text(encoding="utf-8"))
    assert "主要原因: C0301 丰县支公司一号柜面 23.8分钟" in _section(b03, "本期要点", "指标计分卡")
    b06 = _text((out.folder / "B06.html").read_text(encoding="utf-8"))
    summary = _section(b06, "本期要点", "指标计分卡")
    assert "客服员工绩效考核覆盖率 : 87.5%；目标 ≥ 95.0%；差距 7.5pt" in summary
    drill = _section(b06, "未达标明细", "指标趋势")
    assert "死重指数 46.08‱ · 目标 ≤ 14.81‱ · 共 5 条" in drill
    claims = ["L00001875", "L00001888", "L00001904", "L00001905", "L00001913"]
    assert all(c in drill for c in claims)
    assert "E0045" in drill
    for page, words in (
        ("B03.pdf", ["本期要点", "C0301", "23.8分钟"]),
        ("B06.pdf", ["本期 4 项未达标", "E0045", *claims]),
    ):
        text = _pdf_text(out.folder / page)
        assert all(w in text for w in words), page
        assert text.index("本期要点") < text.index("指标计分卡")


def test_causes_are_ordered_by_how_much_they_move_the_figure(tmp_path: Path) -> None:
    """B1's counter C1 keeps one person 40 minutes, C2 six people 20 minutes each: C1's
    value is worse, but C2 adds 6 × (20 − 15) = 30 minutes above target against C1's
    1 × (40 − 15) = 25, so C2 comes first. B1: (40 + 6 × 20) / 7 = 22.9 minutes."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_dataset(
        folder, "branches", [{"branch_id": "B1", "branch_name": "市区营业部", "level": "city"}]
    )
    write_dataset(
        folder,
        "counters",
        [
            {"counter_id": "C1", "branch_id": "B1", "counter_name": "一号柜面"},
            {"counter_id": "C2", "branch_id": "B1", "counter_name": "二号柜面"},
        ],
    )
    waits = [("C1", 40)] + [("C2", 20)] * 6
    write_dataset(
        folder,
        "counter_visits",
        [
            {
                "ticket_id": f"T{i}",
                "counter_id": counter,
                "branch_id": "B1",
                "arrived_at": "2015-03-02 09:00:00",
                "called_at": f"2015-03-02 09:{wait:02d}:00",
                "finished_at": f"2015-03-02 09:{wait + 3:02d}:00",
                "satisfaction": 5,
            }
            for i, (counter, wait) in enumerate(waits)
        ],
    )
    out = report("2015-03", folder, out=tmp_path / "out", formats=["html"], progress=False)
    text = _text((out.folder / "B1.html").read_text(encoding="utf-8"))
    assert (
        "柜面平均排队时间 : 22.9分钟；目标 ≤ 15.0分钟；差距 7.9分钟；"
        "主要原因: C2 二号柜面 20.0分钟、C1 一号柜面 40.0分钟"
    ) in _section(text, "本期要点", "指标计分卡")
    drill = _section(text, "未达标明细", "指标趋势")
    assert drill.index("柜面 C2 二号柜面 20.0分钟") < drill.index("柜面 C1 一号柜面 40.0分钟")


def test_company_names_the_branches_that_move_its_figure_most(tmp_path: Path) -> None:
    """B1 keeps one person 40 minutes, B2 six people 20 minutes: B2 adds 6 × 5 = 30 minutes
    above target, B1 1 × 25 = 25, so B2 is named first. Company: 160 / 7 = 22.9 minutes."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_dataset(
        folder,
        "branches",
        [
            {"branch_id": "B1", "branch_name": "市区营业部", "level": "city"},
            {"branch_id": "B2", "branch_name": "丰县支公司", "level": "county", "parent_id": "B1"},
        ],
    )
    waits = [("B1", 40)] + [("B2", 20)] * 6
    write_dataset(
        folder,
        "counter_visits",
        [
            {
                "ticket_id": f"T{i}",
                "counter_id": f"C{branch}",
                "branch_id": branch,
                "arrived_at": "2015-03-02 09:00:00",
                "called_at": f"2015-03-02 09:{wait:02d}:00",
                "finished_at": f"2015-03-02 09:{wait + 3:02d}:00",
                "satisfaction": 5,
            }
            for i, (branch, wait) in enumerate(waits)
        ],
    )
    out = report("2015-03", folder, out=tmp_path / "out", formats=["html"], progress=False)
    text = _text((out.folder / "index.html").read_text(encoding="utf-8"))
    assert (
        "柜面平均排队时间 : 22.9分钟；目标 ≤ 15.0分钟；差距 7.9分钟；"
        "未达标单位: 丰县支公司 20.0分钟、市区营业部 40.0分钟"
    ) in _section(text, "本期要点", "各单位指标达标情况")
    # the company's drill-down: the branches behind the figure, the one moving it most first
    drill = _section(text, "未达标明细", "各单位指标达标情况")
    assert (
        "柜面平均排队时间 22.9分钟 · 目标 ≤ 15.0分钟 · 共 2 条 对象 名称 本期值 目标 状态 "
        "B2 丰县支公司 20.0分钟 ≤ 15.0分钟 未达标 B1 市区营业部 40.0分钟 ≤ 15.0分钟 未达标"
    ) in drill
    page = (out.folder / "index.html").read_text(encoding="utf-8")
    assert 'href="#drill-counter.queue_time_avg"' in page
    assert 'id="drill-counter.queue_time_avg"' in page


def test_a_detection_figure_points_to_its_list_not_to_a_drill_down(tmp_path: Path) -> None:
    """B1's callbacks K2 and K3 reached agent A1's phone (K1 another number): the figure is
    2 against ≤ 0. Its rows are in the exception lists, so the summary counts them there,
    names the first two (K2, K3) and the page shows no drill-down block of them."""
    folder = tmp_path / "data"
    folder.mkdir()
    write_dataset(
        folder, "branches", [{"branch_id": "B1", "branch_name": "市区营业部", "level": "city"}]
    )
    agent_phone = "13900000001"
    write_dataset(
        folder,
        "agents",
        [{"agent_id": "A1", "branch_id": "B1", "phone": agent_phone, "person_id": "X1"}],
    )
    write_dataset(
        folder,
        "policies",
        [
            {"policy_id": f"P{i}", "branch_id": "B1", "policyholder_id": f"H{i}", "agent_id": "A1"}
            for i in (1, 2, 3)
        ],
    )
    write_dataset(
        folder,
        "callbacks",
        [
            {
                "callback_id": f"K{i}",
                "policy_id": f"P{i}",
                "branch_id": "B1",
                "called_at": f"2015-03-0{i} 10:00:00",
                "phone": "13700000009" if i == 1 else agent_phone,
                "success": True,
            }
            for i in (1, 2, 3)
        ],
    )
    out = report("2015-03", folder, out=tmp_path / "out", formats=["html"], progress=False)
    text = _text((out.folder / "B1.html").read_text(encoding="utf-8"))
    summary = _section(text, "本期要点", "指标计分卡")
    assert (
        "疑似销售人员电话 : 2件；目标 ≤ 0件；差距 2件；主要原因: 2 条见异常清单 (K2、K3)" in summary
    )
    assert "未达标明细" not in text  # no other figure misses, and this one has its list
    lists = text[text.index("异常清单 疑似销售人员电话") :]
    assert "(共 2 条)" in lists[:40] and "K2" in lists and "K1" not in lists[:400]
    # the list stands in for the drill-down: no plan is run for it
    engine, rules, month = open_engine(folder), load_rules(), parse_period("2015-03")
    results = evaluate(engine, rules, [month])
    rows_id = "callbacks.agent_phone"
    rows = exceptions(engine, rules, rows_id, month)
    listed = find(engine, rules, month, results, unmask=False, listed={rows_id: rows})
    assert (rows_id, "B1") not in listed.drills
    drilled = find(engine, rules, month, results, unmask=False)
    assert drilled.drills[(rows_id, "B1")][1] == 2
