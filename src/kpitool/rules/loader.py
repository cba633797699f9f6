"""Loading rule files: YAML read safely, validated into the model, every expression checked.

A rules directory holds one YAML file per section of the work plan, each
`{section, title, rules: [...]}`; the set's version is a hash of the files' text.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from kpitool.errors import RuleError
from kpitool.resources import BUNDLED_RULES
from kpitool.rules.checks import check_rule
from kpitool.rules.expressions import ExpressionError, parse_expression
from kpitool.rules.model import Rule, RuleSet, Title, _Model

__all__ = ["load_rules", "rule_yaml"]


class _RuleFile(_Model):
    section: str
    title: Title
    rules: list[Rule]


def _format_validation_error(path: Path, raw: Any, error: ValidationError) -> str:
    first = error.errors()[0]
    loc = list(first["loc"])
    rule_id = ""
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = raw.get("rules") if isinstance(raw, dict) else None
        if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
            rule_id = str(rules[loc[1]].get("id", f"rules[{loc[1]}]"))
        loc = loc[2:]
    key = ".".join(str(part) for part in loc if not str(part).startswith("function-after"))
    message = first["msg"]
    if first["type"] == "literal_error":
        expected = first.get("ctx", {}).get("expected", "")
        message = f"expected one of {expected.replace(chr(39), '')}".replace(" or ", ", ")
    elif first["type"] == "extra_forbidden":
        message = "unknown key"
    where = ": ".join(part for part in (str(path), _shown(rule_id), _shown(key)) if part)
    return f"{where}: {message}"


def _shown(text: str) -> str:
    """What a user wrote, quoted and escaped when it holds line breaks or other control
    characters (so the message stays one line)."""
    return text if text.isprintable() else repr(text)


def _load_file(path: Path) -> _RuleFile:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RuleError(f"{path}:{line}: YAML syntax error: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RuleError(f"{path}: cannot read: {exc}") from None
    except RecursionError:
        raise RuleError(f"{path}: nested too deeply to be a rules file") from None
    if not isinstance(raw, dict):
        raise RuleError(f"{path}: expected a mapping with keys section, title, rules")
    try:
        parsed = _RuleFile.model_validate(raw)
    except ValidationError as exc:
        raise RuleError(_format_validation_error(path, raw, exc)) from None
    rules = [
        rule.model_copy(update={"section": rule.section or parsed.section}) for rule in parsed.rules
    ]
    return parsed.model_copy(update={"rules": rules})


def rule_yaml(rule: Rule) -> str:
    """A rule as YAML, the way it would be written in a rules file."""
    data = rule.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data = {"id": rule.id, **{k: v for k, v in data.items() if k != "id"}}
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def load_rules(path: Path | str | None = None) -> RuleSet:
    """Load and validate every `*.yaml` rule file of a directory (or one file)."""
    root = Path(path) if path is not None else BUNDLED_RULES
    if root.is_file():
        files = [root]
    elif root.is_dir():
        files = sorted(p for p in root.glob("*.yaml") if p.is_file())
    else:
        raise RuleError(f"{root}: rules directory not found")
    if not files:
        raise RuleError(f"{root}: no *.yaml rule files")
    digest = hashlib.sha256()
    rules: list[Rule] = []
    sections: dict[str, Title] = {}
    seen: dict[str, Path] = {}
    owners: dict[str, str] = {}
    for file in files:
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
        parsed = _load_file(file)
        sections[file.stem] = parsed.title
        for rule in parsed.rules:
            if rule.id in seen:
                raise RuleError(f"{file}: {rule.id}: id already defined in {seen[rule.id]}")
            seen[rule.id] = file
            owners[rule.id] = file.stem
            for key, text in rule.expressions().items():
                try:
                    parse_expression(text)
                except ExpressionError as exc:
                    raise RuleError(f"{file}: {rule.id}: {key}: {exc}") from None
            problem = check_rule(rule)
            if problem:
                raise RuleError(f"{file}: {rule.id}: {problem}")
            rules.append(rule)
    ruleset = RuleSet(rules, sections, digest.hexdigest(), files)
    ruleset.section_of.update(owners)
    return ruleset
