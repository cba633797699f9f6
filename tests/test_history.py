"""The monthly cycle: every report recorded in OUT/history.sqlite, what changed between two
months (rules newly failing, recovered, still failing; exception rows listed before, new,
gone), a restatement of one month, and the history surviving a killed and concurrent run."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import kpitool

from builders import DEFAULT_BRANCHES, write_dataset

RULES = """section: "9"
title: {zh: 测试, en: Test}
rules:
  - id: t.closed_5d
    title: {zh: 五日结案率, en: Closed within 5 days}
    dataset: claims
    period: {date: reported_at}
    measure:
      kind: share
      condition: "closed_at IS NOT NULL AND days_between(reported_at, closed_at) <= 5"
    target: {op: ">=", value: 0.5}
  - id: t.investigated
    title: {zh: 大额调查率, en: Large claims investigated}
    dataset: claims
    period: {date: reported_at}
    where: "claimed_amount > 2000"
    measure: {kind: share, condition: "investigated"}
    target: {op: "=", value: 1.0}
    exceptions:
      window: ytd
      where: "NOT investigated"
      show: [claim_id, claimed_amount]
"""


def _claim(cid: str, branch: str, reported: str, closed: str | None, amount: float = 100.0,
           investigated: bool = False) -> dict[str, Any]:  # fmt: skip
    return {
        "claim_id": cid,
        "branch_id": branch,
        "reported_at": reported,
        "closed_at": closed,
        "claimed_amount": amount,
        "investigated": investigated,
    }


MARCH = [
    # B1: closed within 5 days c1 c3 c5 of c1 c2 c3 c5 -> 3/4 = 75% pass;
    #     over 2000 c1 c2, neither investigated -> 0/2 = 0% fail, both listed.
    _claim("c1", "B1", "2015-03-02", "2015-03-04", 3000),
    _claim("c2", "B1", "2015-03-03", "2015-03-20", 3000),
    _claim("c3", "B1", "2015-03-10", "2015-03-12"),
    _claim("c5", "B1", "2015-03-30", "2015-03-31"),
    # B2: c4 closed after 25 days -> 0/1 = 0% fail.
    _claim("c4", "B2", "2015-03-05", "2015-03-30"),
]
APRIL = [
    # The April extract: c1 has since been investigated (fixed), c2 still not.
    _claim("c1", "B1", "2015-03-02", "2015-03-04", 3000, investigated=True),
    *MARCH[1:],
    # B1 in April: only c8 within 5 days of c6 c7 c8 -> 1/3 = 33.3% fail (newly failing);
    #     over 2000 c6 (not investigated, listed: new) c7 (investigated) -> 50% fail.
    _claim("c6", "B1", "2015-04-02", "2015-04-20", 5000),
    _claim("c7", "B1", "2015-04-10", "2015-04-30", 2500, investigated=True),
    _claim("c8", "B1", "2015-04-29", "2015-04-30"),
    # B2 in April: c9 within 5 days -> 1/1 = 100% pass (recovered).
    _claim("c9", "B2", "2015-04-28", "2015-04-29"),
]


def _data(folder: Path, claims: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_dataset(folder, "branches", DEFAULT_BRANCHES)
    write_dataset(folder, "claims", claims)
    return folder


def _rules(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "t.yaml").write_text(RULES, encoding="utf-8")
    return folder


def _report(cli: Callable[..., Any], month: str, data: Path, rules: Path, out: Path) -> Any:
    return cli(
        "report", "--month", month, "--data", str(data), "--rules", str(rules),
        "--out", str(out), "--format", "html",
    )  # fmt: skip


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def _section(page: str, heading: str, until: str) -> str:
    return page[page.index(heading) : page.index(until, page.index(heading))]


def test_two_months_show_recovered_newly_failing_outstanding_and_fixed_rows(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    rules, out = _rules(tmp_path / "rules"), tmp_path / "out"
    assert _report(cli, "2015-03", _data(tmp_path / "march", MARCH), rules, out).exit_code == 0
    done = _report(cli, "2015-04", _data(tmp_path / "april", APRIL), rules, out)
    assert done.exit_code == 0, done.stderr

    b1 = _text((out / "2015-04" / "B1.html").read_text(encoding="utf-8"))
    changed = _section(b1, "本期变化", "指标趋势")
    assert "新增未达标: 五日结案率" in changed
    assert "连续未达标(期数): 大额调查率 (2)" in changed
    assert "大额调查率: 新增 1 条, 上期已列 1 条, 上期所列已消除 1 条" in changed
    assert "恢复达标" not in changed
    listed = _section(b1, "异常清单", "数据质量说明")
    assert "c2 3,000.00 上期已列 (2015-03 起, 第 2 期)" in listed
    assert "c6 5,000.00 新增" in listed
    assert "c1 " not in listed

    b2 = _text((out / "2015-04" / "B2.html").read_text(encoding="utf-8"))
    assert "恢复达标: 五日结案率" in _section(b2, "本期变化", "指标趋势")

    march = _text((out / "2015-03" / "B1.html").read_text(encoding="utf-8"))
    assert "c1 3,000.00 新增" in march and "c2 3,000.00 新增" in march

    shown = cli("diff", "2015-03", "2015-04", "--out", str(out), "--format", "json")
    found = json.loads(shown.stdout)
    assert (found["before"]["period"], found["after"]["period"]) == ("2015-03", "2015-04")
    rows = {(r["rule_id"], r["scope_id"]): r for r in found["rows"]}
    assert {k: r["change"] for k, r in rows.items()} == {
        ("t.closed_5d", "ALL"): "value_changed",  # 3/5 = 60% pass -> 2/4 = 50% pass
        ("t.closed_5d", "B1"): "newly_failing",
        ("t.closed_5d", "B2"): "recovered",
        ("t.investigated", "ALL"): "still_failing",
        ("t.investigated", "B1"): "still_failing",
        ("t.investigated", "B2"): "unchanged",  # no claim over 2000: n/a both months
    }
    assert rows[("t.closed_5d", "B1")]["value_before"] == 0.75
    assert rows[("t.closed_5d", "B1")]["value_after"] == pytest.approx(1 / 3)
    assert rows[("t.investigated", "B1")]["failing_periods"] == 2
    assert rows[("t.closed_5d", "B2")]["failing_periods"] == 0


def test_restatement_shows_exactly_the_changed_figures_and_file(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    rules, out, data = _rules(tmp_path / "rules"), tmp_path / "out", tmp_path / "data"
    assert _report(cli, "2015-04", _data(data, APRIL), rules, out).exit_code == 0
    # A corrected extract: c8 turns out not to be closed yet.
    restated = [c if c["claim_id"] != "c8" else {**c, "closed_at": None} for c in APRIL]
    _data(data, restated)
    assert _report(cli, "2015-04", data, rules, out).exit_code == 0

    found = json.loads(cli("diff", "2015-04", "--out", str(out), "--format", "json").stdout)
    assert (found["before"]["run_id"], found["after"]["run_id"]) == (1, 2)
    moved = {
        (r["rule_id"], r["scope_id"]): (r["value_before"], r["value_after"])
        for r in found["rows"]
        if r["value_before"] != r["value_after"]
    }
    # B1: 1/3 -> 0/3; company: c8 c9 of c6 c7 c8 c9 = 2/4 -> c9 only = 1/4.
    assert moved == {("t.closed_5d", "ALL"): (0.5, 0.25), ("t.closed_5d", "B1"): (1 / 3, 0.0)}
    assert [(i["dataset"], Path(i["path"]).name) for i in found["inputs_changed"]] == [
        ("claims", "claims.parquet")
    ]
    b1 = _text((out / "2015-04" / "B1.html").read_text(encoding="utf-8"))
    assert "五日结案率: 33.3% → 0.0%" in _section(b1, "本期变化", "指标趋势")
    table = cli("diff", "2015-04", "--out", str(out))
    assert "2 changed" in table.stdout and "claims.parquet" in table.stdout
    book = tmp_path / "diff.xlsx"
    written = cli("diff", "2015-04", "--out", str(out), "--format", "xlsx", "-o", str(book))
    assert written.exit_code == 0, written.stderr
    sheets = openpyxl.load_workbook(book, read_only=True)
    assert sheets.sheetnames == ["runs", "changes", "inputs changed"]
    changes = list(sheets["changes"].iter_rows(values_only=True))
    head = changes[0]
    at = {c: head.index(c) for c in ("rule_id", "scope_id", "value_before", "value_after")}
    moved_in_book = {
        (r[at["rule_id"]], r[at["scope_id"]]): (r[at["value_before"]], r[at["value_after"]])
        for r in changes[1:]
        if r[at["value_before"]] != r[at["value_after"]]
    }
    assert moved_in_book == moved
    inputs = list(sheets["inputs changed"].iter_rows(values_only=True))
    assert inputs[0][:2] == ("dataset", "path") and [r[0] for r in inputs[1:]] == ["claims"]


def test_history_lists_runs_and_a_rule_over_the_periods(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    rules, out = _rules(tmp_path / "rules"), tmp_path / "out"
    _report(cli, "2015-03", _data(tmp_path / "march", MARCH), rules, out)
    data = _data(tmp_path / "april", APRIL)
    _report(cli, "2015-04", data, rules, out)
    recorded = cli(
        "evaluate", "--month", "2015-04", "--data", str(data), "--rules", str(rules),
        "--record", "--out", str(out), "--format", "json",
    )  # fmt: skip
    assert recorded.exit_code == 0, recorded.stderr

    runs = json.loads(cli("history", "--out", str(out), "--format", "json").stdout)
    assert [(r["run_id"], r["period"], r["command"]) for r in runs] == [
        (1, "2015-03", "report"),
        (2, "2015-04", "report"),
        (3, "2015-04", "evaluate"),
    ]
    assert runs[0]["tool_version"] == kpitool.__version__
    assert {i["dataset"] for i in runs[1]["inputs"]} == {"branches", "claims"}
    assert all(len(i["sha256"]) == 64 for i in runs[1]["inputs"])

    shown = cli(
        "history", "--out", str(out), "--rule", "t.closed_5d", "--branch", "B1", "--format", "csv"
    )
    lines = shown.stdout.splitlines()
    assert lines[0] == "run_id,period,scope,scope_id,value,target,status"
    assert lines[1:] == [
        "1,2015-03,branch,B1,0.75,0.5,pass",
        f"3,2015-04,branch,B1,{1 / 3},0.5,fail",
    ]
    book = tmp_path / "history.xlsx"
    args = ("history", "--out", str(out), "--format", "xlsx", "--output", str(book))
    assert cli(*args).exit_code == 0
    runs_sheet = list(openpyxl.load_workbook(book)["runs"].iter_rows(values_only=True))
    at = {c: runs_sheet[0].index(c) for c in ("run_id", "period", "command", "inputs")}
    assert [(r[at["run_id"]], r[at["period"]], r[at["command"]]) for r in runs_sheet[1:]] == [
        (1, "2015-03", "report"),
        (2, "2015-04", "report"),
        (3, "2015-04", "evaluate"),
    ]
    assert runs_sheet[2][at["inputs"]] == 2  # branches and claims
    assert cli(*args, "--rule", "t.closed_5d", "--branch", "B1").exit_code == 0
    rule_sheet = list(openpyxl.load_workbook(book)["history"].iter_rows(values_only=True))
    assert rule_sheet[0] == ("run_id", "period", "scope", "scope_id", "value", "target", "status")
    assert [r[:2] + r[4:] for r in rule_sheet[1:]] == [
        (1, "2015-03", 0.75, 0.5, "pass"),
        (3, "2015-04", 1 / 3, 0.5, "fail"),
    ]
    # Readable by ordinary tools: the stdlib's sqlite3 is enough.
    with sqlite3.connect(out / "history.sqlite") as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
        keys = conn.execute("SELECT key_columns, key FROM exception_rows WHERE run_id = 1")
        assert sorted(keys) == [('["claim_id"]', '["c1"]'), ('["claim_id"]', '["c2"]')]


def test_diff_without_two_runs_says_so(tmp_path: Path, cli: Callable[..., Any]) -> None:
    rules, out = _rules(tmp_path / "rules"), tmp_path / "out"
    missing = cli("diff", "2015-03", "--out", str(out))
    assert missing.exit_code == 2 and "no history" in missing.stderr
    _report(cli, "2015-03", _data(tmp_path / "march", MARCH), rules, out)
    once = cli("diff", "2015-03", "--out", str(out))
    assert once.exit_code == 2
    assert "1 recorded run(s)" in once.stderr
    other = cli("diff", "2015-03", "2015-05", "--out", str(out))
    assert other.stderr.strip() == "Error: diff 2015-05: no recorded run of it (recorded: 2015-03)"


_KILLER = """
import os, signal, sqlite3, sys
import kpitool.history.store as store
from kpitool.cli import main

connect = sqlite3.connect
def killing(*args, **kwargs):
    conn = connect(*args, **kwargs)
    inserts = []
    def trace(sql):
        if sql.startswith("INSERT INTO results"):
            inserts.append(sql)
            if len(inserts) == 3:  # the run row and two result rows are in: die now
                os.kill(os.getpid(), signal.SIGKILL)
    conn.set_trace_callback(trace)
    return conn
store.sqlite3.connect = killing
sys.argv = ["kpitool", *sys.argv[1:]]
main()
"""


def _kpitool(*args: str, script: str | None = None) -> subprocess.Popen[str]:
    code = script if script is not None else "from kpitool.cli import main; main()"
    src = str(Path(kpitool.__file__).parents[1])
    return subprocess.Popen(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {src!r})\n{code}", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_run_killed_mid_write_leaves_the_history_whole(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    rules, out = _rules(tmp_path / "rules"), tmp_path / "out"
    march, april = _data(tmp_path / "march", MARCH), _data(tmp_path / "april", APRIL)
    _report(cli, "2015-03", march, rules, out)
    _report(cli, "2015-04", april, rules, out)
    args = ("evaluate", "--month", "2015-04", "--data", str(april), "--rules", str(rules))
    killed = _kpitool(*args, "--record", "--out", str(out), "--format", "json", script=_KILLER)
    killed.communicate(timeout=120)
    assert killed.returncode == -9
    with sqlite3.connect(out / "history.sqlite") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT run_id, period FROM runs").fetchall() == [
            (1, "2015-03"),
            (2, "2015-04"),
        ]
        assert conn.execute("SELECT COUNT(*) FROM results WHERE run_id > 2").fetchone() == (0,)
    again = cli(*args, "--record", "--out", str(out), "--format", "json")
    assert again.exit_code == 0
    runs = json.loads(cli("history", "--out", str(out), "--format", "json").stdout)
    assert [r["command"] for r in runs] == ["report", "report", "evaluate"]


def test_two_concurrent_runs_are_both_recorded(tmp_path: Path, cli: Callable[..., Any]) -> None:
    rules, out = _rules(tmp_path / "rules"), tmp_path / "out"
    april = _data(tmp_path / "april", APRIL)
    common = ("--data", str(april), "--rules", str(rules), "--record", "--out", str(out))
    runs = [
        _kpitool("evaluate", "--month", month, *common, "--format", "json")
        for month in ("2015-03", "2015-04")
    ]
    for run in runs:
        _, err = run.communicate(timeout=180)
        assert run.returncode == 0, err
    found = json.loads(cli("history", "--out", str(out), "--format", "json").stdout)
    assert sorted(r["period"] for r in found) == ["2015-03", "2015-04"]
    with sqlite3.connect(out / "history.sqlite") as conn:
        # 2 rules x (company, B1, B2) per run
        assert conn.execute("SELECT run_id, COUNT(*) FROM results GROUP BY run_id").fetchall() == [
            (1, 6),
            (2, 6),
        ]


def _vs_last_month(page: str, rule_id: str) -> str:
    row = page[page.index(rule_id) :]
    cells = re.findall(r'<td class="num[^"]*"[^>]*>([^<]*)</td>', row)
    return cells[2]  # value, target, then the change on last month


def test_earlier_months_are_read_from_the_history_of_the_same_rules(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    rules, out = _rules(tmp_path / "rules"), tmp_path / "out"
    _report(cli, "2015-03", _data(tmp_path / "march", MARCH), rules, out)
    april = _data(tmp_path / "april", APRIL)
    _report(cli, "2015-04", april, rules, out)
    # B1's large claims: 1/2 = 50% in April against March as reported (0/2 = 0%), although
    # the April extract, where c1 has been investigated since, would make March 50% too.
    page = (out / "2015-04" / "B1.html").read_text(encoding="utf-8")
    assert _vs_last_month(page, "t.investigated") == "▲ +50.0pt"

    # Other rules (another version): March is evaluated anew from the April extract.
    other = _rules(tmp_path / "other")
    (other / "t.yaml").write_text(RULES.replace("大额调查率", "大额赔案调查率"), encoding="utf-8")
    _report(cli, "2015-04", april, other, tmp_path / "out")
    page = (out / "2015-04" / "B1.html").read_text(encoding="utf-8")
    assert _vs_last_month(page, "t.investigated") == "0"


def test_exceptions_with_out_say_when_a_row_was_first_listed(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    rules, out = _rules(tmp_path / "rules"), tmp_path / "out"
    _report(cli, "2015-03", _data(tmp_path / "march", MARCH), rules, out)
    april = _data(tmp_path / "april", APRIL)
    shown = cli(
        "exceptions", "t.investigated", "--month", "2015-04", "--data", str(april),
        "--rules", str(rules), "--out", str(out), "--format", "json",
    )  # fmt: skip
    assert shown.exit_code == 0, shown.stderr
    rows = [
        (r["claim_id"], r["first_listed"], r["periods_listed"]) for r in json.loads(shown.stdout)
    ]
    assert sorted(rows) == [("c2", "2015-03", 2), ("c6", None, 1)]


def test_a_foreign_or_newer_history_file_is_a_clear_error(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "history.sqlite").write_bytes(b"not a database at all, just text" * 100)
    foreign = cli("history", "--out", str(out))
    assert foreign.exit_code == 2
    assert foreign.stderr.startswith(f"Error: {out / 'history.sqlite'}: not a kpitool history file")
    (out / "history.sqlite").unlink()
    with sqlite3.connect(out / "history.sqlite") as conn:
        conn.execute("PRAGMA user_version = 99")
    newer = cli("history", "--out", str(out))
    assert newer.exit_code == 2
    assert newer.stderr.strip() == (
        f"Error: {out / 'history.sqlite'}: history schema 99 is newer than this kpitool's (2); "
        "upgrade kpitool"
    )


def test_a_recorded_evaluation_does_not_hide_the_last_report_s_lists(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    rules, out = _rules(tmp_path / "rules"), tmp_path / "out"
    march = _data(tmp_path / "march", MARCH)
    _report(cli, "2015-03", march, rules, out)
    evaluated = cli(
        "evaluate", "--month", "2015-03", "--data", str(march), "--rules", str(rules),
        "--rule", "t.closed_5d", "--record", "--out", str(out), "--format", "json",
    )  # fmt: skip
    assert evaluated.exit_code == 0
    _report(cli, "2015-04", _data(tmp_path / "april", APRIL), rules, out)
    b1 = _text((out / "2015-04" / "B1.html").read_text(encoding="utf-8"))
    assert "c2 3,000.00 上期已列 (2015-03 起, 第 2 期)" in b1
    assert "大额调查率: 新增 1 条, 上期已列 1 条, 上期所列已消除 1 条" in b1
    assert "连续未达标(期数): 大额调查率 (2)" in b1
