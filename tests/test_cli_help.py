"""The help a person reads: flags shown as flags, choices listed, and `--version` and
`--help` fast (they import neither polars nor the report stack)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

import kpitool
from kpitool.cli import app

COMMANDS = (
    [],
    ["evaluate"],
    ["exceptions"],
    ["explain"],
    ["report"],
    ["query"],
    ["history"],
    ["diff"],
    ["rules", "list"],
    ["data", "check"],
    ["config", "show"],
)


def test_no_option_in_any_help_reads_bool_or_str(cli) -> None:
    for command in COMMANDS:
        result = cli(*command, "--help")
        assert result.exit_code == 0, command
        assert "<bool>" not in result.stdout, command
        assert "--help" in result.stdout


def _help(*command: str) -> str:
    """A command's help in a 120-column terminal."""
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    return result.stdout


def test_choices_are_listed_in_the_help() -> None:
    evaluate = _help("evaluate")
    for choices in (
        "<table|csv|json|parquet|xlsx>",
        "<zh|en>",
        "<polars|spark>",
        "<warn|fail>",
        "<list[pass|warn|fail|n/a]>",
        "<list[branch|counter|channel|agent]>",
    ):
        assert choices in evaluate, choices
    assert "html|pdf|xlsx" in _help("report")
    assert "<table|json>" in _help("rules", "list")
    assert "<table|csv|json|xlsx>" in _help("history") and "<table|csv|json|xlsx>" in _help("diff")


def test_version_and_help_import_neither_polars_nor_the_report_stack() -> None:
    script = (
        "import sys\n"
        "from kpitool.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('polars', 'pyarrow', 'weasyprint', 'pyspark', 'jinja2', 'sqlglot')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(kpitool.__file__).parents[1])}
    for args in (["--version"], ["--help"], ["evaluate", "--help"]):
        done = subprocess.run(
            [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env
        )
        assert done.stdout.strip().splitlines()[-1] == "[]", (args, done.stderr)
