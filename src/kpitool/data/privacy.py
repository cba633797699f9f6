"""Masking of personal data in reports and exports: phone 138****5678, name 张*, ID numbers
keeping their first 3 and last 4 characters.

Columns are masked by name (phone, name, person and policyholder ids); other free-text
columns are also scanned for whole mobile or ID-card numbers, so a phone typed into a note
or a name does not leak either. Id columns (`*_id`, `*_no`) are not scanned: a policy number
that happens to have 11 digits must stay readable. `kpitool query` masks its input tables
(`mask_lazy`), so masking follows the data whatever a query names its output columns.
"""

from __future__ import annotations

import re
from typing import Literal

import polars as pl

__all__ = [
    "FREE_TEXT_PATTERNS",
    "Kind",
    "mask_expr",
    "mask_frame",
    "mask_lazy",
    "mask_text",
    "scanned_for_numbers",
    "sensitive_kind",
]

Kind = Literal["phone", "name", "id"]

_BY_COLUMN: tuple[tuple[re.Pattern[str], Kind], ...] = (
    (re.compile(r"(^|_)(phone|mobile|tel)$"), "phone"),
    (re.compile(r"(^|_)(person_id|policyholder_id|insured_id|id_number|id_card)$"), "id"),
    (re.compile(r"(^|_)name$"), "name"),
)
_NOT_PERSONAL = re.compile(r"^(branch|counter|product|channel|company|rule|file)_name$")
_ID_LIKE = re.compile(r"(^|_)(id|no)$")
# Whole numbers only: a digit may not touch them on either side (no look-around in Polars'
# regex, so the neighbours are captured and put back; two passes catch adjacent numbers).
_MOBILE = (r"(^|\D)(1[3-9]\d)\d{4}(\d{4})($|\D)", "${1}${2}****${3}${4}")
_ID_CARD = (r"(^|\D)(\d{3})\d{11}(\d{3}[\dXx])($|\D)", "${1}${2}***********${3}${4}")
FREE_TEXT_PATTERNS = (_MOBILE, _MOBILE, _ID_CARD, _ID_CARD)
"""(regex, replacement) applied in turn to free text (Polars' `${n}` group syntax)."""


def sensitive_kind(column: str) -> Kind | None:
    """What kind of personal data a column holds, judged by its name (None: not personal)."""
    name = column.lower()
    if _NOT_PERSONAL.match(name):
        return None
    return next((kind for pattern, kind in _BY_COLUMN if pattern.search(name)), None)


def mask_text(value: str | None, kind: Kind) -> str | None:
    """One value masked: phone 138****5678, name 张*, ID 320***********1234."""
    if value is None:
        return None
    if kind == "phone":
        return value[:3] + "****" + value[-4:] if len(value) >= 8 else "****"
    if kind == "name":
        return value[:1] + "*" * (len(value) - 1) if len(value) > 1 else "*"
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "****"


def mask_expr(column: str, kind: Kind) -> pl.Expr:
    """`mask_text` as a Polars expression over a string column (same results, vectorised)."""
    col = pl.col(column)
    length = col.str.len_chars()
    if kind == "phone":
        masked = pl.concat_str(col.str.slice(0, 3), pl.lit("****"), col.str.slice(-4))
        return pl.when(length >= 8).then(masked).when(col.is_not_null()).then(pl.lit("****"))
    if kind == "name":
        masked = col.str.slice(0, 1).str.pad_end(length, "*")
        return pl.when(length > 1).then(masked).when(col.is_not_null()).then(pl.lit("*"))
    stars = pl.lit("").str.pad_end((length - 7).clip(lower_bound=0), "*")
    masked = pl.concat_str(col.str.slice(0, 3), stars, col.str.slice(-4))
    return pl.when(length > 7).then(masked).when(col.is_not_null()).then(pl.lit("****"))


def scanned_for_numbers(column: str) -> bool:
    """Whether a text column that is not personal by name is scanned for phone/ID numbers."""
    return not _ID_LIKE.search(column.lower())


def _masks(schema: pl.Schema) -> list[pl.Expr]:
    masked = []
    for column, dtype in schema.items():
        if dtype != pl.String:
            continue
        kind = sensitive_kind(column)
        if kind is not None:
            masked.append(mask_expr(column, kind).alias(column))
        elif scanned_for_numbers(column):
            expr = pl.col(column)
            for pattern, replacement in FREE_TEXT_PATTERNS:
                expr = expr.str.replace_all(pattern, replacement)
            masked.append(expr)
    return masked


def mask_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with personal data masked: by column name, and mobile or ID-card numbers
    found inside any other text column that is not an id."""
    masked = _masks(frame.schema)
    return frame.with_columns(masked) if masked else frame


def mask_lazy(frame: pl.LazyFrame) -> pl.LazyFrame:
    """`mask_frame` on a lazy frame: an input masked before a query reads it."""
    masked = _masks(frame.collect_schema())
    return frame.with_columns(masked) if masked else frame
