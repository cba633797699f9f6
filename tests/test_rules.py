"""Each rule against small tables written in YAML fixtures (tests/rule_cases/*.yaml).

A case lists input rows per dataset and the expected results, worked out by hand in the
fixture's comments. Columns a row leaves out get a neutral default (nullable ones: null), so
a fixture shows only what matters to the rule. Branches B1 and B2 exist unless a case gives
its own `branches`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kpitool import evaluate
from kpitool.api import exceptions
from kpitool.rules.loader import load_rules

from builders import DEFAULT_BRANCHES, write_dataset

CASES_DIR = Path(__file__).parent / "rule_cases"


def _cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in doc["cases"]:
            params.append(pytest.param(doc["rule"], case, id=f"{doc['rule']}:{case['name']}"))
    return params


def _materialise(tmp_path: Path, case: dict[str, Any]) -> Path:
    data = dict(case.get("data", {}))
    data.setdefault("branches", DEFAULT_BRANCHES)
    for name, rows in data.items():
        write_dataset(tmp_path, name, rows or [])
    return tmp_path


@pytest.fixture(params=["polars", "spark"])
def engine(request: pytest.FixtureRequest) -> str:
    """Every case on both engines (Spark where pyspark is installed, as in CI)."""
    if request.param == "spark":
        request.getfixturevalue("spark")
    return str(request.param)


@pytest.mark.parametrize(("rule_id", "case"), _cases())
def test_rule_case(tmp_path: Path, rule_id: str, case: dict[str, Any], engine: Any) -> None:
    folder = _materialise(tmp_path, case)
    results = evaluate(
        str(case.get("period", case.get("month"))),
        folder,
        rule_ids=[rule_id],
        by=case.get("by", ()),
        engine=engine,
    )
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
        period = str(case.get("period", case.get("month")))
        listed = exceptions(rule_id, period, folder, unmask=True, engine=engine)
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
