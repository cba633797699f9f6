"""Settings, rules and catalogues nested absurdly deep or not UTF-8: one `Error:` line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from builders import DEFAULT_BRANCHES, write_dataset

DEEP = 100_000


def test_rules_nested_100000_deep(cli, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "deep.yaml").write_text("x: " + "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8")
    result = cli("rules", "validate", "--rules", str(rules))
    assert result.exit_code == 2
    assert result.stderr == f"Error: {rules / 'deep.yaml'}: nested too deeply to be a rules file\n"


def test_catalogue_nested_100000_deep(cli, tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    catalogue = tmp_path / "catalogue.yaml"
    catalogue.write_text("datasets: " + "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8")
    result = cli("data", "check", "--data", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr == f"Error: {catalogue}: nested too deeply to be a catalogue\n"


def test_settings_nested_100000_deep(cli, tmp_path: Path) -> None:
    config = tmp_path / "kpitool.toml"
    config.write_text("a = " + "[" * DEEP + "]" * DEEP + "\n", encoding="utf-8")
    result = cli("--config", str(config), "config", "show")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {config}: nested too deeply to be a settings file\n"


def test_settings_not_utf8(cli, tmp_path: Path) -> None:
    config = tmp_path / "kpitool.toml"
    config.write_bytes(b'lang = "\xff\xfe"\n')
    result = cli("--config", str(config), "config", "show")
    assert result.exit_code == 2
    assert result.stderr == f"Error: {config}: not UTF-8 text (byte 8)\n"


RULE = """section: "9.9"
title: {{zh: "试", en: "Test"}}
rules:
  - id: claims.probe
    title: {{zh: "试", en: "Probe"}}
    description: {{zh: "试", en: "Probe"}}
    dataset: claims
    period: {{date: reported_at}}
    where: "{where}"
    measure: {{kind: share, condition: "closed_at IS NOT NULL"}}
    unit: rate
    target: {{op: ">=", value: 0.5}}
"""


@pytest.mark.parametrize(
    ("where", "construct"),
    [
        ("claim_id IN (SELECT claim_id FROM claims)", "subqueries are not allowed"),
        ("(SELECT 1) = 1", "subqueries are not allowed"),
        ("read_csv('/etc/passwd') IS NOT NULL", "READ_CSV"),
        ("REGEXP_LIKE(claim_id, 'c.*')", "REGEXP_LIKE"),
    ],
)
def test_rule_sql_outside_the_allow_list_fails_validation(
    cli, tmp_path: Path, where: str, construct: str
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "probe.yaml").write_text(RULE.format(where=where), encoding="utf-8")
    result = cli("rules", "validate", "--rules", str(rules))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {rules / 'probe.yaml'}: claims.probe: where:")
    assert construct in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_folder_with_the_same_month_as_csv_and_parquet_is_refused(cli, tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(tmp_path, "claims", [{"claim_id": "c1", "branch_id": "B1"}])
    folder = tmp_path / "claims"
    folder.mkdir()
    (tmp_path / "claims.parquet").rename(folder / "2015-03.parquet")
    (folder / "2015-03.csv").write_text(
        cli("query", "SELECT * FROM claims", "--data", str(tmp_path), "-f", "csv").stdout,
        encoding="utf-8",
    )
    result = cli("query", "SELECT COUNT(*) AS n FROM claims", "--data", str(tmp_path), "-f", "csv")
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: {folder}: 2015-03.csv and 2015-03.parquet hold the same part; keep one of them\n"
    )


def test_a_catalogue_glob_outside_its_folder_is_a_one_line_error(cli, tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    (tmp_path / "catalogue.yaml").write_text(
        "datasets:\n  claims:\n    path: /etc/*\n", encoding="utf-8"
    )
    result = cli("query", "SELECT COUNT(*) AS n FROM claims", "--data", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"Error: {tmp_path}: dataset claims: path '/etc/*': a pattern must be relative"
    )
    assert len(result.stderr.splitlines()) == 1
