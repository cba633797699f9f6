"""kpitool sample-data: every dataset and column, determinism, and the planted failures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from kpitool import evaluate, open_data
from kpitool.data.schema import DATASETS
from kpitool.resources import BUNDLED_DATA


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kpitool.sample.generate import generate_sample_data

    out = tmp_path_factory.mktemp("sample") / "d"
    generate_sample_data(out, seed=3, branches=5)
    return out


def test_cli_writes_every_dataset_with_every_canonical_column(cli, tmp_path: Path) -> None:
    result = cli(
        "sample-data",
        "--out",
        str(tmp_path / "d"),
        "--seed",
        "3",
        "--branches",
        "4",
        "--scale",
        "0.3",
    )
    assert result.exit_code == 0, result.stderr
    source = open_data(tmp_path / "d")
    assert source.available() == list(DATASETS)
    for name, spec in DATASETS.items():
        schema = source.scan(name).collect_schema()
        assert dict(schema) == spec.polars_schema, name
        assert source.scan(name).select(pl.len()).collect().item() > 0, name


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    from kpitool.sample.generate import generate_sample_data

    generate_sample_data(tmp_path / "a", seed=11, branches=3, scale=0.2)
    generate_sample_data(tmp_path / "b", seed=11, branches=3, scale=0.2)
    generate_sample_data(tmp_path / "c", seed=12, branches=3, scale=0.2)
    files = sorted(
        p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file()
    )
    assert files
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert (tmp_path / "a" / "claims.parquet").read_bytes() != (
        tmp_path / "c" / "claims.parquet"
    ).read_bytes()


def test_references_resolve(generated: Path) -> None:
    _assert_consistent(generated)


def test_chunked_layout_same_bytes_and_consistent(tmp_path: Path) -> None:
    """The benchmarks' layout (big facts a chunk at a time, own random streams)."""
    from kpitool.sample.generate import generate_sample_data

    for name in ("a", "b"):
        generate_sample_data(tmp_path / name, seed=5, branches=4, scale=0.3, chunked=True)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.*"))
    assert len(files) == 17 + 24  # a file per dataset, counter visits a file per month
    for rel in files:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    _assert_consistent(tmp_path / "a")


def _assert_consistent(folder: Path) -> None:
    """References resolve, dates are in order, keys are unique."""
    source = open_data(folder)
    for name, spec in DATASETS.items():
        frame = source.scan(name).collect()
        for column in spec.columns:
            if column.references is None:
                continue
            key = DATASETS[column.references].key[0]
            known = set(source.scan(column.references).collect()[key])
            used = set(frame[column.name].drop_nulls())
            assert used <= known, f"{name}.{column.name}: {sorted(used - known)[:3]}"
        for first, second in spec.ordered:
            bad = frame.filter(pl.col(second) < pl.col(first))
            assert bad.height == 0, f"{name}: {second} before {first}"
        if spec.key:
            assert frame.select(spec.key).is_duplicated().sum() == 0, name


def test_slow_county_counter_by_hand() -> None:
    visits = pl.scan_parquet(BUNDLED_DATA / "counter_visits" / "2015-03.parquet")
    by_hand = (
        visits.filter(pl.col("counter_id") == "C0301")
        .select(((pl.col("called_at") - pl.col("arrived_at")).dt.total_seconds() / 60).mean())
        .collect()
        .item()
    )
    assert by_hand > 15
    results = evaluate("2015-03", BUNDLED_DATA, rule_ids=["counter.queue_time_avg"])
    counter = results.filter(pl.col("scope_id") == "C0301").row(0, named=True)
    assert counter["value"] == pytest.approx(by_hand, abs=1e-9)
    assert counter["status"] == "fail"


def test_shared_phone_by_hand() -> None:
    callbacks = pl.read_csv(BUNDLED_DATA / "callbacks.csv", try_parse_dates=True)
    policies = pl.read_parquet(BUNDLED_DATA / "policies.parquet")
    agents = pl.read_parquet(BUNDLED_DATA / "agents.parquet")
    march = (
        callbacks.filter(
            pl.col("success")
            & (pl.col("called_at").dt.date() >= dt.date(2015, 3, 1))
            & (pl.col("called_at").dt.date() <= dt.date(2015, 3, 31))
        )
        .join(
            policies.select(
                "policy_id", "policyholder_id", pl.col("agent_id").alias("policy_agent")
            ),
            on="policy_id",
        )
        .join(
            agents.select(pl.col("agent_id").alias("policy_agent"), "person_id"),
            on="policy_agent",
            how="left",
        )
        .filter((pl.col("policyholder_id") != pl.col("person_id")) | pl.col("person_id").is_null())
    )
    shared = (
        march.group_by("phone")
        .agg(pl.col("policyholder_id").n_unique().alias("n"))
        .filter(pl.col("n") >= 3)
    )
    flagged = march.filter(pl.col("phone").is_in(shared["phone"].to_list()))
    results = evaluate("2015-03", BUNDLED_DATA, rule_ids=["callbacks.shared_phone"])
    company = results.filter(pl.col("scope") == "company").row(0, named=True)
    assert flagged.height >= 3
    assert company["value"] == flagged.height


PLANTED = [
    ("2015-03", "counter.queue_time_avg", "B03"),
    ("2015-03", "counters.inspection_coverage", "B03"),
    ("2015-03", "group.issued_within_5d_rate", "B04"),
    ("2015-03", "complaints.on_time_rate", "B04"),
    ("2015-03", "callbacks.agent_phone", "B05"),
    ("2015-05", "claims.mandatory_investigation", "B05"),
    ("2015-03", "callbacks.shared_phone", "B06"),
    ("2015-05", "claims.shortterm_investigation_rate", "B06"),
    ("2015-03", "cleanup.completion_rate", "B07"),
    ("2015-03", "cleanup.evidence_compliance", "B07"),
    ("2015-07", "cleanup.last_days_share", "B07"),
    ("2015-07", "cleanup.unreachable_share", "B07"),
    ("2015-03", "obps.collection_rate", "B08"),
    ("2015-03", "customers.repeat_purchase_rate", "B02"),
]


@pytest.mark.parametrize(("month", "rule_id", "branch"), PLANTED)
def test_planted_failures_fail_for_their_branch(month: str, rule_id: str, branch: str) -> None:
    results = evaluate(month, BUNDLED_DATA, rule_ids=[rule_id])
    status = dict(
        results.filter(pl.col("scope") == "branch").select("scope_id", "status").iter_rows()
    )
    assert status[branch] == "fail"
    healthy = [b for b, s in status.items() if s == "pass"]
    assert len(healthy) >= 4, f"{rule_id}: most branches should pass, got {status}"
