"""CSV datetimes in ISO 8601 with `T` and fractional seconds, as Polars and pandas write them,
are read by every command and by both engines; an offset is refused (issue 19, item 9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kpitool import query

from builders import DEFAULT_BRANCHES, write_dataset

HEADER = "callback_id,policy_id,branch_id,channel,agent_id,called_at,phone,success\n"


def _data(folder: Path, *called_at: str) -> Path:
    folder.mkdir()
    write_dataset(folder, "branches", DEFAULT_BRANCHES)
    write_dataset(
        folder,
        "agents",
        [
            {
                "agent_id": "A1",
                "branch_id": "B1",
                "channel": "individual",
                "phone": "13800000001",
                "status": "active",
                "person_id": "X1",
            }
        ],
    )
    policy = {"policy_id": "p1", "branch_id": "B1", "agent_id": "A1", "channel": "individual"}
    policy |= {"product_line": "long", "status": "in_force", "policyholder_id": "H1"}
    write_dataset(folder, "policies", [policy])
    rows = [f"k{i},p1,B1,individual,A1,{at},13800000001,true\n" for i, at in enumerate(called_at)]
    (folder / "callbacks.csv").write_text(HEADER + "".join(rows), encoding="utf-8")
    return folder


ISO = ("2015-03-02T09:00:00.000", "2015-03-04T10:30:00.5", "2015-03-05 11:00:00")


def test_every_command_reads_iso_8601_with_t_and_fractions(cli, tmp_path: Path) -> None:
    data = _data(tmp_path / "data", *ISO)
    check = cli("data", "check", "--data", str(data), "-f", "json")
    errors = [p for p in json.loads(check.stdout)["problems"] if p["severity"] == "error"]
    assert (check.exit_code, errors) == (0, [])
    base = ("--data", str(data), "--month", "2015-03")
    evaluated = cli("evaluate", *base, "--rule", "callbacks.agent_phone", "-f", "json")
    assert evaluated.exit_code == 0, evaluated.stderr
    company = [r for r in json.loads(evaluated.stdout) if r["scope"] == "company"]
    assert company[0]["value"] == 3
    listed = cli("exceptions", "callbacks.agent_phone", *base, "-f", "csv")
    assert listed.exit_code == 0, listed.stderr
    assert len(listed.stdout.splitlines()) == 4
    assert "2015-03-04" in listed.stdout
    out = tmp_path / "out"
    report = cli("report", *base, "--out", str(out), "--format", "html", "--branch", "B1")
    assert report.exit_code == 0, report.stderr
    assert "Traceback" not in report.stderr


def test_spark_reads_them_alike_and_refuses_an_offset(spark: Any, tmp_path: Path) -> None:
    data = _data(tmp_path / "iso", *ISO)
    sql = "SELECT callback_id, called_at FROM callbacks ORDER BY callback_id"
    assert query(sql, data, engine="spark").rows() == query(sql, data).rows()
    offset = _data(tmp_path / "offset", "2015-03-02T09:00:00+08:00")
    with pytest.raises(Exception, match=r"2015-03-02T09:00:00\+08:00"):
        query(sql, offset, engine="spark")
