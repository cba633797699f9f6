"""`report --format xlsx`: each branch's workbook and the company's, for people who filter,
annotate and forward lists in Excel.

`<branch>.xlsx` holds the scorecard (numbers as numbers, statuses coloured), one sheet per
exception list and a notes sheet; `company.xlsx` the rule × branch status grid (the PDF heat
map's colours), every scorecard in one flat table for pivot tables, and every exception list
company-wide. Data cells are written as strings, never formulas (kpitool.xlsx).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from xlsxwriter.format import Format

from kpitool.output import atomic_path
from kpitool.report.context import ReportData
from kpitool.report.format import UNIT_NOTE, describe_target
from kpitool.report.labels import COLUMNS, LABELS, REASONS, translate_value, vs_previous
from kpitool.rules.model import Rule
from kpitool.xlsx import Styles, sheet_name, workbook, write_table

__all__ = ["Notes", "write_workbooks"]

_WORDS = {
    "zh": {
        "scorecard": "指标计分卡",
        "notes": "说明",
        "grid": "各单位达标情况",
        "flat": "各单位计分卡",
        "rule_id": "指标编号",
        "title": "指标名称",
        "unit": "单位",
        "value": "本期值",
        "target": "目标",
        "status": "状态",
        "reason": "说明",
        "d_month": "较上月",
        "d_year": "较去年同期",
        "rank": "排名",
        "ranked": "参与排名单位数",
        "scope_id": "单位代码",
        "scope_name": "单位名称",
        "item": "项目",
        "text": "内容",
        "how": "计算方法",
        "masked": "个人信息(电话、姓名、证件号)已脱敏",
        "unmasked": "个人信息未脱敏(--unmask),请妥善保管",
        "privacy": "个人信息",
        "tool": "工具版本",
    },
    "en": {
        "scorecard": "Scorecard",
        "notes": "Notes",
        "grid": "Status by branch",
        "flat": "All scorecards",
        "rule_id": "rule",
        "title": "title",
        "unit": "unit",
        "value": "value",
        "target": "target",
        "status": "status",
        "reason": "note",
        "d_month": "vs last month",
        "d_year": "vs last year",
        "rank": "rank",
        "ranked": "branches ranked",
        "scope_id": "branch",
        "scope_name": "branch name",
        "item": "item",
        "text": "text",
        "how": "how it is computed",
        "masked": "personal data (phones, names, ID numbers) masked",
        "unmasked": "personal data NOT masked (--unmask): keep this file safe",
        "privacy": "personal data",
        "tool": "tool version",
    },
}
_NUMERIC = ("value", "target", "d_month", "d_year")


@dataclass(frozen=True)
class Notes:
    """What the notes sheet says about the run besides the rules."""

    period: str
    as_of: str
    rules_version: str
    tool_version: str
    generated: str
    unmasked: bool


def _rank(data: ReportData, rule: Rule, branch_id: str) -> tuple[int | None, int | None]:
    """The branch's place among the branches with a value (1 = best), and how many."""
    if rule.better is None:
        return None, None
    values = [
        r["value"]
        for b in data.branches
        if (r := data.value(rule.id, data.month, "branch", b["id"])) and r["value"] is not None
    ]
    mine = data.value(rule.id, data.month, "branch", branch_id)
    if mine is None or mine["value"] is None:
        return None, len(values)
    sign = -1 if rule.better == "higher" else 1
    return sum(sign * v < sign * mine["value"] - 1e-12 for v in values) + 1, len(values)


def _change(data: ReportData, rule: Rule, scope: str, scope_id: str, before: Any) -> Any:
    now = data.value(rule.id, data.month, scope, scope_id)
    then = data.value(rule.id, before, scope, scope_id)
    if now is None or then is None or now["value"] is None or then["value"] is None:
        return None
    return now["value"] - then["value"]


def scorecard_frame(data: ReportData, scope: str, scope_id: str) -> pl.DataFrame:
    """One scope's scorecard as typed columns: value, target and changes as numbers."""
    L, lang = LABELS[data.lang], data.lang
    rows = []
    for rule in data.rules:
        row = data.value(rule.id, data.month, scope, scope_id)
        if row is None:
            continue
        rank, ranked = _rank(data, rule, scope_id) if scope == "branch" else (None, None)
        reason = row["reason"] or ""
        rows.append(
            {
                "rule_id": rule.id,
                "title": getattr(rule.title, lang),
                "unit": UNIT_NOTE[lang][rule.unit],
                "value": row["value"],
                "target": row["target"],
                "status": L[row["status"]],
                "reason": REASONS[lang].get(reason, reason) if row["status"] == "n/a" else "",
                "d_month": _change(data, rule, scope, scope_id, data.month.previous()),
                "d_year": _change(data, rule, scope, scope_id, data.month.same_month_last_year()),
                "rank": rank,
                "ranked": ranked,
                "_status": row["status"],
                "_unit": rule.unit,
            }
        )
    schema: dict[str, Any] = {
        k: pl.String for k in ("rule_id", "title", "unit", "status", "reason")
    }
    schema |= {k: pl.Float64 for k in _NUMERIC} | {"rank": pl.Int64, "ranked": pl.Int64}
    schema |= {"_status": pl.String, "_unit": pl.String}
    order = ["rule_id", "title", "unit", "value", "target", "status", "reason"]
    order += ["d_month", "d_year", "rank", "ranked", "_status", "_unit"]
    return pl.DataFrame(rows, schema={k: schema[k] for k in order}, orient="row")


def _scorecard_formats(styles: Styles) -> Any:
    def formats(row: dict[str, Any], column: str) -> Format | None:
        if column in _NUMERIC:
            return styles.unit(row["_unit"])
        if column == "status":
            return styles.status[row["_status"]]
        return None

    return formats


def _exception_frame(frame: pl.DataFrame, lang: str, *, keep_branch: bool) -> pl.DataFrame:
    """An exception list as a reader reads it: 是/否 flags, values in the report's words."""
    if not keep_branch and "branch_id" in frame.columns:
        frame = frame.drop("branch_id")
    L = LABELS[lang]
    changes = []
    for name, dtype in frame.schema.items():
        if dtype == pl.Boolean:
            changes.append(
                pl.col(name).replace_strict(
                    {True: L["yes"], False: L["no"]}, return_dtype=pl.String
                )
            )
        elif dtype == pl.String and lang != "en":
            # translated once per distinct value, not once per row (lists run to 10⁴ rows)
            seen = frame.get_column(name).drop_nulls().unique().to_list()
            words = {v: translate_value(v, lang) for v in seen}
            changed = {k: v for k, v in words.items() if k != v}
            if changed:
                changes.append(pl.col(name).replace(changed))
    return frame.with_columns(changes) if changes else frame


def _exception_sheets(
    styles: Styles, data: ReportData, used: set[str], branch_id: str | None
) -> None:
    for rule_id, frame in data.exceptions.items():
        if branch_id is not None:
            if "branch_id" not in frame.columns:
                continue
            frame = frame.filter(pl.col("branch_id") == branch_id)
        rule = data.rules.get(rule_id)
        shown = _exception_frame(frame, data.lang, keep_branch=branch_id is None)
        name = sheet_name(getattr(rule.title, data.lang), used)
        write_table(styles, name, shown, headers=COLUMNS[data.lang])


def _notes(styles: Styles, data: ReportData, notes: Notes, used: set[str]) -> None:
    W, L, lang = _WORDS[data.lang], LABELS[data.lang], data.lang
    facts = [
        (L["period"], notes.period),
        (L["as_of"], notes.as_of),
        (L["rules_version"], notes.rules_version),
        (W["tool"], notes.tool_version),
        (L["generated"], notes.generated),
        (W["privacy"], W["unmasked"] if notes.unmasked else W["masked"]),
        *((L["data_quality"], line) for line in data.quality),
    ]
    for rule in data.rules:
        how = getattr(rule.description, lang) if rule.description else ""
        target = describe_target(rule, data.lang)
        facts.append((f"{rule.id} {getattr(rule.title, lang)}", f"{how} {L['target']}: {target}"))
    frame = pl.DataFrame(facts, schema={"item": pl.String, "text": pl.String}, orient="row")
    write_table(styles, sheet_name(W["notes"], used), frame, headers=_WORDS[data.lang])


def branch_workbook(data: ReportData, branch: dict[str, str], notes: Notes, target: Path) -> Path:
    """`<branch>.xlsx`: scorecard, the branch's exception lists, notes."""
    W = _words(data)
    with atomic_path(target) as tmp:
        book = workbook(tmp)
        styles, used = Styles(book), set[str]()
        card = scorecard_frame(data, "branch", branch["id"])
        name = sheet_name(W["scorecard"], used)
        write_table(styles, name, card, headers=W, formats=_scorecard_formats(styles))
        _exception_sheets(styles, data, used, branch["id"])
        _notes(styles, data, notes, used)
        book.close()
    return target


def grid_frame(data: ReportData) -> pl.DataFrame:
    """Rules × (company, branches): each cell the value, `_s_<scope>` its status."""
    scopes = [("company", "ALL"), *(("branch", b["id"]) for b in data.branches)]
    rows = []
    for rule in data.rules:
        row: dict[str, Any] = {"rule_id": rule.id, "title": getattr(rule.title, data.lang)}
        for scope, scope_id in scopes:
            found = data.value(rule.id, data.month, scope, scope_id)
            row[scope_id] = found["value"] if found else None
            row[f"_s_{scope_id}"] = found["status"] if found else "n/a"
        row["_unit"] = rule.unit
        rows.append(row)
    schema: dict[str, Any] = {"rule_id": pl.String, "title": pl.String}
    for _, scope_id in scopes:
        schema[scope_id] = pl.Float64
    schema |= {f"_s_{s}": pl.String for _, s in scopes} | {"_unit": pl.String}
    return pl.DataFrame(rows, schema=schema, orient="row")


def flat_frame(data: ReportData) -> pl.DataFrame:
    """Every scope's scorecard in one table (one row per rule and scope), for pivot tables."""
    scopes = [("company", "ALL", LABELS[data.lang]["company"])]
    scopes += [("branch", b["id"], b["name"]) for b in data.branches]
    frames = [
        scorecard_frame(data, scope, scope_id).select(
            pl.lit(scope_id).alias("scope_id"), pl.lit(name).alias("scope_name"), pl.all()
        )
        for scope, scope_id, name in scopes
    ]
    return pl.concat(frames)


def company_workbook(data: ReportData, notes: Notes, target: Path) -> Path:
    """`company.xlsx`: the status grid, every scorecard flat, every exception list."""
    W = _words(data)
    headers = {**W, "ALL": LABELS[data.lang]["company"]}
    headers |= {b["id"]: f"{b['name']} {b['id']}" for b in data.branches}
    with atomic_path(target) as tmp:
        book = workbook(tmp)
        styles, used = Styles(book), set[str]()

        def grid(row: dict[str, Any], column: str) -> Format | None:
            status = row.get(f"_s_{column}")
            return styles.status_unit(status, row["_unit"]) if status is not None else None

        write_table(
            styles, sheet_name(W["grid"], used), grid_frame(data), headers=headers, formats=grid
        )
        flat = flat_frame(data)
        write_table(
            styles, sheet_name(W["flat"], used), flat, headers=W, formats=_scorecard_formats(styles)
        )
        _exception_sheets(styles, data, used, None)
        _notes(styles, data, notes, used)
        book.close()
    return target


def _words(data: ReportData) -> dict[str, str]:
    """The workbook's words, the change column named for the period's previous period."""
    return {**_WORDS[data.lang], "d_month": vs_previous(data.lang, data.month.kind)}


def write_workbooks(
    data: ReportData, chosen: list[dict[str, str]], notes: Notes, folder: Path
) -> list[Path]:
    """Every chosen branch's workbook and the company's, into `folder`."""
    written = [
        branch_workbook(data, branch, notes, folder / f"{branch['file']}.xlsx") for branch in chosen
    ]
    written.append(company_workbook(data, notes, folder / "company.xlsx"))
    return written
