"""What `query` accepts: one read-only SELECT over the datasets of `--data`, nothing else.

Polars SQL and Spark SQL can read any file the user running kpitool can (`read_csv('/etc/
passwd')`, `read_parquet('/x/*.parquet')`, Spark's `csv.`/path``) or change things
(`CREATE`, `INSERT`, `SET`). The query is tokenised as both dialects quote (so a name in a
string or a comment is not mistaken for a call) and refused before it runs.
"""

from __future__ import annotations

import re

from sqlglot.dialects.spark import Spark
from sqlglot.errors import TokenError
from sqlglot.tokenizer_core import Token, TokenType
from sqlglot.tokens import Tokenizer

from kpitool.errors import UsageError

__all__ = ["check_query"]

_READS_FILES = re.compile(r"^(read|scan)_\w+$", re.IGNORECASE)
_PATH_TABLES = {"csv", "json", "parquet", "orc", "text", "avro", "binaryfile", "delta", "xml"}
_STARTS = {TokenType.SELECT, TokenType.WITH, TokenType.L_PAREN}
_NAMES = {TokenType.VAR, TokenType.IDENTIFIER}
_REFUSED = "query: {what} reads files; only the datasets of --data are tables"


def _tokens(sql: str) -> list[list[Token]]:
    """The query's tokens as each dialect reads quotes (one that cannot read it is left out)."""
    found = []
    for tokenizer in (Tokenizer(), Spark.Tokenizer()):
        try:
            found.append(tokenizer.tokenize(sql))
        except TokenError:
            continue
    if not found:
        raise UsageError("query: cannot read the SQL (an unclosed quote or comment?)")
    return found


def _check(tokens: list[Token]) -> None:
    if not tokens:
        raise UsageError("query: no SQL given")
    if tokens[0].token_type not in _STARTS | _NAMES:  # a misspelt word: the engine says why
        raise UsageError(f"query: only SELECT (or WITH … SELECT) is allowed, not {tokens[0].text}")
    for i, token in enumerate(tokens):
        after = tokens[i + 1] if i + 1 < len(tokens) else None
        if token.token_type == TokenType.SEMICOLON and after is not None:
            raise UsageError("query: one statement only")
        if after is None:
            continue
        if after.token_type == TokenType.L_PAREN and _READS_FILES.match(token.text):
            raise UsageError(_REFUSED.format(what=f"{token.text}(…)"))
        if (
            token.text.lower() in _PATH_TABLES
            and token.token_type in _NAMES
            and after.token_type == TokenType.DOT
            and i + 2 < len(tokens)
            and tokens[i + 2].token_type == TokenType.IDENTIFIER
        ):
            raise UsageError(_REFUSED.format(what=f"{token.text}.`…`"))


def check_query(sql: str) -> None:
    """Refuse a query that is not one SELECT or that reads files (UsageError, one line)."""
    for tokens in _tokens(sql):
        _check(tokens)
