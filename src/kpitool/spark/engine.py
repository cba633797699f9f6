"""The Spark engine: the same rule files evaluated inside Spark, for data one machine cannot hold.

Each rule's population is built with `kpitool.spark.population` (the Polars engine's stages)
and aggregated per scope into (rule, month, scope, scope id, numerator, denominator); all
rules' plans are unioned and collected once, so only those small rows (and, for `exceptions`,
the exception rows) come back to the driver. Values, targets and statuses are then scored by
the engine-neutral `kpitool.measure.scoring`, exactly as for Polars.

Needs the `spark` extra (`pip install 'kpitool[spark]'`) and Java 17. Under `spark-submit`
the session it starts with is used; otherwise `spark_session` starts one (`local[*]` unless a
master is given). No Python UDFs are used, so executors need no kpitool installed.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from kpitool.errors import ConfigError, DataError, UsageError

try:
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql import functions as F
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise UsageError(
        "the spark engine needs pyspark: pip install 'kpitool[spark]' (and Java 17)"
    ) from exc

from kpitool.data.catalogue import DataSource
from kpitool.data.schema import DATASETS, GRAIN_COLUMNS
from kpitool.log import logger
from kpitool.measure.periods import Month, parse_month
from kpitool.measure.scoring import prior_month, score
from kpitool.measure.targets import TargetTables
from kpitool.polars.engine import _months, _scopes, denominator_rule
from kpitool.polars.population import PERIOD, Missing
from kpitool.rules.model import Rule, RuleSet, load_rules
from kpitool.spark.population import SparkJob, population
from kpitool.spark.sources import SparkData

if TYPE_CHECKING:
    from kpitool.config import Config

__all__ = [
    "data_facts",
    "evaluate",
    "exceptions",
    "run_query",
    "session_from_config",
    "spark_session",
    "to_polars",
]

DEFAULT_CONF: dict[str, str] = {
    "spark.app.name": "kpitool",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.legacy.javaCharsets": "true",
}
"""Defaults a session is started with; kpitool.toml's [spark] table overrides them. Datetimes
are local times without a zone (TIMESTAMP_NTZ); UTC keeps text parsing free of DST gaps.
Spark 4 reads CSV only in Unicode charsets unless Java's (GBK, GB18030) are allowed."""
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
"""Errors-only JVM logging for sessions kpitool starts (a started JVM keeps its own)."""


def _local_defaults(master: str | None) -> dict[str, str]:
    """Settings for a JVM kpitool launches itself: quiet logs; in local mode few shuffle
    partitions (Spark's 200 suit a cluster, not 2 cores and a month of one company) and half
    the machine's memory for the one JVM that does all the work (Spark's default is 1 GiB)."""
    if "PYSPARK_GATEWAY_PORT" in os.environ:  # spark-submit started the JVM already
        return {}
    defaults = {"spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{LOG_CONFIG}"}
    if master is None or master.startswith("local"):
        defaults["spark.sql.shuffle.partitions"] = str(max(2, 2 * (os.cpu_count() or 1)))
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        defaults["spark.driver.memory"] = f"{max(1, memory // 2**31)}g"  # half of RAM
    return defaults


_MEASURED = ("scope", "scope_id", "numerator", "denominator")


def spark_session(master: str | None = None, conf: Mapping[str, Any] | None = None) -> SparkSession:
    """The Spark session to evaluate with: the active one (spark-submit's, a notebook's) when
    neither master nor settings are given, else one built with them over `DEFAULT_CONF`.

    master None means spark-submit's master when run under it, else `local[*]`.
    """
    active = SparkSession.getActiveSession()
    if active is not None and master is None and not conf:
        return active
    builder = SparkSession.builder
    if master is not None:
        builder = builder.master(master)
    elif "PYSPARK_GATEWAY_PORT" not in os.environ:  # not under spark-submit
        builder = builder.master("local[*]")
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL + 1)
    given = {k if k.startswith("spark.") else f"spark.{k}": str(v) for k, v in (conf or {}).items()}
    settings = {**DEFAULT_CONF, **_local_defaults(master), **given}
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # the JVM did not start: no Java, or a bad setting
        raise ConfigError(
            f"cannot start Spark: {_first_line(exc)} (the spark engine needs Java 17 on PATH "
            "or JAVA_HOME; Debian: apt-get install openjdk-17-jre-headless)"
        ) from None


def session_from_config(config: Config) -> SparkSession:
    """The session for a command: `spark_master` when set (else spark-submit's or local[*])
    and kpitool.toml's [spark] table."""
    setting = config.setting("spark_master")
    master = None if setting.source == "default" else str(setting.value)
    return spark_session(master, config.spark_conf())


def _first_line(exc: BaseException) -> str:
    """A Spark error's message without the JVM's plan dump, stack or SQLSTATE code."""
    text = str(exc).strip()
    raised = re.search(r"\[USER_RAISED_EXCEPTION\] (.+?)(?: SQLSTATE|$)", text, re.MULTILINE)
    if raised:
        return raised.group(1).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return re.sub(r"\s*SQLSTATE: \w+.*$", "", line).rstrip(" ;.")


@contextmanager
def _spark_errors(what: str) -> Iterator[None]:
    """A failed Spark plan or job as a one-line DataError (a bad value names its column)."""
    try:
        yield
    except (PySparkException, Py4JError) as exc:
        raise DataError(f"{what}: {_first_line(exc)}") from None


_POLARS_TYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "bigint": pl.Int64(),
    "int": pl.Int32(),
    "smallint": pl.Int16(),
    "tinyint": pl.Int8(),
    "double": pl.Float64(),
    "float": pl.Float32(),
    "boolean": pl.Boolean(),
    "date": pl.Date(),
    "timestamp_ntz": pl.Datetime("us"),
    "timestamp": pl.Datetime("us"),
}


def to_polars(frame: DataFrame) -> pl.DataFrame:
    """Collect a (small) Spark result to a Polars frame with matching column types; decimals
    become doubles and types Polars has no plain match for (arrays, maps …) become text."""
    schema: dict[str, pl.DataType] = {}
    columns: list[Column] = []
    for f in frame.schema.fields:
        kind = f.dataType.simpleString()
        if kind.startswith("decimal"):
            schema[f.name] = pl.Float64()
            columns.append(F.col(f"`{f.name}`").cast("double"))
        elif kind in _POLARS_TYPES:
            schema[f.name] = _POLARS_TYPES[kind]
            columns.append(F.col(f"`{f.name}`"))
        else:
            schema[f.name] = pl.String()
            columns.append(F.col(f"`{f.name}`").cast("string"))
    rows = frame.select(*columns).collect()
    return pl.DataFrame([tuple(row) for row in rows], schema=schema, orient="row")


def _aggregates(rule: Rule, job: SparkJob) -> list[Column]:
    """numerator and denominator, as the Polars engine computes them (sums of nothing are 0)."""
    m = rule.measure
    condition = F.coalesce(job.compile(m.condition), F.lit(False)) if m.condition else None
    of = job.compile(m.of) if m.of else None
    rows = F.count(F.lit(1))

    def total(value: Column) -> Column:
        return F.coalesce(F.sum(value), F.lit(0))

    if m.kind == "mean" and of is not None:
        num, den = total(of), F.count(of)
    elif m.kind == "sum" and of is not None:
        num, den = total(of), rows
    elif m.kind == "count_distinct" and of is not None:
        num = F.count_distinct(F.when(condition, of) if condition is not None else of)
        den = rows
    elif m.kind in ("ratio", "rate"):
        num, den = (total(of) if of is not None else rows), rows
    elif m.kind == "coverage":
        num, den = total(F.col("covered").cast("int")), rows
    elif condition is not None:  # share, detection
        num, den = total(condition.cast("int")), rows
    else:  # count
        num, den = rows, rows
    return [num.cast("double").alias("numerator"), den.cast("double").alias("denominator")]


def _scoped(frame: DataFrame, scopes: list[str]) -> DataFrame:
    """Each row once per scope it counts in, as (scope, scope_id): one pass serves every
    scope (a union of per-scope group-bys would recompute the population for each)."""
    keys = [
        F.struct(
            F.lit(scope).alias("scope"),
            (
                F.lit("ALL") if scope == "company" else F.col(GRAIN_COLUMNS[scope]).cast("string")
            ).alias("scope_id"),
        )
        for scope in scopes
    ]
    return frame.withColumn("__scope", F.explode(F.array(*keys))).filter(
        F.col("__scope.scope_id").isNotNull()
    )


def _grouped(frame: DataFrame, scopes: list[str], aggs: list[Column]) -> DataFrame:
    return (
        _scoped(frame, scopes)
        .groupBy(
            PERIOD,
            F.col("__scope.scope").alias("scope"),
            F.col("__scope.scope_id").alias("scope_id"),
        )
        .agg(*aggs)
    )


def _measure_plan(rule: Rule, job: SparkJob, by: Sequence[str]) -> DataFrame:
    """(rule_id, __period, scope, scope id, numerator, denominator) of one rule."""
    frame = population(rule, job)
    scopes = _scopes(rule, by, set(frame.columns))
    plan = _grouped(frame, scopes, _aggregates(rule, job))
    denominator = rule.measure.denominator
    if denominator is not None:
        den_frame = population(denominator_rule(rule), job)
        den_of = job.compile(denominator.of) if denominator.of else None
        den_total = F.coalesce(F.sum(den_of), F.lit(0)) if den_of is not None else F.count(F.lit(1))
        den_scopes = [s for s in scopes if s == "company" or GRAIN_COLUMNS[s] in den_frame.columns]
        plan = (
            plan.drop("denominator")
            .join(
                _grouped(den_frame, den_scopes, [den_total.cast("double").alias("denominator")]),
                on=[PERIOD, "scope", "scope_id"],
                how="full",
            )
            .withColumn("numerator", F.coalesce(F.col("numerator"), F.lit(0.0)))
        )
    return plan.select(
        F.lit(rule.id).alias("rule_id"), PERIOD, "scope", "scope_id", "numerator", "denominator"
    )


def _reference(data: SparkData, name: str) -> pl.DataFrame | None:
    """A small reference table (targets, branches …) brought to the driver, or None."""
    if not data.has(name):
        return None
    with _spark_errors(f"dataset {name}"):
        return to_polars(data.read(name))


def _tables(data: SparkData) -> TargetTables:
    """The targets and benchmarks; a target for an unknown branch is an error (as in Polars)."""
    targets = _reference(data, "targets")
    known = set(_branch_ids(data))
    if targets is not None and known:
        for index, branch in enumerate(targets["branch_id"].to_list()):
            if branch is not None and branch not in known:
                raise DataError(
                    f"{data.root}: targets: row {index + 1}: branch_id {branch!r} is not a "
                    "branch in branches"
                )
    return TargetTables(targets, _reference(data, "benchmarks"))


def _branch_ids(data: SparkData) -> list[str]:
    branches = _reference(data, "branches")
    return [] if branches is None else branches["branch_id"].to_list()


def _owners(data: SparkData) -> dict[tuple[str, str], str]:
    """(scope, id) -> branch_id for counters and agents, to limit their rows by branch."""
    owners: dict[tuple[str, str], str] = {}
    for scope, name, key in (
        ("counter", "counters", "counter_id"),
        ("agent", "agents", "agent_id"),
    ):
        if data.has(name):
            with _spark_errors(f"dataset {name}"):
                rows = data.read(name).select(key, "branch_id").collect()
            owners.update({(scope, row[0]): row[1] for row in rows})
    return owners


def _source(data: DataSource | Path | str | None, session: SparkSession | None) -> SparkData:
    from kpitool.resources import BUNDLED_DATA

    spark = session or spark_session()
    spark.conf.set("spark.sql.legacy.javaCharsets", "true")  # a session kpitool did not start
    return SparkData(spark, data if data is not None else BUNDLED_DATA)


def _inputs(
    data: DataSource | Path | str | None,
    rules: RuleSet | Path | str | None,
    session: SparkSession | None,
) -> tuple[SparkData, RuleSet]:
    return _source(data, session), rules if isinstance(rules, RuleSet) else load_rules(rules)


def evaluate(
    months: Month | str | Sequence[Month | str],
    data: DataSource | Path | str | None = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branches: Sequence[str] | None = None,
    rule_ids: Sequence[str] | None = None,
    by: Sequence[str] = (),
    session: SparkSession | None = None,
) -> pl.DataFrame:
    """`kpitool.engine.evaluate` on Spark: the same rows (RESULT_SCHEMA), computed in Spark.

    `data` may also be a URL (hdfs://, s3a://, file:/) of a folder in canonical layout.
    """
    started = time.perf_counter()
    source, ruleset = _inputs(data, rules, session)
    chosen = ruleset.select(list(rule_ids) if rule_ids else None)
    asked = _months(months)
    job = SparkJob(source, asked, _tables(source))
    plans: list[DataFrame] = []
    missing: dict[tuple[str, Month], str] = {}
    for rule in chosen:
        needed = set(asked) | {p for m in asked if (p := prior_month(rule, m)) is not None}
        try:
            with _spark_errors(rule.id):
                plans.append(_measure_plan(rule, job.with_months(sorted(needed)), by))
        except Missing as exc:
            missing.update({(rule.id, m): str(exc) for m in needed})
    measured: dict[tuple[str, Month], pl.DataFrame] = {}
    if plans:
        union = plans[0]
        for plan in plans[1:]:
            union = union.unionByName(plan)
        with _spark_errors("cannot evaluate"):
            rows = to_polars(union)
        for (rule_id, period), part in rows.partition_by("rule_id", PERIOD, as_dict=True).items():
            measured[(str(rule_id), parse_month(str(period)))] = part.select(_MEASURED)
    empty = pl.DataFrame(
        schema={
            "scope": pl.String,
            "scope_id": pl.String,
            "numerator": pl.Float64,
            "denominator": pl.Float64,
        }
    )
    for rule in chosen:
        for month in asked:
            if (rule.id, month) not in missing:
                measured.setdefault((rule.id, month), empty)
    logger.info(
        "evaluated %d rules for %s from %s on Spark in %.2fs",
        len(chosen),
        ", ".join(str(m) for m in asked),
        source.root,
        time.perf_counter() - started,
    )
    owners = _owners(source) if branches else {}
    return score(
        chosen, asked, measured, missing, job.tables, _branch_ids(source), branches, owners
    )


def exceptions(
    rule_id: str,
    month: Month | str,
    data: DataSource | Path | str | None = None,
    rules: RuleSet | Path | str | None = None,
    *,
    branches: Sequence[str] | None = None,
    session: SparkSession | None = None,
) -> pl.DataFrame:
    """`kpitool.engine.exceptions` on Spark: only the exception rows come to the driver."""
    source, ruleset = _inputs(data, rules, session)
    rule = ruleset.get(rule_id)
    if not rule.detection:
        raise UsageError(f"rule {rule_id} lists no exceptions (it is not a detection rule)")
    spec = rule.exceptions
    job = SparkJob(source, _months(month)[:1], _tables(source))
    period = rule.period
    if spec is not None and spec.window is not None and period is not None:
        period = period.model_copy(update={"window": spec.window})
    try:
        with _spark_errors(rule.id):
            frame = population(rule, job, period)
    except Missing as exc:
        raise DataError(f"{rule.id}: {exc}") from None
    with _spark_errors(rule.id):
        if spec is not None and spec.group_by:
            aggs = [F.count(F.lit(1)).alias("count")]
            if "branch_id" in frame.columns and "branch_id" not in spec.group_by:
                aggs.append(F.min("branch_id").alias("branch_id"))
            if spec.having:
                aggs.append(job.compile(spec.having).alias("__keep"))
            frame = frame.groupBy(*spec.group_by).agg(*aggs)
            if spec.having:
                frame = frame.filter(F.col("__keep")).drop("__keep")
        else:
            condition = spec.where if spec is not None and spec.where else rule.measure.condition
            if condition:
                frame = frame.filter(F.coalesce(job.compile(condition), F.lit(False)))
        show = list(spec.show) if spec is not None else []
        lead = ["branch_id"] if "branch_id" in frame.columns else []
        selected = lead + [c for c in show if c not in lead]
        frame = frame.select(*selected)
        if branches and lead:
            frame = frame.filter(F.col("branch_id").isin(list(branches)))
        frame = frame.orderBy(*(F.col(c).asc_nulls_last() for c in selected))
    with _spark_errors(f"cannot list {rule.id}"):
        return to_polars(frame)


def run_query(
    sql: str,
    data: DataSource | Path | str | None = None,
    *,
    limit: int | None = None,
    session: SparkSession | None = None,
) -> pl.DataFrame:
    """`kpitool.query.run_query` on Spark: every available dataset is a view named as in
    datasets.md; Spark SQL runs the query and only its (limited) rows come back."""
    if limit is not None and limit < 0:
        raise UsageError(f"--limit {limit}: expected 0 or more")
    source = _source(data, session)
    for name in DATASETS:
        if source.has(name):
            with _spark_errors(f"dataset {name}"):
                source.read(name).createOrReplaceTempView(name)
    try:
        frame = source.spark.sql(sql)
    except (PySparkException, Py4JError) as exc:
        raise UsageError(f"query: {_first_line(exc)}") from None
    if limit is not None:
        frame = frame.limit(limit)
    with _spark_errors("query"):
        return to_polars(frame)


def data_facts(
    data: DataSource | Path | str,
    month: Month,
    as_of: Sequence[tuple[str, str]],
    *,
    session: SparkSession | None = None,
) -> tuple[pl.DataFrame, str, dict[str, str]]:
    """What a report needs to know of data only Spark reaches: the branches (id, name), the
    as-of date (the latest of the (dataset, column) pairs `as_of` up to the month's end) and
    where each dataset was read."""
    source = _source(data, session)
    branches = _reference(source, "branches")
    if branches is None:
        raise DataError(source.missing("branches"))
    latest = None
    for name, column in as_of:
        if source.has(name):
            with _spark_errors(f"dataset {name}"):
                day_of = F.to_date(F.col(column))
                value = (
                    source.read(name)
                    .filter(day_of <= F.lit(month.last_day))
                    .select(F.max(day_of))
                    .collect()
                )
            day = value[0][0] if value else None
            latest = day if latest is None or (day is not None and day > latest) else latest
    where = {name: source.where(name) for name in DATASETS if source.has(name)}
    return branches.select("branch_id", "branch_name"), str(latest or month.last_day), where
