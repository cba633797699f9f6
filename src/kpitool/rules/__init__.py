"""KPI rules as data: the typed model of a rule file, its loader and checks, and the SQL
subset rule expressions are written in."""

from kpitool.rules.loader import load_rules, rule_yaml
from kpitool.rules.model import Rule, RuleSet

__all__ = ["Rule", "RuleSet", "load_rules", "rule_yaml"]
