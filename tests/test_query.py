"""kpitool query: SQL over the datasets by canonical name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import DEFAULT_BRANCHES, write_dataset


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path,
        "claims",
        [
            {"claim_id": "c1", "branch_id": "B1", "claimed_amount": 100.5},
            {"claim_id": "c2", "branch_id": "B1", "claimed_amount": 200.0},
            {"claim_id": "c3", "branch_id": "B2", "claimed_amount": 50.25},
        ],
    )
    return tmp_path


def test_query_joins_datasets_by_name(cli, data_dir: Path) -> None:
    result = cli(
        "query",
        "SELECT b.branch_name, COUNT(*) AS n, SUM(c.claimed_amount) AS total "
        "FROM claims c JOIN branches b ON c.branch_id = b.branch_id "
        "GROUP BY b.branch_name ORDER BY n DESC",
        "--data",
        str(data_dir),
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == [
        {"branch_name": "市区营业部", "n": 2, "total": 300.5},
        {"branch_name": "丰县支公司", "n": 1, "total": 50.25},
    ]


def test_query_limit_and_csv(cli, data_dir: Path) -> None:
    result = cli(
        "query",
        "SELECT claim_id FROM claims ORDER BY claim_id",
        "--data",
        str(data_dir),
        "--limit",
        "2",
        "--format",
        "csv",
    )
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["claim_id", "c1", "c2"]


def test_query_table_output(cli, data_dir: Path) -> None:
    result = cli(
        "query", "SELECT claim_id FROM claims WHERE branch_id = 'B2'", "--data", str(data_dir)
    )
    assert result.exit_code == 0 and "c3" in result.stdout and "(1 rows)" not in result.stdout


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC * FROM claims", "Error: query: sql parser error"),
        ("SELECT nope FROM claims", 'Error: query: unable to find column "nope"'),
        (
            "SELECT * FROM claim",
            "Error: query: relation 'claim' was not found (tables: branches, claims)",
        ),
    ],
)
def test_query_errors_are_one_line_exit_2(cli, data_dir: Path, sql: str, message: str) -> None:
    result = cli("query", sql, "--data", str(data_dir))
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("sql", "refused"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "read_csv(…) reads files"),
        ("SELECT * FROM \"read_csv\"('/etc/passwd')", "read_csv(…) reads files"),
        ("select * from READ_PARQUET ('/tmp/*.parquet')", "READ_PARQUET(…) reads files"),
        ("SELECT * FROM read_ipc('/no/such/file')", "read_ipc(…) reads files"),
        (
            "SELECT * FROM claims WHERE claim_id IN (SELECT a FROM read_ndjson('/x'))",
            "read_ndjson(…) reads files",
        ),
        ("SELECT * FROM csv.`/etc/passwd`", "csv.`…` reads files"),
        ("CREATE TABLE x AS SELECT 1", "only SELECT (or WITH … SELECT) is allowed, not CREATE"),
        ("SELECT 1; SELECT * FROM read_csv('/etc/passwd')", "one statement only"),
        ("SELECT 1 AS a; SELECT 2 AS b", "one statement only"),
    ],
)
def test_query_refuses_what_reads_files_or_is_not_one_select(
    cli, data_dir: Path, sql: str, refused: str
) -> None:
    result = cli("query", sql, "--data", str(data_dir), "--format", "csv")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: query: {refused}")
    assert len(result.stderr.splitlines()) == 1


def test_a_file_name_inside_a_string_or_comment_is_not_refused(cli, data_dir: Path) -> None:
    result = cli(
        "query",
        "SELECT 'read_csv(x)' AS note, claim_id FROM claims WHERE claim_id = 'c3' -- read_csv(",
        "--data",
        str(data_dir),
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["note,claim_id", "read_csv(x),c3"]


def test_query_masks_personal_data_unless_unmask(cli, tmp_path: Path) -> None:
    write_dataset(tmp_path, "branches", DEFAULT_BRANCHES)
    write_dataset(
        tmp_path,
        "callbacks",
        [{"callback_id": "k1", "branch_id": "B1", "phone": "13812345678"}],
    )
    sql = "SELECT phone, phone AS p FROM callbacks"
    masked = cli("query", sql, "--data", str(tmp_path), "--format", "csv")
    assert masked.exit_code == 0, masked.stderr
    assert masked.stdout.splitlines() == ["phone,p", "138****5678,138****5678"]
    shown = cli("query", sql, "--data", str(tmp_path), "--format", "csv", "--unmask")
    assert shown.stdout.splitlines() == ["phone,p", "13812345678,13812345678"]


ALIASED = (
    "SELECT phone AS x_id, name AS label, substr(person_id, 1, 18) AS ref_no, "
    "phone || '' AS p2 FROM agents"
)


def _agents(folder: Path) -> None:
    write_dataset(folder, "branches", DEFAULT_BRANCHES)
    write_dataset(
        folder,
        "agents",
        [
            {
                "agent_id": "A1",
                "branch_id": "B1",
                "name": "王小明",
                "phone": "13812345678",
                "person_id": "320102198001011234",
            }
        ],
    )


def test_masking_follows_the_data_not_the_output_name(cli, tmp_path: Path) -> None:
    _agents(tmp_path)
    masked = cli("query", ALIASED, "--data", str(tmp_path), "--format", "csv")
    assert masked.exit_code == 0, masked.stderr
    assert masked.stdout.splitlines() == [
        "x_id,label,ref_no,p2",
        "138****5678,王**,320***********1234,138****5678",
    ]
    shown = cli("query", ALIASED, "--data", str(tmp_path), "--format", "csv", "--unmask")
    assert shown.stdout.splitlines()[1] == "13812345678,王小明,320102198001011234,13812345678"
