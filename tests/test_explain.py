"""kpitool explain: a figure with the rows behind it."""

from __future__ import annotations

from pathlib import Path

from kpitool.api import explain

from builders import DEFAULT_BRANCHES, write_dataset


def _data(tmp_path: Path) -> Path:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path,
        "callbacks",
        [
            # B1: two successful callbacks on an agent's phone, one on a customer's, one failed.
            {
                "callback_id": "k1",
                "policy_id": "p1",
                "branch_id": "B1",
                "phone": "13800005678",
                "called_at": "2015-03-03 10:00:00",
                "success": True,
            },
            {
                "callback_id": "k2",
                "policy_id": "p2",
                "branch_id": "B1",
                "phone": "13800005678",
                "called_at": "2015-03-04 10:00:00",
                "success": True,
            },
            {
                "callback_id": "k3",
                "policy_id": "p3",
                "branch_id": "B1",
                "phone": "13900001111",
                "called_at": "2015-03-05 10:00:00",
                "success": True,
            },
            {
                "callback_id": "k4",
                "policy_id": "p4",
                "branch_id": "B1",
                "phone": "13800005678",
                "called_at": "2015-03-06 10:00:00",
                "success": False,
            },
        ],
    )
    write_dataset(
        tmp_path,
        "agents",
        [
            {
                "agent_id": "A1",
                "branch_id": "B1",
                "name": "王小明",
                "phone": "13800005678",
                "person_id": "320101198001011234",
                "channel": "individual",
                "status": "active",
            },
        ],
    )
    write_dataset(
        tmp_path,
        "policies",
        [
            {
                "policy_id": f"p{i}",
                "branch_id": "B1",
                "policyholder_id": f"H{i}",
                "agent_id": "A1",
                "channel": "individual",
                "product_line": "long",
                "applied_at": "2015-02-20",
                "status": "in_force",
            }
            for i in range(1, 5)
        ],
    )
    return tmp_path


def test_explain_gives_counts_and_rows(tmp_path: Path) -> None:
    found = explain("callbacks.agent_phone", "2015-03", _data(tmp_path), branch="B1")
    # population: 3 successful callbacks (k4 failed); numerator: k1 and k2 on the agent's phone.
    assert (found.result["denominator"], found.result["numerator"]) == (3.0, 2.0)
    assert found.result["status"] == "fail" and found.result["target"] == 0.0
    assert sorted(found.rows["callback_id"].to_list()) == ["k1", "k2"]
    assert {"phone", "agent_phone", "called_at"} <= set(found.rows.columns)


def test_explain_cli_masks_phones_by_default(cli, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")
    result = cli(
        "explain",
        "callbacks.agent_phone",
        "--month",
        "2015-03",
        "--data",
        str(_data(tmp_path)),
        "--lang",
        "en",
    )
    assert result.exit_code == 0, result.stderr
    assert "Population (denominator): 3" in result.stdout
    assert "Numerator: 2" in result.stdout
    assert "138****5678" in result.stdout and "13800005678" not in result.stdout
    unmasked = cli(
        "explain",
        "callbacks.agent_phone",
        "--month",
        "2015-03",
        "--data",
        str(tmp_path),
        "--unmask",
    )
    assert "13800005678" in unmasked.stdout
    assert "320101198001011234" in unmasked.stdout
    assert "320101198001011234" not in result.stdout and "320***********1234" in result.stdout


def test_explain_unknown_rule_suggests(cli, tmp_path: Path) -> None:
    result = cli(
        "explain", "callbacks.agent_phones", "--month", "2015-03", "--data", str(_data(tmp_path))
    )
    assert result.exit_code == 2
    assert "did you mean callbacks.agent_phone" in result.stderr
