"""The data-quality note's freshness lines: each fact dataset's latest date, and the
"数据可能不完整" warning for datasets that stop short of the period's end."""

from __future__ import annotations

from kpitool.measure.freshness import Freshness
from kpitool.report.format import Lang
from kpitool.report.labels import LABELS

__all__ = ["freshness_note"]


def freshness_note(found: Freshness, lang: Lang) -> list[str]:
    """One line of latest dates, then one warning line per stale dataset."""
    L = LABELS[lang]
    if not found.datasets:
        return []
    dates = ", ".join(f"{d.dataset} {d.latest or '—'}" for d in found.datasets)
    lines = [L["dq_latest"].format(dates=dates)]
    for d in found.stale:
        lines.append(
            L["dq_stale"].format(
                dataset=d.dataset, latest=d.latest or "—", end=found.last_day, days=found.stale_days
            )
        )
    return lines
