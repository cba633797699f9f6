"""The summary that opens a page, and the drill-down behind each missing figure: how many
rules fail and warn, each failing figure in one line with its gap and main cause, what
changed since last month, and the rows a manager acts on."""

from __future__ import annotations

from typing import Any

import polars as pl

from kpitool.report.cells import listed_cell, overdue_days
from kpitool.report.context import ReportData, delta
from kpitool.report.findings import Cause
from kpitool.report.format import format_gap, format_target, format_value
from kpitool.report.labels import COLUMNS, LABELS, vs_previous
from kpitool.rules.model import Rule

__all__ = ["branch_drills", "company_drills", "page_summary"]

_ORDER = {"fail": 0, "warn": 1}
_BY_GRAIN = ("mean", "ratio")
"""Kinds whose cause is a counter or agent; the others' is the rows that miss."""


def _cause_text(rule: Rule, cause: Cause, data: ReportData) -> str:
    L = LABELS[data.lang]
    who = cause.scope_id + (f" {cause.name}" if cause.name else "")
    if cause.scope == "agent":
        who = f"{L['agent']} {who}"
    return f"{who} {format_value(cause.value, rule.unit, data.lang)}"


def _branch_cause(data: ReportData, rule: Rule, branch_id: str) -> str:
    L = LABELS[data.lang]
    causes = _causes(data, rule, branch_id)
    if causes:
        return "、".join(_cause_text(rule, c, data) for c in causes[:2])
    behind = _rows_behind(data, rule, branch_id)
    if behind is None:
        return ""
    frame, total = behind
    key = next((c for c in frame.columns if c != "branch_id"), None)
    ids = "、".join(str(v) for v in frame[key].head(3)) if key else ""
    below = L["listed_below"] if _listed_here(data, rule, branch_id) else L["rows_below"]
    return below.format(n=total) + (f" ({ids}{'…' if total > 3 else ''})" if ids else "")


def _listed_rows(data: ReportData, rule: Rule, branch_id: str) -> pl.DataFrame | None:
    """The branch's rows in the rule's detection list (shown in the lists), if it has any."""
    listed = data.exceptions.get(rule.id)
    if listed is None or "branch_id" not in listed.columns:
        return None
    own = listed.filter(pl.col("branch_id") == branch_id)
    return own if own.height else None


def _listed_here(data: ReportData, rule: Rule, branch_id: str) -> bool:
    """Whether the rule's detection list holds rows of the branch (shown in the lists)."""
    return _listed_rows(data, rule, branch_id) is not None


def _rows_behind(data: ReportData, rule: Rule, branch_id: str) -> tuple[pl.DataFrame, int] | None:
    """The rows behind a branch's figure, with how many: its rows in the detection list,
    else its drill-down (None: neither)."""
    own = _listed_rows(data, rule, branch_id)
    if own is not None:
        return own, own.height
    return data.findings.drills.get((rule.id, branch_id))


def _anchor(data: ReportData, rule: Rule, branch_id: str) -> str:
    """Where on the page the rows behind a branch's figure are: its drill-down or the lists."""
    if _listed_here(data, rule, branch_id):
        return "lists"
    key = (rule.id, branch_id)
    return (
        f"drill-{rule.id}" if _causes(data, rule, branch_id) or key in data.findings.drills else ""
    )


def _causes(data: ReportData, rule: Rule, branch_id: str) -> list[Cause]:
    """The counters or agents behind a mean or ratio, or any figure without rows to list."""
    found = data.findings.causes.get((rule.id, branch_id), [])
    if rule.measure.kind in _BY_GRAIN or _rows_behind(data, rule, branch_id) is None:
        return found
    return []


def _branches_behind(data: ReportData, rule: Rule) -> list[tuple[str, dict[str, Any]]]:
    """The failing and warning branches of a company figure, those that move it most first:
    the gap to their target times their population, then the worst value."""
    sign = -1 if rule.better == "higher" else 1
    found = []
    for b in data.branches:
        row = data.value(rule.id, data.month, "branch", b["id"])
        if row is not None and row["status"] in _ORDER and row["value"] is not None:
            gap = 0.0 if row["target"] is None else sign * (row["value"] - row["target"])
            weight = max(gap, 0.0) * (row.get("denominator") or 0)
            found.append((_ORDER[row["status"]], -weight, -sign * row["value"], b["id"], row))
    found.sort(key=lambda item: item[:4])
    return [(item[3], item[4]) for item in found]


def _company_cause(data: ReportData, rule: Rule) -> str:
    names = {b["id"]: b["name"] for b in data.branches}
    failing = [(b, r) for b, r in _branches_behind(data, rule) if r["status"] == "fail"]
    return "、".join(
        f"{names[b]} {format_value(r['value'], rule.unit, data.lang)}" for b, r in failing[:3]
    )


def company_drills(data: ReportData) -> list[dict[str, Any]]:
    """A block per failing or warning company figure: the branches behind it, those that
    move it most first, with their value, target and status."""
    L, lang = LABELS[data.lang], data.lang
    names = {b["id"]: b["name"] for b in data.branches}
    blocks = []
    for rule in data.rules:
        row = data.value(rule.id, data.month, "company", "ALL")
        behind = _branches_behind(data, rule)
        if row is None or row["status"] not in _ORDER or not behind:
            continue
        rows = [
            [
                b,
                names[b],
                format_value(r["value"], rule.unit, lang, near=r["target"]),
                format_target(rule, r["target"], lang),
                L[r["status"]],
            ]
            for b, r in behind[:10]
        ]
        blocks.append(
            {
                "anchor": f"drill-{rule.id}",
                "title": getattr(rule.title, lang),
                "css": row["status"],
                "figure": f"{format_value(row['value'], rule.unit, lang, near=row['target'])} · "
                f"{L['target']} {format_target(rule, row['target'], lang)}",
                "columns": [L["who"], L["name"], L["value"], L["target"], L["status"]],
                "rows": rows,
                "count_text": L["count_rows"].format(n=len(behind)),
                "more": L["more_rows"].format(n=len(behind) - 10) if len(behind) > 10 else "",
            }
        )
    return blocks


def _line(
    data: ReportData, rule: Rule, row: dict[str, Any], scope: str, scope_id: str
) -> dict[str, Any]:
    L, lang = LABELS[data.lang], data.lang
    parts = [
        f"{format_value(row['value'], rule.unit, lang, near=row['target'])}",
        f"{L['target']} {format_target(rule, row['target'], lang)}",
    ]
    if row["value"] is not None and row["target"] is not None:
        parts.append(f"{L['gap']} {format_gap(row['value'] - row['target'], rule.unit, lang)}")
    before = data.value(rule.id, data.month.previous(), scope, scope_id)
    change = delta(rule, row["value"], before["value"] if before else None)[0]
    if change != "—":
        parts.append(f"{vs_previous(lang, data.month.kind)} {change}")
    if row["pace_needed"] is not None:
        parts.append(f"{L['pace']} {format_gap(row['pace_needed'], rule.unit, lang)}")
    cause = _branch_cause(data, rule, scope_id) if scope == "branch" else _company_cause(data, rule)
    return {
        "status": row["status"],
        "css": row["status"],
        "title": getattr(rule.title, lang),
        "anchor": _anchor(data, rule, scope_id)
        if scope == "branch"
        else (f"drill-{rule.id}" if _branches_behind(data, rule) else ""),
        "text": L["sep"].join(parts),
        "cause": cause,
        "cause_label": L["cause"] if scope == "branch" else L["worst_branches"],
    }


def _changes(data: ReportData, scope: str, scope_id: str) -> str:
    """Rules that newly miss and rules back on target since last month."""
    L, lang = LABELS[data.lang], data.lang
    new, recovered = [], []
    for rule in data.rules:
        now = data.value(rule.id, data.month, scope, scope_id)
        before = data.value(rule.id, data.month.previous(), scope, scope_id)
        if now is None or before is None:
            continue
        title = getattr(rule.title, lang)
        if now["status"] == "fail" and before["status"] != "fail":
            new.append(title)
        elif before["status"] == "fail" and now["status"] == "pass":
            recovered.append(title)
    parts = []
    if new:
        parts.append(L["newly_failing"].format(rules="、".join(new)))
    if recovered:
        parts.append(L["recovered"].format(rules="、".join(recovered)))
    return L["sep"].join(parts) if parts else L["no_change"]


def page_summary(data: ReportData, scope: str, scope_id: str) -> dict[str, Any]:
    """The summary a page opens with, for the company ("company", "ALL") or a branch."""
    L = LABELS[data.lang]
    lines = []
    for rule in data.rules:
        row = data.value(rule.id, data.month, scope, scope_id)
        if row is not None and row["status"] in _ORDER:
            lines.append(_line(data, rule, row, scope, scope_id))
    lines.sort(key=lambda line: _ORDER[line["status"]])
    fails = sum(1 for line in lines if line["status"] == "fail")
    warns = len(lines) - fails
    headline = L["summary_head"].format(fail=fails, warn=warns) if lines else L["summary_clean"]
    summary: dict[str, Any] = {
        "headline": headline,
        "lines": lines,
        "changes": _changes(data, scope, scope_id),
        "branches": "",
    }
    if scope == "company":
        counts = []
        for b in data.branches:
            n = sum(
                1
                for rule in data.rules
                if (r := data.value(rule.id, data.month, "branch", b["id"]))
                and r["status"] == "fail"
            )
            if n:
                counts.append((n, b["name"]))
        counts.sort(key=lambda item: -item[0])
        summary["branches"] = L["sep"].join(
            L["branch_fails"].format(name=name, n=n) for n, name in counts
        )
        summary["drills"] = company_drills(data)
    return summary


def branch_drills(data: ReportData, branch_id: str) -> list[dict[str, Any]]:
    """A block per failing or warning figure of a branch: its missing counters or agents,
    else the rows that make it miss, with days overdue where there is a due date."""
    L, lang = LABELS[data.lang], data.lang
    blocks = []
    for rule in data.rules:
        row = data.value(rule.id, data.month, "branch", branch_id)
        if row is None or row["status"] not in _ORDER:
            continue
        key = (rule.id, branch_id)
        causes = _causes(data, rule, branch_id)
        if _listed_here(data, rule, branch_id):
            continue  # its detection list shows these rows already
        head = {
            "anchor": f"drill-{rule.id}",
            "title": getattr(rule.title, lang),
            "css": row["status"],
            "figure": f"{format_value(row['value'], rule.unit, lang, near=row['target'])} · "
            f"{L['target']} {format_target(rule, row['target'], lang)}",
        }
        if causes:
            columns = [L["who"], L["name"], L["value"], L["status"]]
            rows = [
                [
                    L[c.scope] + " " + c.scope_id,
                    c.name,
                    format_value(c.value, rule.unit, lang),
                    L[c.status],
                ]
                for c in causes[:10]
            ]
            blocks.append(
                {
                    **head,
                    "columns": columns,
                    "rows": rows,
                    "count_text": L["count_rows"].format(n=len(causes)),
                    "more": "",
                }
            )
            continue
        if key not in data.findings.drills:
            continue
        frame, total = data.findings.drills[key]
        shown = [c for c in frame.columns if c != "branch_id" and c != "covered"]
        end = data.month.last_day
        overdue = overdue_days(frame, end)
        rows = [
            [listed_cell(c, v, lang, end) for c, v in zip(shown, r, strict=True)]
            for r in frame.select(shown).iter_rows()
        ]
        columns = [COLUMNS[lang].get(c, c) for c in shown]
        if overdue is not None:
            columns.append(L["days_overdue"])
            rows = [[*r, d] for r, d in zip(rows, overdue, strict=True)]
        more = total - frame.height
        blocks.append(
            {
                **head,
                "columns": columns,
                "rows": rows,
                "count_text": L["count_rows"].format(n=total),
                "more": L["more_rows"].format(n=more) if more > 0 else "",
            }
        )
    return blocks
