"""`kpitool history` and `kpitool diff`: the runs recorded in OUT/history.sqlite, a rule's
figures over the recorded periods, and what changed between two runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from kpitool.cli.options import OutputOption, check_output, choice, emit, settings
from kpitool.cli.options import stdout as console
from kpitool.errors import UsageError
from kpitool.output import atomic_write

if TYPE_CHECKING:
    import polars as pl

    from kpitool.history.compare import Diff

__all__ = ["diff_command", "history_command"]

HistoryOut = Annotated[
    Path | None,
    typer.Option("--out", help="The reports folder holding history.sqlite (default: out/)."),
]
_FORMATS = ("table", "csv", "json", "xlsx")
HistoryFormat = Annotated[
    Literal["table", "csv", "json", "xlsx"],
    typer.Option("--format", "-f", help="Output format (xlsx needs --output)."),
]


def _flat_runs(runs: pl.DataFrame) -> pl.DataFrame:
    """Runs with their inputs as a count (CSV, workbooks and the terminal have no nested
    cells); a rule's history is flat already."""
    import polars as pl

    if "inputs" not in runs.columns:
        return runs
    return runs.with_columns(pl.col("inputs").list.len().alias("inputs"))


def history_command(
    ctx: typer.Context,
    out: HistoryOut = None,
    rule: Annotated[
        str | None,
        typer.Option("--rule", "-r", help="One rule's value and status over the periods."),
    ] = None,
    branch: Annotated[
        str | None, typer.Option("--branch", "-b", help="With --rule: this branch's rows only.")
    ] = None,
    fmt: HistoryFormat = "table",
    output: OutputOption = None,
) -> None:
    """List the recorded runs (every report, evaluate --record), or a rule over the periods.

    Example: kpitool history --out reports --rule claims.closed_within_5d_rate --branch B02
    """
    from kpitool import api
    from kpitool.cli.display import frame_table

    choice(fmt, _FORMATS, "--format")
    check_output(fmt, output)
    if branch is not None and rule is None:
        raise UsageError("--branch needs --rule (a rule's values per branch)")
    cfg = settings(ctx, out=out)
    frame = api.history(cfg["out"], rule=rule, branch=branch)
    if fmt == "xlsx" and output is not None:
        from kpitool.xlsx import write_sheets

        write_sheets(output, {"runs" if rule is None else "history": _flat_runs(frame)})
        return
    if rule is None:
        records = frame.to_dicts()
        flat = _flat_runs(frame)
        shown = flat.select("run_id", "period", "command", "started_at", "engine", "inputs")
        emit(flat if fmt == "csv" else frame, fmt, output, records, lambda: frame_table(shown))
        return
    title = f"{rule}" + (f" · {branch}" if branch else "")
    emit(frame, fmt, output, None, lambda: frame_table(frame, title=title))


def _moved(row: dict[str, object]) -> bool:
    return row["value_before"] != row["value_after"] or row["status_before"] != row["status_after"]


def _cell(value: object) -> str:
    if value is None:
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)


_STATUS_CHANGES = ("newly_failing", "recovered", "still_failing", "new", "gone")


def _diff_table(found: Diff) -> Group:
    """A restatement: the rows whose value or status moved. Two periods: the status changes
    (the JSON and CSV forms hold every row)."""
    restated = found.before["period"] == found.after["period"]
    moved = [r for r in found.rows if _moved(r)]
    rows = moved if restated else [r for r in found.rows if r["change"] in _STATUS_CHANGES]
    counts = {c: sum(1 for r in found.rows if r["change"] == c) for c in _STATUS_CHANGES}
    summary = ", ".join(f"{n} {c.replace('_', ' ')}" for c, n in counts.items() if n)
    table = Table(
        title=f"{found.before['period']} (run {found.before['run_id']}) → "
        f"{found.after['period']} (run {found.after['run_id']}): {len(moved)} changed"
        + ("" if restated or not summary else f" ({summary})"),
        header_style="bold",
    )
    columns = ["rule_id", "scope_id", "value_before", "value_after", "status_before"]
    columns += ["status_after", "change", "failing_periods"]
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row[c]) for c in columns))
    parts: list[Table | Text] = [table]
    for changed in found.inputs_changed:
        before = (changed["sha256_before"] or "absent")[:12]
        after = (changed["sha256_after"] or "absent")[:12]
        line = f"input changed: {changed['dataset']} {changed['path']} ({before} → {after})"
        parts.append(Text(line))
    return Group(*parts)


def _diff_sheets(found: Diff) -> dict[str, pl.DataFrame]:
    """A diff as a workbook: the two runs, every row's change, the input files that differ."""
    import polars as pl

    inputs = {"dataset": pl.String, "path": pl.String}
    inputs |= {"sha256_before": pl.String, "sha256_after": pl.String}
    runs = [
        {"side": side, **{k: str(v) for k, v in run.items()}}
        for side, run in (("before", found.before), ("after", found.after))
    ]
    return {
        "runs": pl.DataFrame(runs),
        "changes": pl.DataFrame(found.rows, infer_schema_length=None),
        "inputs changed": pl.DataFrame(
            [{k: r.get(k) for k in inputs} for r in found.inputs_changed], schema=inputs
        ),
    }


def diff_command(
    ctx: typer.Context,
    period: Annotated[str, typer.Argument(help="A recorded period, e.g. 2015-03.")],
    period2: Annotated[
        str | None,
        typer.Argument(help="A later period; without it, the last two runs of PERIOD."),
    ] = None,
    out: HistoryOut = None,
    fmt: HistoryFormat = "table",
    output: OutputOption = None,
) -> None:
    """What changed: PERIOD against PERIOD2, or the last two runs of PERIOD (a restatement).

    Example: kpitool diff 2015-02 2015-03 --out reports --format json
    """
    import polars as pl

    from kpitool import api

    choice(fmt, _FORMATS, "--format")
    check_output(fmt, output)
    cfg = settings(ctx, out=out)
    found = api.diff(cfg["out"], period, period2)
    if fmt == "table":
        console.print(_diff_table(found))
        return
    if fmt == "xlsx" and output is not None:
        from kpitool.xlsx import write_sheets

        write_sheets(output, _diff_sheets(found))
        return
    if fmt == "csv":
        emit(pl.DataFrame(found.rows, infer_schema_length=None), "csv", output, None, Group)
        return
    text = json.dumps(found.to_json(), ensure_ascii=False, indent=2, default=str) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        atomic_write(output, text)
