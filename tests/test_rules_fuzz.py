"""Random rule files: loading gives a rule set or a RuleError, never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kpitool.errors import RuleError
from kpitool.resources import BUNDLED_RULES
from kpitool.rules.loader import load_rules

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False),
    st.text(max_size=12),
    st.sampled_from(
        [
            "claims",
            "share",
            ">=",
            "<=",
            "month",
            "ytd",
            "investigated",
            "closed_at IS NULL",
            "a >",
            "COUNT(*)",
            ":period_end",
            "foo(x)",
            "lookup.x",
            "branch_id",
        ]
    ),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "title",
                    "dataset",
                    "measure",
                    "kind",
                    "target",
                    "op",
                    "value",
                    "where",
                    "period",
                    "date",
                    "by",
                    "condition",
                    "zh",
                    "en",
                    "lookups",
                    "rules",
                ]
            ),
            inner,
            max_size=4,
        ),
    ),
    max_leaves=12,
)


def _load_text(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.yaml"
        path.write_text(text, encoding="utf-8")
        try:
            load_rules(path)
        except RuleError as exc:
            message = str(exc)
            assert message.startswith(str(path)) and "\n" not in message


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text_is_a_rule_set_or_a_rule_error(text: str) -> None:
    _load_text(text)


@settings(max_examples=150, deadline=None)
@given(_values)
def test_random_yaml_structures(value: Any) -> None:
    _load_text(
        yaml.safe_dump(
            {"section": "9", "title": {"zh": "x", "en": "x"}, "rules": [value]}, allow_unicode=True
        )
    )


def _mutations() -> st.SearchStrategy[str]:
    base = (BUNDLED_RULES / "32_investigation.yaml").read_text(encoding="utf-8")
    lines = base.splitlines()
    return st.builds(
        lambda index, replacement: "\n".join([*lines[:index], replacement, *lines[index + 1 :]]),
        st.integers(0, len(lines) - 1),
        st.text(max_size=40),
    )


@settings(max_examples=150, deadline=None)
@given(_mutations())
def test_a_real_rule_file_with_one_line_changed(text: str) -> None:
    _load_text(text)


def test_yaml_object_tags_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.yaml"
    path.write_text(
        "!!python/object/apply:os.system ['touch /tmp/kpitool-pwned']\n", encoding="utf-8"
    )
    try:
        load_rules(path)
    except RuleError as exc:
        assert "YAML" in str(exc)
    assert not Path("/tmp/kpitool-pwned").exists()


def test_a_rule_id_with_a_line_break_is_quoted_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(
        'section: "1"\ntitle: {zh: t, en: t}\nrules:\n  - {id: "\\n"}\n', encoding="utf-8"
    )
    with pytest.raises(RuleError) as caught:
        load_rules(path)
    assert str(caught.value).startswith(f"{path}: '\\n': id: ")
    assert "\n" not in str(caught.value)
