"""The Spark engine gives the Polars engine's results: every rule, exception rows, queries,
the CLI and a report, on generated data (Spark in local mode; needs the spark extra)."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from builders import DEFAULT_BRANCHES, write_dataset

pytest.importorskip(
    "pyspark", reason="the spark extra is not installed (pip install -e '.[spark]')"
)

from kpitool import (
    evaluate,
    exceptions,
    generate_sample_data,
    load_rules,
    open_data,
    open_engine,
    query,
)
from kpitool.errors import DataError
from kpitool.resources import BUNDLED_DATA

MONTHS = ["2015-03", "2015-12"]
KEY = ["rule_id", "period", "scope", "scope_id"]
NUMBERS = ("numerator", "denominator", "value", "target", "pace_needed")


@pytest.fixture(scope="module")
def session(spark: Any) -> Any:
    return spark


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another seed and size than the bundled sample, so nothing is tuned to one data set."""
    folder = tmp_path_factory.mktemp("generated")
    generate_sample_data(folder, seed=11, branches=4, scale=0.3)
    return folder


def _same_rows(polars_rows: pl.DataFrame, spark_rows: pl.DataFrame, key: list[str]) -> None:
    assert spark_rows.columns == polars_rows.columns
    assert spark_rows.height == polars_rows.height
    left = polars_rows.sort(key, nulls_last=True).to_dicts()
    right = spark_rows.sort(key, nulls_last=True).to_dicts()
    for mine, theirs in zip(left, right, strict=True):
        for column, value in mine.items():
            other = theirs[column]
            if isinstance(value, float) and isinstance(other, float):
                assert math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9), (mine, column)
            else:
                assert value == other, (mine, column, other)


def test_every_rule_gives_the_same_rows(session: Any, generated: Path) -> None:
    polars_rows = evaluate(MONTHS, generated)
    spark_rows = evaluate(MONTHS, generated, engine="spark")
    assert set(polars_rows["rule_id"]) == {rule.id for rule in load_rules()}
    assert polars_rows.filter(pl.col("status") == "fail").height > 0  # a real comparison
    _same_rows(polars_rows, spark_rows, KEY)


@pytest.mark.parametrize("rule_id", [rule.id for rule in load_rules() if rule.detection])
def test_exception_rows_are_the_same(session: Any, rule_id: str) -> None:
    polars_rows = exceptions(rule_id, "2015-03", BUNDLED_DATA)
    spark_rows = exceptions(rule_id, "2015-03", BUNDLED_DATA, engine="spark")
    _same_rows(polars_rows, spark_rows, polars_rows.columns)


def test_planted_exceptions_come_back(session: Any) -> None:
    """B06's shared phones are planted in the sample data: Spark lists them too."""
    rows = exceptions("callbacks.shared_phone", "2015-03", BUNDLED_DATA, engine="spark")
    assert "B06" in set(rows["branch_id"])


def test_gbk_exports_through_the_catalogue(session: Any, tmp_path: Path) -> None:
    """Chinese headers, GBK bytes and the catalogue's formats read the same in Spark (the
    sample's branch list, a workbook Spark does not read, goes in as a GBK CSV here)."""
    raw = tmp_path / "raw"
    shutil.copytree(BUNDLED_DATA / "raw", raw)
    branches = open_data(raw).scan("branches").collect()
    (raw / "机构清单.xlsx").unlink()
    names = {"branch_id": "机构代码", "branch_name": "机构名称", "parent_id": "上级机构"}
    text = branches.rename({**names, "level": "机构级别"}).write_csv()
    (raw / "机构清单.csv").write_bytes(text.encode("gbk"))
    catalogue = yaml.safe_load((raw / "catalogue.yaml").read_text(encoding="utf-8"))
    entry = catalogue["datasets"]["branches"]
    for key in ("sheet", "header_row"):
        entry.pop(key)
    entry.update({"path": "机构清单.csv", "format": "csv", "encoding": "gbk", "nulls": [""]})
    (raw / "catalogue.yaml").write_text(yaml.safe_dump(catalogue, allow_unicode=True))
    polars_rows = evaluate("2015-03", raw, rule_ids=["claims."])
    spark_rows = evaluate("2015-03", raw, rule_ids=["claims."], engine="spark")
    assert polars_rows["value"].drop_nulls().len() > 0
    _same_rows(polars_rows, spark_rows, KEY)


def test_query_gives_the_same_answer(session: Any) -> None:
    sql = (
        "SELECT branch_id, COUNT(*) AS n, SUM(premium) AS premium FROM policies "
        "WHERE is_group GROUP BY branch_id ORDER BY branch_id"
    )
    polars_rows = query(sql, BUNDLED_DATA, unmask=True)
    spark_rows = query(sql, BUNDLED_DATA, engine="spark", unmask=True)
    assert polars_rows.height == 8
    _same_rows(polars_rows.cast({"n": pl.Int64}), spark_rows, ["branch_id"])


def test_a_value_that_does_not_parse_names_file_column_and_value(
    session: Any, tmp_path: Path
) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path,
        "claims",
        [{"reported_at": "2015-03-02", "closed_at": "2015-03-06"}] * 2,
    )
    parquet = tmp_path / "claims.parquet"
    text = pl.read_parquet(parquet).write_csv()
    parquet.unlink()
    lines = text.splitlines()
    lines[2] = lines[2].replace("2015-03-06", "2015-03-31x")
    (tmp_path / "claims.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as error:
        evaluate("2015-03", tmp_path, rule_ids=["claims.closed_within_5d_rate"], engine="spark")
    message = str(error.value)
    assert "claims.csv" in message and "closed_at" in message and "'2015-03-31x'" in message
    assert "\n" not in message


def test_cli_evaluate_on_spark_prints_what_polars_prints(
    session: Any, cli: Callable[..., Any]
) -> None:
    args = ["evaluate", "--month", "2015-03", "--rule", "cleanup.", "--format", "json"]
    on_polars = cli(*args)
    on_spark = cli(*args, "--engine", "spark")
    assert on_spark.exit_code == 0, on_spark.stderr
    assert json.loads(on_spark.stdout) == json.loads(on_polars.stdout)


def test_cli_rejects_an_unknown_engine(cli: Callable[..., Any]) -> None:
    result = cli("evaluate", "--month", "2015-03", "--engine", "duckdb")
    assert result.exit_code == 2
    assert "engine" in result.stderr and "polars" in result.stderr


def test_report_on_spark_is_the_report_on_polars(
    session: Any, cli: Callable[..., Any], tmp_path: Path
) -> None:
    args = ["report", "--month", "2015-03", "--branch", "B03", "--format", "html"]
    on_polars = cli(*args, "--reproducible", "--out", str(tmp_path / "polars"))
    on_spark = cli(*args, "--reproducible", "--out", str(tmp_path / "spark"), "--engine", "spark")
    assert on_polars.exit_code == 0 and on_spark.exit_code == 0, on_spark.stderr
    for name in ("B03.html", "index.html"):
        polars_page = (tmp_path / "polars" / "2015-03" / name).read_text(encoding="utf-8")
        spark_page = (tmp_path / "spark" / "2015-03" / name).read_text(encoding="utf-8")
        assert spark_page == polars_page, name


def test_data_at_a_url(session: Any) -> None:
    """hdfs://, s3a:// … are read by Spark through Hadoop; file:// stands in for them here."""
    import datetime as dt

    url = BUNDLED_DATA.as_uri()
    polars_rows = evaluate("2015-03", BUNDLED_DATA, rule_ids=["cleanup."])
    _same_rows(polars_rows, evaluate("2015-03", url, rule_ids=["cleanup."], engine="spark"), KEY)
    engine = open_engine(url, "spark")
    branches = engine.reference("branches")
    assert branches is not None
    assert branches["branch_id"].to_list() == [f"B0{i}" for i in range(1, 9)]
    march, end = dt.date(2015, 3, 31), dt.date(9999, 12, 31)
    reported = engine.latest("claims", ["reported_at"], [march, end])
    assert reported == [dt.date(2015, 3, 30), dt.date(2015, 12, 30)]
    # the latest of two columns: phone calls end on 5 March, visits on 31 March (30 June in all)
    cleanup = engine.latest("lapse_cleanup", ["phone_called_at", "visited_at"], [march, end])
    assert cleanup == [march, dt.date(2015, 6, 30)]
    assert engine.where("claims") == f"{url}/claims.parquet".replace("file:///", "file:/")


def test_a_dataset_in_a_spark_table(session: Any, tmp_path: Path) -> None:
    """A catalogue entry `table:` reads a Spark/Hive table instead of files."""
    session.read.parquet(str(BUNDLED_DATA / "claims.parquet")).createOrReplaceTempView("kpi_claims")
    (tmp_path / "catalogue.yaml").write_text("datasets:\n  claims:\n    table: kpi_claims\n")
    for name in ("branches.csv", "targets.csv", "benchmarks.csv"):
        (tmp_path / name).write_bytes((BUNDLED_DATA / name).read_bytes())
    polars_rows = evaluate("2015-03", BUNDLED_DATA, rule_ids=["claims.closed_within_5d_rate"])
    spark_rows = evaluate(
        "2015-03", tmp_path, rule_ids=["claims.closed_within_5d_rate"], engine="spark"
    )
    _same_rows(polars_rows, spark_rows, KEY)
    with pytest.raises(DataError, match="Spark table kpi_claims"):
        from kpitool import open_data

        open_data(tmp_path).scan("claims")


def test_settings_from_kpitool_toml(session: Any, tmp_path: Path) -> None:
    """engine and [spark] settings from kpitool.toml reach the session and the engine."""
    from kpitool.cli.options import engine_of
    from kpitool.config import load_config

    config = tmp_path / "kpitool.toml"
    config.write_text('engine = "spark"\n\n[spark.sql]\n"shuffle.partitions" = 3\n')
    assert engine_of(load_config(config, {})) == "spark"
    assert session.conf.get("spark.sql.shuffle.partitions") == "3"


def test_spark_submit_runs_the_command_line(tmp_path: Path, cli: Callable[..., Any]) -> None:
    """`spark-submit …/kpitool/__main__.py evaluate --engine spark` uses spark-submit's
    master and session, and prints what the Polars engine prints."""
    import os
    import subprocess
    import sys

    import kpitool

    bin_dir = Path(sys.executable).parent
    package = Path(kpitool.__file__).parent
    args = ["evaluate", "--month", "2015-03", "--rule", "obps.", "--format", "json"]
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    submitted = subprocess.run(
        [
            str(bin_dir / "spark-submit"),
            "--master",
            "local[1]",
            "--driver-java-options",
            f"-Dlog4j2.configurationFile=file:{package / 'spark' / 'log4j2.properties'}",
            str(package / "__main__.py"),
            *args,
            "--engine",
            "spark",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    on_polars = cli(*args)
    assert json.loads(submitted.stdout) == json.loads(on_polars.stdout)


def test_query_masks_the_views_whatever_the_output_is_named(session: Any, tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path,
        "agents",
        [
            {
                "agent_id": "A1",
                "branch_id": "B1",
                "name": "王小明",
                "phone": "13812345678",
                "person_id": "320102198001011234",
            }
        ],
    )
    sql = "SELECT phone AS x_id, name AS label, person_id AS ref_no FROM agents"
    rows = query(sql, tmp_path, engine="spark")
    assert rows.rows() == [("138****5678", "王**", "320***********1234")]


def test_a_line_too_long_is_refused_as_polars_refuses_it(
    session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kpitool.data import lines

    monkeypatch.setattr(lines, "LONGEST_LINE", 1000)
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    header = "callback_id,policy_id,branch_id,channel,agent_id,called_at,phone,success\n"
    row = "k{},p1,B1,individual,{},2015-03-02 09:00:00,13812345678,true\n"
    text = header + row.format(1, "A1") + row.format(2, "A" * 5000)
    (tmp_path / "callbacks.csv").write_text(text, encoding="utf-8")
    messages = []
    for engine in ("polars", "spark"):
        with pytest.raises(DataError) as error:
            evaluate("2015-03", tmp_path, rule_ids=["callbacks."], engine=engine)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    assert messages[0].startswith(f"{tmp_path / 'callbacks.csv'}: row 2: column agent_id: ")


def test_rows_left_out_are_counted_alike_for_spark(session: Any, tmp_path: Path) -> None:
    from kpitool import LeftOut, left_out

    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    claims = [
        {"claim_id": "c1", "claimed_amount": 1.0},
        {"claim_id": "c2", "claimed_amount": 1e308},
    ]
    write_dataset(tmp_path, "claims", claims)
    spark_engine = open_engine(tmp_path, "spark")
    rows = query("SELECT claim_id FROM claims", spark_engine)
    assert rows["claim_id"].to_list() == ["c1"]
    expected = [LeftOut("claims", str(tmp_path / "claims.parquet"), 1)]
    assert left_out(spark_engine, rule_ids=["claims."]) == expected
    assert left_out(tmp_path, rule_ids=["claims."]) == expected
