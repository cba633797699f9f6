"""Charts as inline SVG (matplotlib), so the HTML works offline as one file and PDFs get
the same vector drawing. Text stays text (svg.fonttype none) in a CJK-capable font."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["bar_svg", "trend_svg"]

_FONTS = ["Noto Sans CJK SC", "Noto Sans CJK JP", "Microsoft YaHei", "PingFang SC", "DejaVu Sans"]
plt.rcParams.update(
    {
        "svg.fonttype": "none",
        "font.family": "sans-serif",
        "font.sans-serif": _FONTS,
        "font.size": 7,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "kpitool",  # stable ids: identical inputs give identical SVG
    }
)


def _svg(fig: Figure) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    text = text[text.index("<svg") :]
    return re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)


def trend_svg(
    months: Sequence[str],
    values: Sequence[float | None],
    company: Sequence[float | None],
    targets: Sequence[float | None],
    *,
    percent: bool,
    labels: tuple[str, str, str],
) -> str:
    """A small line chart: the branch's values, the company's, and the target line."""
    fig, ax = plt.subplots(figsize=(3.3, 1.45), dpi=72)
    x = list(range(len(months)))
    scale = 100.0 if percent else 1.0

    def series(items: Sequence[float | None]) -> list[float]:
        return [float("nan") if v is None else v * scale for v in items]

    ax.plot(x, series(company), color="#9aa5b1", linewidth=1, linestyle="--", label=labels[1])
    ax.plot(
        x,
        series(targets),
        color="#c0392b",
        linewidth=1,
        linestyle=":",
        drawstyle="steps-mid",
        label=labels[2],
    )
    ax.plot(
        x,
        series(values),
        color="#1f4e79",
        linewidth=1.6,
        marker="o",
        markersize=2.5,
        label=labels[0],
    )
    ax.set_xticks(x, [m[5:] for m in months])
    ax.tick_params(length=2, pad=1)
    ax.grid(axis="y", color="#e5e8eb", linewidth=0.5)
    if percent:
        ax.yaxis.set_major_formatter(lambda v, _pos: f"{v:.0f}%")
    ax.legend(
        loc="upper left",
        bbox_to_anchor=(0, 1.28),
        ncol=3,
        frameon=False,
        fontsize=6,
        handlelength=1.5,
        columnspacing=0.8,
    )
    return _svg(fig)


def bar_svg(months: Sequence[str], counts: Sequence[int], label: str) -> str:
    """Bars of counts per month (the company's failed KPIs)."""
    fig, ax = plt.subplots(figsize=(6.5, 1.8), dpi=72)
    x = list(range(len(months)))
    bars = ax.bar(x, counts, color="#c0392b", width=0.6, label=label)
    ax.bar_label(bars, fontsize=6, padding=1)
    ax.set_xticks(x, [m[5:] for m in months])
    ax.tick_params(length=2, pad=1)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    return _svg(fig)
