"""Freshness: each dataset's latest date on the report and in `data check --period`; stale
data flagged, or refused with --require-fresh; a month without data refused unless
--allow-empty; and the README's crontab line run as cron would, on a fixed day."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import kpitool

from builders import DEFAULT_BRANCHES, write_dataset

README = Path(__file__).resolve().parents[1] / "README.md"


def _data(folder: Path, last_reported: str = "2015-03-20") -> Path:
    """Claims of March 2015; the extract's last claim was reported on `last_reported`."""
    folder.mkdir(parents=True, exist_ok=True)
    write_dataset(folder, "branches", DEFAULT_BRANCHES)
    claims = [
        {"claim_id": "c1", "branch_id": "B1", "reported_at": "2015-03-02"},
        {"claim_id": "c2", "branch_id": "B2", "reported_at": last_reported},
    ]
    write_dataset(folder, "claims", claims)
    return folder


def _report(cli: Callable[..., Any], data: Path, out: Path, *args: str) -> Any:
    return cli("report", "--data", str(data), "--out", str(out), "--format", "html", *args)


def _quality(page: str) -> str:
    block = page[page.index("数据质量说明") :]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block))


def test_stale_dataset_is_flagged_on_the_quality_note(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    data, out = _data(tmp_path / "data"), tmp_path / "out"
    done = _report(cli, data, out, "--month", "2015-03")
    assert done.exit_code == 0, done.stderr
    note = _quality((out / "2015-03" / "B1.html").read_text(encoding="utf-8"))
    assert "各数据集最新日期: claims 2015-03-20" in note
    # 31 March - 20 March = 11 days > 3
    assert "数据可能不完整: claims 最新日期 2015-03-20, 报告期末 2015-03-31 (超过 3 天)" in note

    _report(cli, data, out, "--month", "2015-03", "--stale-days", "11")
    note = _quality((out / "2015-03" / "B1.html").read_text(encoding="utf-8"))
    assert "各数据集最新日期: claims 2015-03-20" in note
    assert "数据可能不完整" not in note


def test_require_fresh_refuses_stale_data_and_writes_nothing(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    data, out = _data(tmp_path / "data"), tmp_path / "out"
    refused = _report(cli, data, out, "--month", "2015-03", "--require-fresh")
    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        "Error: stale data for 2015-03: claims.reported_at latest 2015-03-20, period ends "
        "2015-03-31 (--stale-days 3; 1 dataset(s) stale)"
    )
    assert not out.exists()
    fresh = _data(tmp_path / "fresh", last_reported="2015-03-28")  # 3 days before the end
    assert _report(cli, fresh, out, "--month", "2015-03", "--require-fresh").exit_code == 0


def test_a_month_without_data_is_refused_unless_allow_empty(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    data, out = _data(tmp_path / "data"), tmp_path / "out"
    refused = _report(cli, data, out, "--month", "2016-03")
    assert refused.exit_code == 2
    assert refused.stderr.strip() == (
        "Error: no data for 2016-03: the extracts end 2015-03-20 (--allow-empty writes it anyway)"
    )
    assert not out.exists()
    allowed = _report(cli, data, out, "--month", "2016-03", "--allow-empty")
    assert allowed.exit_code == 0
    note = _quality((out / "2016-03" / "index.html").read_text(encoding="utf-8"))
    assert "数据可能不完整: claims 最新日期 2015-03-20, 报告期末 2016-03-31" in note


def test_data_check_states_latest_dates_for_a_period(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    data = _data(tmp_path / "data")
    shown = cli("data", "check", "--data", str(data), "--period", "2015-04", "--format", "json")
    found = json.loads(shown.stdout)["freshness"]
    assert found == {
        "period": "2015-04",
        "datasets": [
            {
                "dataset": "claims",
                "column": "reported_at",
                "latest": "2015-03-20",
                "ends": "2015-03-20",
                "stale": True,
            }
        ],
    }
    table = cli("data", "check", "--data", str(data), "--period", "2015-03")
    assert "latest dates · 2015-03" in table.stdout and "2015-03-20" in table.stdout


def _crontab_line() -> str:
    text = README.read_text(encoding="utf-8")
    lines = [line.strip() for line in text.splitlines() if "kpitool -q report" in line]
    lines = [line for line in lines if line.startswith("30 6 2 ")]  # the monthly one
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.skipif(shutil.which("faketime") is None, reason="needs faketime (apt)")
def test_readme_crontab_line_refuses_a_month_after_the_extracts(tmp_path: Path) -> None:
    line = _crontab_line()
    fields = line.split(None, 5)
    assert fields[:5] == ["30", "6", "2", "*", "*"]
    assert "--require-fresh" in fields[5]
    home, extracts, reports = tmp_path / "srv", tmp_path / "extracts", tmp_path / "reports"
    log = tmp_path / "kpitool.log"
    launcher = home / ".venv" / "bin" / "kpitool"
    launcher.parent.mkdir(parents=True)
    src = Path(kpitool.__file__).parents[1]
    launcher.write_text(f'#!/bin/sh\nPYTHONPATH={src} exec {sys.executable} -m kpitool "$@"\n')
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)
    command = (
        fields[5]
        .replace("/srv/kpitool", str(home))
        .replace("/srv/extracts", str(extracts))
        .replace("/srv/reports", str(reports))
        .replace("/var/log/kpitool.log", str(log))
    )
    _data(extracts, last_reported="2015-03-30")

    def cron(day: str) -> int:
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
        ran = subprocess.run(["faketime", day, "sh", "-c", command], env=env, timeout=300)
        return ran.returncode

    # 2 December 2026: "last" is 2026-11, long after the extracts end.
    assert cron("2026-12-02 06:30:00") == 2
    assert log.read_text(encoding="utf-8").strip() == (
        "Error: no data for 2026-11: the extracts end 2015-03-30 (--allow-empty writes it anyway)"
    )
    assert not reports.exists()
    # 2 April 2015: March's extract is fresh; every branch's PDF and the company's.
    assert cron("2015-04-02 06:30:00") == 0
    written = sorted(p.name for p in (reports / "2015-03").iterdir())
    assert written == ["B1.pdf", "B2.pdf", "company.pdf", "manifest.json"]
    assert (reports / "history.sqlite").is_file()


def test_evaluate_refuses_a_month_without_data_unless_allow_empty(
    tmp_path: Path, cli: Callable[..., Any]
) -> None:
    data = _data(tmp_path / "data")
    args = ("evaluate", "--month", "2016-03", "--data", str(data), "--format", "json")
    refused = cli(*args)
    assert refused.exit_code == 2 and refused.stdout == ""
    assert refused.stderr.strip() == (
        "Error: no data for 2016-03: the extracts end 2015-03-20 (--allow-empty writes it anyway)"
    )
    allowed = cli(*args, "--allow-empty")
    assert allowed.exit_code == 0 and json.loads(allowed.stdout)


def test_a_dataset_with_several_dates_counts_the_latest_of_any(cli: Callable[..., Any]) -> None:
    """The bundled lapse clean-up's phone calls end on 5 March, its visits and completions
    on 31 March (30 June in the whole extract): one scan gives both dates of all three."""
    shown = cli("data", "check", "--period", "2015-03", "--format", "json")
    found = json.loads(shown.stdout)["freshness"]["datasets"]
    assert [d for d in found if d["dataset"] == "lapse_cleanup"] == [
        {
            "dataset": "lapse_cleanup",
            "column": "phone_called_at, visited_at, completed_at",
            "latest": "2015-03-31",
            "ends": "2015-06-30",
            "stale": False,
        }
    ]
