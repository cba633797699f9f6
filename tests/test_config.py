"""Settings precedence: command line > environment > kpitool.toml > default."""

from __future__ import annotations

from pathlib import Path

import pytest

from kpitool.config import load_config
from kpitool.engine import BUNDLED_DATA
from kpitool.errors import ConfigError


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


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ('lang = "fr"\n', {}, "lang: 'fr' is not one of zh, en"),
        ('dta = "x"\n', {}, "unknown key 'dta'"),
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
