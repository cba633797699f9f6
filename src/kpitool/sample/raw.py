"""Two sample datasets as a core system exports them, with the catalogue YAML that maps them.

`机构清单.xlsx` (branches: a workbook with a title row above its Chinese header) and
`理赔清单_YYYY.csv` (claims, one file a year): GBK, Chinese headers, dates as `2015/03/01`,
amounts as `12,345.60`, booleans as 是/否.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from kpitool.output import atomic_path, atomic_write
from kpitool.xlsx import Styles, display_width, workbook

__all__ = ["BRANCH_HEADERS", "CLAIM_HEADERS", "write_branch_workbook", "write_raw_exports"]

BRANCH_HEADERS = {
    "机构代码": "branch_id",
    "机构名称": "branch_name",
    "上级机构": "parent_id",
    "机构级别": "level",
}
CLAIM_HEADERS = {
    "赔案号": "claim_id",
    "保单号": "policy_id",
    "机构代码": "branch_id",
    "渠道": "channel",
    "业务员代码": "agent_id",
    "险种类别": "product_line",
    "出险类型": "claim_type",
    "出险日期": "incident_date",
    "报案日期": "reported_at",
    "结案日期": "closed_at",
    "报案金额": "claimed_amount",
    "赔付金额": "paid_amount",
    "理赔费用": "expense_amount",
    "是否调查": "investigated",
    "调查结论阳性": "investigation_positive",
    "调查员": "investigator_id",
}
_CATALOGUE = """\
# How this core system's exports map onto kpitool's canonical datasets.
datasets:
  branches:
    path: 机构清单.xlsx
    format: xlsx
    sheet: 机构清单
    header_row: 2  # row 1 is the title
    columns:
{branch_columns}
  claims:
    path: 理赔清单_*.csv
    format: csv
    encoding: gbk
    columns:
{claim_columns}
    date_format: "%Y/%m/%d"
    thousands: ","
    booleans: {{true: [是], false: [否]}}
    nulls: [""]
"""


def _money(column: str) -> pl.Expr:
    """12345.6 -> "12,345.60" (the way the claims system prints amounts)."""
    cents = (pl.col(column) * 100).round().cast(pl.Int64)
    whole = (cents // 100).cast(pl.String)
    grouped = whole.str.reverse().str.replace_all(r"(\d{3})(\d)", "$1,$2").str.reverse()
    fraction = (cents % 100).cast(pl.String).str.zfill(2)
    return (
        pl.when(pl.col(column).is_null())
        .then(None)
        .otherwise(grouped + "." + fraction)
        .alias(column)
    )


def _yes_no(column: str) -> pl.Expr:
    return (
        pl.when(pl.col(column))
        .then(pl.lit("是"))
        .when(pl.col(column).not_())
        .then(pl.lit("否"))
        .alias(column)
    )


def _csv_bytes(frame: pl.DataFrame) -> bytes:
    return frame.write_csv().encode("gbk")


def _indent(mapping: dict[str, str]) -> str:
    return "\n".join(f"      {source}: {canonical}" for source, canonical in mapping.items())


def write_branch_workbook(target: Path, branches: pl.DataFrame) -> Path:
    """The branch list as the core system hands it out: a sheet 机构清单 whose row 1 is a
    merged title and row 2 the Chinese header."""
    columns = list(BRANCH_HEADERS.values())
    with atomic_path(target) as tmp:
        book = workbook(tmp)
        book.set_properties({"created": dt.datetime(2015, 1, 1)})  # same seed, same bytes
        styles = Styles(book)
        sheet = book.add_worksheet("机构清单")
        sheet.merge_range(0, 0, 0, len(columns) - 1, "机构清单(核心系统导出)", styles.title)
        for col, header in enumerate(BRANCH_HEADERS):
            sheet.write_string(1, col, header, styles.header)
            sheet.set_column(col, col, max(display_width(header), 12) + 2)
        for row, values in enumerate(branches.select(columns).iter_rows(), start=2):
            for col, value in enumerate(values):
                if value is not None:
                    sheet.write_string(row, col, str(value), styles.text)
        book.close()
    return target


def write_raw_exports(folder: Path, branches: pl.DataFrame, claims: pl.DataFrame) -> list[Path]:
    """Write the exports (a workbook and GBK CSV files) and `catalogue.yaml` into `folder`;
    return the files."""
    files = [write_branch_workbook(folder / "机构清单.xlsx", branches)]
    dates = ["incident_date", "reported_at", "closed_at"]
    exported = (
        claims.with_columns(
            *(pl.col(c).dt.strftime("%Y/%m/%d") for c in dates),
            *(_money(c) for c in ("claimed_amount", "paid_amount", "expense_amount")),
            *(_yes_no(c) for c in ("investigated", "investigation_positive")),
        )
        .select(list(CLAIM_HEADERS.values()))
        .rename({v: k for k, v in CLAIM_HEADERS.items()})
    )
    years = claims["reported_at"].dt.year()
    for year in sorted(years.unique().to_list()):
        part = exported.filter(years == year)
        files.append(atomic_write(folder / f"理赔清单_{year}.csv", _csv_bytes(part)))
    text = _CATALOGUE.format(
        branch_columns=_indent(BRANCH_HEADERS), claim_columns=_indent(CLAIM_HEADERS)
    )
    files.append(atomic_write(folder / "catalogue.yaml", text))
    return files
