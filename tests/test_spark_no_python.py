"""No Python runs on Spark executors: every rule's plan is Spark SQL on the JVM.

A separate process (its own Spark application, so its own event log) evaluates every rule
and lists every rule's exceptions on generated data, then runs one Python UDF in a second
application; the first log must hold no Python operator, the second must (so the check
can see one).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyspark", reason="the spark extra is not installed")

PYTHON_MARKS = (
    "BatchEvalPython",
    "ArrowEvalPython",
    "PythonUDF",
    "PythonRDD",
    "MapInPandas",
    "MapInArrow",
    "FlatMapGroupsInPandas",
    "AggregateInPandas",
    "WindowInPandas",
)

SCRIPT = """
import sys
from pathlib import Path

from pyspark.sql import functions as F

import kpitool
from kpitool.spark.session import spark_session

data, logs = Path(sys.argv[1]), Path(sys.argv[2])
kpitool.generate_sample_data(data, seed=5, branches=2, scale=0.1)


def session(folder):
    folder.mkdir()
    conf = {
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": folder.as_uri(),
        "spark.eventLog.compress": "false",
        "spark.sql.shuffle.partitions": "2",
    }
    return spark_session("local[2]", conf)


spark = session(logs / "kpitool")
kpitool.evaluate(["2015-03", "2015-12"], data, by=("counter", "agent", "channel"),
                 engine="spark", session=spark)
for rule in kpitool.load_rules():
    if rule.detection:
        kpitool.exceptions(rule.id, "2015-03", data, engine="spark", session=spark)
spark.stop()

spark = session(logs / "udf")
twice = F.udf(lambda x: x * 2, "long")
spark.range(3).select(twice("id")).collect()
spark.stop()
"""


def _marks(folder: Path) -> set[str]:
    files = [path for path in folder.rglob("*") if path.is_file()]
    text = "".join(path.read_text(errors="replace") for path in files)
    return {mark for mark in PYTHON_MARKS if mark in text}


def test_every_rule_runs_without_python_on_the_executors(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "data"), str(logs)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert any((logs / "kpitool").iterdir())  # the application wrote its event log
    assert _marks(logs / "kpitool") == set()
    assert _marks(logs / "udf")  # a Python UDF is seen
