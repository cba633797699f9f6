"""An unknown branch, rule or grain is exit 2 naming the known ones, in every command and in
the library API, instead of an empty result."""

from __future__ import annotations

from pathlib import Path

import pytest

import kpitool
from kpitool.errors import UsageError

from builders import DEFAULT_BRANCHES, write_dataset


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """Two branches, one March claim and one counter visit."""
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path,
        "claims",
        [
            {
                "claim_id": "c1",
                "branch_id": "B1",
                "reported_at": "2015-03-02",
                "closed_at": "2015-03-05",
            }
        ],
    )
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ("evaluate", "--month", "2015-03", "--branch", "NOPE"),
        ("explain", "claims.closed_within_5d_rate", "--month", "2015-03", "--branch", "NOPE"),
        ("exceptions", "claims.mandatory_investigation", "--month", "2015-03", "--branch", "NOPE"),
    ],
)
def test_an_unknown_branch_is_exit_2_listing_the_known(
    cli, data: Path, args: tuple[str, ...]
) -> None:
    result = cli(*args, "--data", str(data))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --branch 'NOPE': not a branch in branches (known: B1, B2)"
    )


def test_a_branch_in_the_wrong_case_suggests_the_right_one(cli, data: Path) -> None:
    result = cli(
        "exceptions",
        "claims.mandatory_investigation",
        "-m",
        "2015-03",
        "-b",
        "b2",
        "--data",
        str(data),
    )
    assert result.exit_code == 2
    assert "did you mean B2?" in result.stderr


def test_by_a_grain_no_chosen_rule_has_is_exit_2(cli, data: Path) -> None:
    result = cli(
        "evaluate", "-m", "2015-03", "--rule", "claims.", "--by", "counter", "--data", str(data)
    )
    assert result.exit_code == 2
    assert "--by counter: no chosen rule has a counter" in result.stderr


def test_by_branch_is_refused(cli, data: Path) -> None:
    result = cli("evaluate", "-m", "2015-03", "--by", "branch", "--data", str(data))
    assert result.exit_code == 2
    assert "--by branch: branch rows are always shown" in result.stderr


def test_an_unknown_rule_lists_the_known_ones(cli, data: Path) -> None:
    result = cli("evaluate", "-m", "2015-03", "--rule", "zzz", "--data", str(data))
    assert result.exit_code == 2
    assert "unknown rule id 'zzz' (known: counter.queue_time_avg," in result.stderr


def test_the_library_refuses_an_unknown_branch_too(data: Path) -> None:
    with pytest.raises(UsageError, match="not a branch"):
        kpitool.evaluate("2015-03", data, branches=["B9"])
    with pytest.raises(UsageError, match="expected one of counter, channel, agent"):
        kpitool.evaluate("2015-03", data, by=["desk"])
