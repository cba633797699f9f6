"""Settings precedence: command line > environment > kpitool.toml > default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpitool.config import load_config
from kpitool.errors import ConfigError
from kpitool.resources import BUNDLED_DATA


def test_defaults_without_file_or_environment(tmp_path: Path) -> None:
    config = load_config(environ={}, cwd=tmp_path)
    assert config["data"] == BUNDLED_DATA
    assert config.setting("lang").source == "default"


def test_precedence_and_relative_paths(tmp_path: Path) -> None:
    (tmp_path / "kpitool.toml").write_text(
        'data = "extracts"\nlang = "en"\nout = "reports"\n', encoding="utf-8"
    )
    env = {"KPITOOL_LANG": "zh", "KPITOOL_OUT": "/srv/out"}
    config = load_config(
        command_line={"out": Path("cli-out"), "data": None}, environ=env, cwd=tmp_path
    )
    assert config["data"] == tmp_path / "extracts"  # file, relative to the file
    assert config.setting("data").source == str(tmp_path / "kpitool.toml")
    assert config["lang"] == "zh" and config.setting("lang").source == "environment KPITOOL_LANG"
    assert config["out"] == Path("cli-out") and config.setting("out").source == "command line"


def test_explicit_config_file_and_spark_table(tmp_path: Path) -> None:
    other = tmp_path / "conf" / "site.toml"
    other.parent.mkdir()
    other.write_text(
        'engine = "spark"\n[spark]\n"spark.executor.memory" = "4g"\n', encoding="utf-8"
    )
    config = load_config(other, environ={}, cwd=tmp_path)
    assert config["engine"] == "spark"
    assert config.extra == {"spark": {"spark.executor.memory": "4g"}}


def test_spark_table_flattens_to_spark_settings_and_is_shown(tmp_path: Path, cli) -> None:
    path = tmp_path / "kpitool.toml"
    path.write_text(
        '[spark]\n"executor.memory" = "8g"\n[spark.sql]\nadaptive.enabled = true\n'
        '"shuffle.partitions" = 16\n',
        encoding="utf-8",
    )
    assert load_config(path, environ={}).spark_conf() == {
        "spark.executor.memory": "8g",
        "spark.sql.adaptive.enabled": "true",
        "spark.sql.shuffle.partitions": "16",
    }
    shown = cli("--config", str(path), "config", "show", "--format", "json")
    rows = {r["setting"]: (r["value"], r["source"]) for r in json.loads(shown.stdout)}
    assert rows["spark.sql.shuffle.partitions"] == ("16", str(path))


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ('lang = "fr"\n', {}, "lang: 'fr' is not one of zh, en"),
        ('dta = "x"\n', {}, "unknown key 'dta'"),
        ("[sparks]\nx = 1\n", {}, r"unknown table \[sparks\] \(known: spark\)"),
        ("data = [\n", {}, "not valid TOML"),
        ("", {"KPITOOL_ENGINE": "duckdb"}, "KPITOOL_ENGINE: engine: 'duckdb' is not one of"),
    ],
)
def test_bad_settings_name_their_origin(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    (tmp_path / "kpitool.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(environ=env, cwd=tmp_path)


def test_missing_explicit_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", environ={}, cwd=tmp_path)


def test_config_show_reports_sources(cli, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "kpitool.toml").write_text('lang = "en"\nout = "reports"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KPITOOL_OUT", "/srv/kpi")
    result = cli("config", "show", "--format", "json")
    assert result.exit_code == 0, result.stderr
    rows = {r["setting"]: r for r in json.loads(result.stdout)}
    assert rows["lang"] == {
        "setting": "lang",
        "value": "en",
        "source": str(tmp_path / "kpitool.toml"),
    }
    assert rows["out"]["value"] == "/srv/kpi"
    assert rows["out"]["source"] == "environment KPITOOL_OUT"
    assert rows["engine"]["source"] == "default"


def test_settings_reach_commands_and_cli_wins(cli, tmp_path: Path, monkeypatch) -> None:
    rules = tmp_path / "my_rules"
    rules.mkdir()
    (rules / "one.yaml").write_text(
        "section: '9'\ntitle: {zh: 测试, en: Test}\nrules:\n"
        "  - id: claims.count_all\n    title: {zh: 赔案数, en: Claims}\n    dataset: claims\n"
        "    measure: {kind: count}\n    unit: count\n",
        encoding="utf-8",
    )
    config = tmp_path / "site.toml"
    config.write_text('rules = "my_rules"\n', encoding="utf-8")
    from_file = cli("--config", str(config), "rules", "validate")
    assert from_file.exit_code == 0 and "1 rules valid" in from_file.stdout
    monkeypatch.setenv("KPITOOL_RULES", str(tmp_path / "nowhere"))
    from_env = cli("--config", str(config), "rules", "validate")
    assert from_env.exit_code == 2 and "nowhere: rules directory not found" in from_env.stderr
    from_cli = cli("--config", str(config), "rules", "validate", "--rules", str(rules))
    assert from_cli.exit_code == 0


def test_bad_lang_option_is_a_usage_error(cli) -> None:
    result = cli("rules", "list", "--lang", "fr")
    assert result.exit_code == 2
    assert result.stderr.strip() == "Error: --lang 'fr': expected one of zh, en"
