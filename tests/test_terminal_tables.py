"""`evaluate` in a terminal: one line a rule and scope, fitting 80 columns with ids and
values whole, Chinese scope names and reasons, and a count by status at the end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

import kpitool
from kpitool.cli.display import results_table
from kpitool.rules.loader import load_rules

from builders import DEFAULT_BRANCHES, write_dataset


@pytest.fixture
def claims_dir(tmp_path: Path) -> Path:
    """B1 closes one March claim in 3 days and one in 9; B2 one in 5 (exactly)."""
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    claims = [
        ("c1", "B1", "2015-03-02", "2015-03-05"),
        ("c2", "B1", "2015-03-10", "2015-03-19"),
        ("c3", "B2", "2015-03-20", "2015-03-25"),
    ]
    write_dataset(
        tmp_path,
        "claims",
        [
            {
                "claim_id": c,
                "branch_id": b,
                "reported_at": r,
                "closed_at": d,
                "product_line": "short",
            }
            for c, b, r, d in claims
        ],
    )
    return tmp_path


def _lines(claims_dir: Path, *, ids: bool, rules: list[str]) -> list[str]:
    results = kpitool.evaluate("2015-03", claims_dir, rule_ids=rules)
    console = Console(width=80, record=True, color_system=None)
    console.print(results_table(results, load_rules(None), "zh", ids=ids))
    return console.export_text().splitlines()


def test_one_line_a_rule_and_scope_within_80_columns(claims_dir: Path) -> None:
    lines = _lines(claims_dir, ids=True, rules=["claims.closed_within_5d_rate"])
    assert all(len(line.rstrip()) <= 80 for line in lines)
    body = [line for line in lines if "claims.closed_within_5d_rate" in line]
    # company 2/3 = 66.7%, B1 1/2 = 50.0%, B2 1/1 = 100.0% against ≥ 98.0%: one line each
    assert [line.split("claims.closed_within_5d_rate")[1].split() for line in body] == [
        ["全市", "66.7%", "≥", "98.0%", "✗", "未达标"],
        ["B1", "50.0%", "≥", "98.0%", "✗", "未达标"],
        ["B2", "100.0%", "≥", "98.0%", "✓", "达标"],
    ]
    assert lines[-1] == "共 3 行: ✗ 未达标 2 · ✓ 达标 1"


def test_reasons_are_chinese_and_the_note_column_only_when_needed(claims_dir: Path) -> None:
    with_reason = _lines(claims_dir, ids=False, rules=["counter.queue_time_avg"])
    header = next(line for line in with_reason if "指标" in line)
    assert "说明" in header
    # no counter visits at all: company, B1 and B2 say so in Chinese
    assert sum("缺少数据集: counter_visits" in line for line in with_reason) == 3
    assert not any("dataset missing" in line for line in with_reason)
    without = _lines(claims_dir, ids=False, rules=["claims.closed_within_5d_rate"])
    assert "说明" not in next(line for line in without if "指标" in line)


def test_the_cli_ends_with_the_count_by_status(cli, claims_dir: Path) -> None:
    result = cli(
        "evaluate", "-m", "2015-03", "--data", str(claims_dir), "-r", "claims.closed_within_5d_rate"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.rstrip().splitlines()[-1] == "共 3 行: ✗ 未达标 2 · ✓ 达标 1"
    assert "claims.closed_within_5d_rate" not in result.stdout  # ids only with --ids
    with_ids = cli("evaluate", "-m", "2015-03", "--data", str(claims_dir), "-r", "claims.", "--ids")
    assert "claims.closed_within_5d_rate" in with_ids.stdout


def _at_80(*args: str) -> list[str]:
    """The CLI's output in an 80-column terminal (rich reads COLUMNS when it starts)."""
    env = {**os.environ, "COLUMNS": "80", "PYTHONPATH": str(Path(kpitool.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "kpitool", *args], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_rules_list_at_80_columns_keeps_ids_whole_and_titles_uncut() -> None:
    lines = _at_80("rules", "list")
    assert all(len(line.rstrip()) <= 80 for line in lines)
    assert not any("…" in line for line in lines)  # titles wrap instead of "柜面平…"
    for rule in load_rules(None):
        assert any(rule.id in line.split() for line in lines), rule.id


@pytest.mark.parametrize("rule", ["callbacks.agent_phone", "callbacks.suspected_total"])
def test_exceptions_at_80_columns_keep_ids_and_dates_on_one_line(rule: str) -> None:
    data = str(Path(kpitool.__file__).parents[2] / "sample_data")
    args = ("exceptions", rule, "-m", "2015-03", "-b", "B05", "--data", data)
    rows = json.loads("\n".join(_at_80(*args, "--format", "json")))
    assert rows  # the sample plants agent phones in B05
    lines = _at_80(*args)
    assert all(len(line.rstrip()) <= 80 for line in lines)
    for row in rows:
        for column in ("callback_id", "policy_id", "agent_id", "called_at"):
            whole = str(row[column]).replace("T", " ")  # JSON datetimes are ISO 8601
            assert any(whole in line for line in lines), whole
