"""Each rule against small tables written in YAML fixtures (tests/rule_cases/*.yaml).

A case lists input rows per dataset and the expected results, worked out by hand in the
fixture's comments. Columns a row leaves out get a neutral default (nullable ones: null), so
a fixture shows only what matters to the rule. Branches B1 and B2 exist unless a case gives
its own `branches`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from kpitool import evaluate
from kpitool.engine import exceptions
from kpitool.rules import load_rules
from kpitool.schema import DATASETS

CASES_DIR = Path(__file__).parent / "rule_cases"
_DEFAULTS: dict[str, Any] = {
    "str": "-",
    "int": 0,
    "float": 0.0,
    "bool": False,
    "date": dt.date(2000, 1, 1),
    "datetime": dt.datetime(2000, 1, 1),
}
_DEFAULT_BRANCHES = [
    {"branch_id": "B1", "branch_name": "市区营业部", "level": "city"},
    {"branch_id": "B2", "branch_name": "丰县支公司", "level": "county", "parent_id": "B1"},
]


def _convert(value: Any, type_: str) -> Any:
    if value is None:
        return None
    if type_ == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if type_ == "datetime" and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if type_ == "datetime" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    if type_ == "float":
        return float(value)
    return value


def write_dataset(folder: Path, name: str, rows: list[dict[str, Any]]) -> None:
    """Write rows as a canonical Parquet file, filling left-out columns with defaults."""
    spec = DATASETS[name]
    for row in rows:
        unknown = set(row) - set(spec.column_names)
        assert not unknown, f"{name}: unknown columns {unknown}"
    data = {
        col.name: [
            _convert(row[col.name], col.type)
            if col.name in row
            else (None if col.nullable else _DEFAULTS[col.type])
            for row in rows
        ]
        for col in spec.columns
    }
    pl.DataFrame(data, schema=spec.polars_schema).write_parquet(folder / f"{name}.parquet")


def _cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc["cases"]:
            params.append(pytest.param(doc["rule"], case, id=f"{doc['rule']}:{case['name']}"))
    return params


def _materialise(tmp_path: Path, case: dict[str, Any]) -> Path:
    data = dict(case.get("data", {}))
    data.setdefault("branches", _DEFAULT_BRANCHES)
    for name, rows in data.items():
        write_dataset(tmp_path, name, rows or [])
    return tmp_path


@pytest.mark.parametrize(("rule_id", "case"), _cases())
def test_rule_case(tmp_path: Path, rule_id: str, case: dict[str, Any]) -> None:
    folder = _materialise(tmp_path, case)
    results = evaluate(str(case["month"]), folder, rule_ids=[rule_id], by=case.get("by", ()))
    got = {(r["scope"], r["scope_id"]): r for r in results.iter_rows(named=True)}
    for expected in case.get("expect", []):
        key = (expected["scope"], str(expected["scope_id"]))
        assert key in got, f"no result for {key}; got {sorted(got)}"
        row = got[key]
        for field, want in expected.items():
            if field in ("scope", "scope_id"):
                continue
            if isinstance(want, float) and row[field] is not None:
                assert row[field] == pytest.approx(want, abs=1e-9), f"{key} {field}"
            else:
                assert row[field] == want, f"{key} {field}: {row[field]!r} != {want!r}"
    if "exceptions" in case:
        listed = exceptions(rule_id, str(case["month"]), folder)
        key_column = case["exceptions"]["column"]
        assert sorted(map(str, listed[key_column].to_list())) == sorted(
            map(str, case["exceptions"]["values"])
        )


def test_every_rule_has_cases() -> None:
    covered = {
        yaml.safe_load(p.read_text(encoding="utf-8"))["rule"] for p in CASES_DIR.glob("*.yaml")
    }
    missing = sorted(set(load_rules().ids) - covered)
    assert not missing, f"rules without fixture cases: {missing}"
