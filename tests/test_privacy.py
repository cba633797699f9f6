"""Masking of phones, names and ID numbers, column by column and inside free text."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpitool.data.privacy import Kind, mask_expr, mask_frame, mask_text, sensitive_kind


@pytest.mark.parametrize(
    ("value", "kind", "masked"),
    [
        ("13812345678", "phone", "138****5678"),
        ("0516-83881234", "phone", "051****1234"),
        ("1234567", "phone", "****"),
        ("张三", "name", "张*"),
        ("欧阳小明", "name", "欧***"),
        ("李", "name", "*"),
        ("320102198001011234", "id", "320***********1234"),
        ("H020006187", "id", "H02***6187"),
        ("PA1", "id", "****"),
        (None, "phone", None),
    ],
)
def test_mask_text(value: str | None, kind: Kind, masked: str | None) -> None:
    assert mask_text(value, kind) == masked


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        ("phone", "phone"),
        ("agent_phone", "phone"),
        ("name", "name"),
        ("agent_name", "name"),
        ("person_id", "id"),
        ("policyholder_id", "id"),
        ("branch_name", None),
        ("counter_name", None),
        ("policy_id", None),
        ("phone_policyholders", None),
    ],
)
def test_sensitive_columns_by_name(column: str, kind: str | None) -> None:
    assert sensitive_kind(column) == kind


@given(
    st.lists(st.none() | st.text(max_size=25), max_size=20),
    st.sampled_from(["phone", "name", "id"]),
)
def test_the_vectorised_mask_agrees_with_the_scalar_one(
    values: list[str | None], kind: Kind
) -> None:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    assert frame.select(mask_expr("v", kind)).to_series().to_list() == [
        mask_text(v, kind) for v in values
    ]


def test_mask_frame_masks_by_column_and_numbers_inside_free_text() -> None:
    frame = pl.DataFrame(
        {
            "branch_id": ["B1"],
            "policy_id": ["13800005678"],  # an id that looks like a phone stays readable
            "phone": ["13800005678"],
            "agent_name": ["王小明"],
            "policyholder_id": ["320102198001011234"],
            "note": ["客户电话13800005678,13900001234;证件32010219800101123X"],
            "branch_name": ["市区营业部"],
            "count": [3],
        }
    )
    row = mask_frame(frame).row(0, named=True)
    assert row == {
        "branch_id": "B1",
        "policy_id": "13800005678",
        "phone": "138****5678",
        "agent_name": "王**",
        "policyholder_id": "320***********1234",
        "note": "客户电话138****5678,139****1234;证件320***********123X",
        "branch_name": "市区营业部",
        "count": 3,
    }


def test_longer_digit_runs_are_not_mistaken_for_phones() -> None:
    frame = pl.DataFrame({"note": ["流水号 138000056781234", "13800005678"]})
    assert mask_frame(frame)["note"].to_list() == ["流水号 138000056781234", "138****5678"]
