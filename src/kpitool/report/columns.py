"""Column widths for listed tables, worked out from their text, so the PDF can lay them out
with `table-layout: fixed` (WeasyPrint's automatic layout measures every cell twice: about
a seventh of a branch PDF's time) and still look as the automatic layout would.

The widths follow CSS's automatic table layout (what WeasyPrint does): each column's widest
text (max-content) and longest unbreakable piece (min-content), estimated from character
widths: CJK characters one em, others a little over half.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from markupsafe import Markup

__all__ = ["colgroup", "column_widths"]

_PADDING_EM = 1.25
"""A cell's horizontal padding (2 × 1.5 mm) in ems of the listed tables' 7 pt."""
_AVAILABLE_EM = 72.0
"""The printed page's text width (178 mm) in ems of 7 pt."""
_BOLD = 1.05
"""Header cells are bold, slightly wider."""


def _char_em(char: str) -> float:
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1.0
    if char in "ilj.,:;'|!1 ":
        return 0.3
    if char.isupper() or char in "mwMW@%":
        return 0.7
    return 0.56


def _widths(text: str) -> tuple[float, float]:
    """(max-content, min-content) of a cell's text in ems: whole, and its widest piece that
    cannot break (CJK breaks between any two characters, other text at spaces)."""
    whole = sum(_char_em(c) for c in text)
    pieces: list[float] = [0.0]
    for char in text:
        if char == " " or unicodedata.east_asian_width(char) in ("W", "F"):
            pieces.append(_char_em(char) if char != " " else 0.0)
            pieces.append(0.0)
        else:
            pieces[-1] += _char_em(char)
    return whole, max(pieces)


def column_widths(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> list[float]:
    """Each column's share of the table's width in percent (two decimals), as the automatic
    layout would give it: widths in proportion to the widest text when all fit, else each
    column's narrowest plus a share of what is left."""
    if not columns:
        return []
    widest = [_widths(str(c))[0] * _BOLD for c in columns]
    narrowest = [_widths(str(c))[1] * _BOLD for c in columns]
    for row in rows:
        for i, value in enumerate(row[: len(columns)]):
            whole, piece = _widths(str(value))
            widest[i] = max(widest[i], whole)
            narrowest[i] = max(narrowest[i], piece)
    most = [w + _PADDING_EM for w in widest]
    least = [n + _PADDING_EM for n in narrowest]
    if sum(most) <= _AVAILABLE_EM:
        chosen = most
    elif sum(least) >= _AVAILABLE_EM:
        chosen = least
    else:
        share = (_AVAILABLE_EM - sum(least)) / (sum(most) - sum(least))
        chosen = [lo + (hi - lo) * share for lo, hi in zip(least, most, strict=True)]
    total = sum(chosen)
    return [round(100 * w / total, 2) for w in chosen]


def colgroup(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Markup:
    """A `<colgroup>` giving each column its print width as `--w` (report.css applies it
    in print only, so screens keep their automatic layout)."""
    cols = "".join(f'<col style="--w: {w}%">' for w in column_widths(columns, rows))
    return Markup(f"<colgroup>{cols}</colgroup>")
