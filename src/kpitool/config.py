"""Settings: command line > `KPITOOL_*` environment > `kpitool.toml` > default, with provenance.

`kpitool.toml` is read from the working directory (or `--config FILE`); relative paths in it
are relative to the file. `kpitool config show` prints every effective value and its source.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kpitool.errors import ConfigError
from kpitool.resources import BUNDLED_DATA, BUNDLED_RULES

__all__ = ["SETTINGS", "Config", "Setting", "load_config"]

CONFIG_NAME = "kpitool.toml"
TABLES = ("spark",)
"""Tables kpitool.toml may hold besides the settings: [spark] for the Spark engine."""
ENV_PREFIX = "KPITOOL_"


@dataclass(frozen=True)
class _Spec:
    default: Any
    kind: type
    help: str
    choices: tuple[str, ...] = ()


SETTINGS: dict[str, _Spec] = {
    "data": _Spec(BUNDLED_DATA, Path, "data directory"),
    "rules": _Spec(BUNDLED_RULES, Path, "rules directory"),
    "out": _Spec(Path("out"), Path, "report output directory"),
    "catalogue": _Spec(None, Path, "catalogue YAML for real extracts"),
    "lang": _Spec("zh", str, "report and table language", ("zh", "en")),
    "format": _Spec("html,pdf", str, "report formats"),
    "templates": _Spec(None, Path, "report templates directory"),
    "engine": _Spec("polars", str, "evaluation engine", ("polars", "spark")),
    "spark_master": _Spec("local[*]", str, "Spark master URL"),
    "cache_size": _Spec("2G", str, "bound of the cache on disk (e.g. 2G, 500M)"),
}


@dataclass(frozen=True)
class Setting:
    """One effective value and where it came from."""

    name: str
    value: Any
    source: str


class Config:
    """The effective settings of one command run."""

    def __init__(
        self, settings: dict[str, Setting], extra: dict[str, Any], source: str = "default"
    ) -> None:
        self._settings = settings
        self.extra = extra
        """Other tables of kpitool.toml, e.g. [spark] settings passed through as spark.*."""
        self._source = source

    def __getitem__(self, name: str) -> Any:
        return self._settings[name].value

    def setting(self, name: str) -> Setting:
        return self._settings[name]

    def items(self) -> list[Setting]:
        """Every setting, then each spark.* key of kpitool.toml's [spark] table."""
        spark = [Setting(k, v, self._source) for k, v in self.spark_conf().items()]
        return [*self._settings.values(), *spark]

    def spark_conf(self) -> dict[str, str]:
        """kpitool.toml's [spark] table as Spark settings: nested tables joined with dots,
        every key under spark.*, values as Spark spells them (true, 8g, 20)."""
        return _flatten(self.extra.get("spark", {}), "spark.")


def _flatten(table: Mapping[str, Any], prefix: str) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = key if key.startswith(prefix) else f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return flat


def _convert(name: str, raw: Any, origin: str, base: Path | None) -> Any:
    spec = SETTINGS[name]
    if spec.kind is Path:
        if not isinstance(raw, str | Path) or not str(raw):
            raise ConfigError(f"{origin}: {name}: expected a path")
        path = Path(raw).expanduser()
        return (base / path) if base is not None and not path.is_absolute() else path
    if not isinstance(raw, str):
        raise ConfigError(f"{origin}: {name}: expected a string")
    if spec.choices and raw not in spec.choices:
        raise ConfigError(f"{origin}: {name}: {raw!r} is not one of {', '.join(spec.choices)}")
    return raw


def _read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a settings file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def load_config(
    config_file: Path | None = None,
    command_line: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Resolve every setting: command line > environment > file > default.

    `command_line` holds the options the user gave (None means not given).
    """
    environ = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    explicit = config_file or (
        Path(environ[f"{ENV_PREFIX}CONFIG"]) if environ.get(f"{ENV_PREFIX}CONFIG") else None
    )
    path = explicit or cwd / CONFIG_NAME
    if explicit is not None and not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    file_values = _read_file(path) if path.is_file() else {}
    extra = {k: v for k, v in file_values.items() if isinstance(v, dict)}
    unknown = sorted(k for k in file_values if k not in SETTINGS and k not in extra)
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(SETTINGS)})")
    tables = sorted(k for k in extra if k not in TABLES)
    if tables:
        raise ConfigError(f"{path}: unknown table [{tables[0]}] (known: {', '.join(TABLES)})")
    given = {k: v for k, v in (command_line or {}).items() if v is not None}
    for name, value in given.items():
        choices = SETTINGS[name].choices
        if choices and value not in choices:
            option = name.replace("_", "-")
            raise ConfigError(f"--{option} {value!r}: expected one of {', '.join(choices)}")
    settings: dict[str, Setting] = {}
    for name, spec in SETTINGS.items():
        env_name = f"{ENV_PREFIX}{name.upper()}"
        if name in given:
            value, source = given[name], "command line"
        elif environ.get(env_name):
            value = _convert(name, environ[env_name], env_name, None)
            source = f"environment {env_name}"
        elif name in file_values:
            value = _convert(name, file_values[name], str(path), path.parent)
            source = str(path)
        else:
            value, source = spec.default, "default"
        settings[name] = Setting(name, value, source)
    return Config(settings, extra, str(path))
