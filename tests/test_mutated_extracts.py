"""Property: valid extracts mutated at random (values, types, encodings, truncation, extra
and missing columns) give a clean outcome: exit 0 or 2, never a traceback, and with exit 0
no figure outside what its rule can produce (issue 19)."""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from kpitool.cli import app
from kpitool.data.schema import DATASETS
from kpitool.rules.loader import load_rules

from builders import DEFAULT_BRANCHES, write_dataset

VISITS = (
    "ticket_id,counter_id,branch_id,arrived_at,called_at,finished_at,satisfaction\n"
    "T1,C1,B1,2015-03-02 09:00:00,2015-03-02 09:10:00,2015-03-02 09:15:00,5\n"
    "T2,C1,B1,2015-03-03 10:00:00,2015-03-03 10:04:00,2015-03-03 10:20:00,3\n"
    "T3,C2,B2,2015-03-09 14:00:00,2015-03-09 14:30:00,2015-03-09 14:31:00,\n"
    "T4,C2,B2,2015-03-10 08:30:00,2015-03-10 08:31:00,2015-03-10 08:40:00,4\n"
)
POLICIES = (
    "policy_id,branch_id,channel,agent_id,policyholder_id,product_line,is_group,"
    "is_manual_card,applied_at,issued_at,premium,status,status_date\n"
    "P1,B1,individual,A1,H1,long,false,,2015-03-02,2015-03-04,1200.50,in_force,\n"
    "P2,B1,group,,H2,short,true,false,2015-03-05,2015-03-12,300,in_force,\n"
    "P3,B2,individual,A2,H3,short,false,true,2014-12-20,2014-12-22,88,lapsed,2015-03-01\n"
)
CLAIMS = (
    "claim_id,policy_id,branch_id,channel,agent_id,product_line,claim_type,incident_date,"
    "reported_at,closed_at,claimed_amount,paid_amount,expense_amount,investigated,"
    "investigation_positive,investigator_id\n"
    "L1,P1,B1,individual,A1,long,medical,2015-03-01,2015-03-02,2015-03-04,100,90,5,false,,\n"
    "L2,P2,B1,group,,short,death,2015-03-03,2015-03-05,,5000,,,true,false,I1\n"
    "L3,P3,B2,individual,A2,short,accident,2015-02-27,2015-03-06,2015-03-20,20,20,1,true,true,I2\n"
)
FILES = {"counter_visits.csv": VISITS, "policies.csv": POLICIES, "claims.csv": CLAIMS}

VALUES = st.one_of(
    st.sampled_from(
        [
            "",
            "NaN",
            "inf",
            "-inf",
            "1e308",
            "-1e308",
            "-5",
            "0",
            "99",
            "2099-01-01",
            "2099-01-01 00:00:00",
            "1900-01-01 00:00:00",
            "2015-03-02T09:00:00.000",
            "2015-03-02T09:00:00+08:00",
            "2015-02-30",
            "true",
            "TRUE",
            "是",
            "1,000",
            '"',
            "B1",
            "C9",
            "x" * 5000,
        ]
    ),
    st.text(max_size=12),
)

Mutation = Callable[[str], bytes | str]
"""One change to a file's text (a `partial` of the functions below, readable when shown)."""


def cell(row: int, column: int, value: str, text: str) -> str:
    lines = text.splitlines()
    if len(lines) < 2:  # a file truncated to its header or less
        return text
    number = 1 + row % (len(lines) - 1)
    fields = lines[number].split(",")
    fields[column % len(fields)] = value
    lines[number] = ",".join(fields)
    return "\n".join(lines) + "\n"


def column_change(kind: str, column: int, text: str) -> str:
    rows = [line.split(",") for line in text.splitlines()]
    if not rows:
        return text
    index = column % len(rows[0])
    for number, row in enumerate(rows):
        if kind == "drop" and index < len(row):
            del row[index]
        elif kind == "extra":
            row.append("extra" if number == 0 else str(number))
        elif kind == "long_row" and number == len(rows) - 1:
            row.extend(["x"] * (column + 1))
        elif kind == "rename" and number == 0:
            row[index] = rows[0][(index + 1) % len(rows[0])]
    return "\n".join(",".join(row) for row in rows) + "\n"


def byte_change(kind: str, at: int, text: str) -> bytes:
    raw = text.encode("gb18030" if kind == "gbk" else "utf-8")
    cut = at % max(len(raw), 1)
    if kind == "truncate":
        return raw[:cut]
    if kind == "bad_bytes":
        return raw[:cut] + b"\xff\xfe\x81" + raw[cut:]
    if kind == "bom":
        return b"\xef\xbb\xbf" + raw
    return raw


_DATETIMES = st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2100, 12, 31))
TYPED: dict[str, st.SearchStrategy[str]] = {
    "datetime": _DATETIMES.map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    "date": _DATETIMES.map(lambda d: d.strftime("%Y-%m-%d")),
    "float": st.floats(allow_nan=True, allow_infinity=True).map(repr),
    "int": st.integers(-(10**6), 10**6).map(str),
    "bool": st.sampled_from(["true", "false", "1", "0", "yes"]),
    "str": VALUES,
}
"""A value of the column's own type (NaN, a date before another …) or anything at all."""


@st.composite
def mutations(draw: st.DrawFn) -> tuple[str, Mutation]:
    name = draw(st.sampled_from(sorted(FILES)))
    header = FILES[name].splitlines()[0].split(",")
    kind = draw(st.sampled_from(["cell", "cell", "cell", "cell", "column", "bytes"]))
    if kind == "cell":
        column = draw(st.sampled_from(range(len(header))))
        spec = DATASETS[name.removesuffix(".csv")].column(header[column])
        value = draw(st.one_of(TYPED[spec.type], VALUES))
        return name, partial(cell, draw(st.integers(0, 10)), column, value)
    if kind == "column":
        change = draw(st.sampled_from(["drop", "extra", "long_row", "rename"]))
        return name, partial(column_change, change, draw(st.integers(0, 20)))
    change = draw(st.sampled_from(["truncate", "bad_bytes", "bom", "gbk"]))
    return name, partial(byte_change, change, draw(st.integers(0, 2000)))


RULES = load_rules()
UNBOUNDED_KINDS = {"ratio", "rate", "sum"}


def _possible(rule_id: str, value: float) -> bool:
    """Whether a rule can produce the value: shares within [0, 1], minutes and counts >= 0."""
    rule = RULES.get(rule_id)
    kind = rule.measure.kind
    if kind in ("share", "coverage"):
        return 0 <= value <= 1
    if kind in ("count", "count_distinct", "detection") or rule.unit == "minutes":
        return value >= 0
    return kind in UNBOUNDED_KINDS or kind == "mean"


def _data(folder: Path, mutations: list[tuple[str, Mutation]]) -> None:
    write_dataset(folder, "branches", DEFAULT_BRANCHES)
    write_dataset(
        folder,
        "counters",
        [
            {"counter_id": "C1", "branch_id": "B1", "counter_name": "一号柜面"},
            {"counter_id": "C2", "branch_id": "B2", "counter_name": "二号柜面"},
        ],
    )
    contents: dict[str, str | bytes] = dict(FILES)
    for name, mutate in mutations:
        current = contents[name]
        text = current if isinstance(current, str) else current.decode("utf-8", "replace")
        contents[name] = mutate(text)
    for name, content in contents.items():
        if isinstance(content, str):
            content = content.encode("utf-8")
        (folder / name).write_bytes(content)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(mutations(), min_size=1, max_size=5))
def test_mutated_extracts_evaluate_cleanly(mutations: list[tuple[str, Mutation]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _data(folder, mutations)
        runner = CliRunner()
        for args in (
            ["data", "check", "--data", tmp],
            ["evaluate", "--data", tmp, "--month", "2015-03", "-f", "json"],
        ):
            result = runner.invoke(app, args, catch_exceptions=False)
            assert result.exit_code in (0, 2), (args, result.stdout, result.stderr)
            assert "Traceback" not in result.stderr
            if result.exit_code == 2 or args[0] != "evaluate":
                assert (
                    result.exit_code == 0
                    or result.stderr.startswith("Error: ")
                    or (args[0] == "data")
                )
                continue
            for row in json.loads(result.stdout):
                value = row["value"]
                if value is None:
                    continue
                assert math.isfinite(value), row
                assert _possible(row["rule_id"], value), row
