"""The part of the ObjectAPI's OData-like query language the fake Unit4 server needs.

``filter``: comparisons (``eq ne gt ge lt le``) of a property path (``a/b``) with a
literal (``'text'`` with ``''`` for a quote, a number, ``true``/``false``/``null``
or an unquoted timestamp such as ``2025-04-25T23:33:01.053Z``), combined with
``and``, ``or``, ``not`` and parentheses. ``orderBy``: property paths, each
optionally followed by ``asc`` or ``desc``. Anything else is a :class:`QueryError`,
which the fake answers with 400, as Unit4 does.

>>> matches(parse_filter("status eq 'N' and not (dateTo lt 2026-01-01T00:00:00Z)"),
...         {"status": "N", "dateTo": "2026-06-30T00:00:00Z"})
True
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["Expression", "QueryError", "matches", "order", "parse_filter", "parse_order"]

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')"
    r"|(?P<stamp>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<paren>[()])"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*))"
)
_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: bool(a == b),
    "ne": lambda a, b: bool(a != b),
    "gt": lambda a, b: bool(a > b),
    "ge": lambda a, b: bool(a >= b),
    "lt": lambda a, b: bool(a < b),
    "le": lambda a, b: bool(a <= b),
}
_LITERAL_WORDS: dict[str, object] = {"true": True, "false": False, "null": None}
MAX_FILTER_LENGTH = 2_000


class QueryError(ValueError):
    """A filter or orderBy the fake (and Unit4) cannot read."""


@dataclass(frozen=True)
class Expression:
    """A parsed filter: an operator with operands (paths, literals, expressions)."""

    operator: str
    operands: tuple[object, ...]


@dataclass(frozen=True)
class _Path:
    steps: tuple[str, ...]


def _tokens(text: str) -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise QueryError(f"cannot read the filter at character {position}")
        kind = match.lastgroup or ""
        raw = match.group(kind)
        if kind == "string":
            found.append(("literal", raw[1:-1].replace("''", "'")))
        elif kind == "stamp":
            try:
                found.append(("literal", datetime.fromisoformat(raw)))
            except ValueError:
                raise QueryError(f"{raw} is not a timestamp") from None
        elif kind == "number":
            found.append(("literal", float(raw) if "." in raw else int(raw)))
        elif kind == "word" and raw in _LITERAL_WORDS:
            found.append(("literal", _LITERAL_WORDS[raw]))
        else:
            found.append((kind, raw))
        position = match.end()
    return found


class _Parser:
    def __init__(self, tokens: list[tuple[str, object]]) -> None:
        self.tokens = tokens
        self.at = 0

    def peek(self) -> tuple[str, object] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, object]:
        token = self.peek()
        if token is None:
            raise QueryError("the filter ends too early")
        self.at += 1
        return token

    def either(self) -> object:
        left = self.both()
        while self.peek() == ("word", "or"):
            self.take()
            left = Expression("or", (left, self.both()))
        return left

    def both(self) -> object:
        left = self.unary()
        while self.peek() == ("word", "and"):
            self.take()
            left = Expression("and", (left, self.unary()))
        return left

    def unary(self) -> object:
        if self.peek() == ("word", "not"):
            self.take()
            return Expression("not", (self.unary(),))
        if self.peek() == ("paren", "("):
            self.take()
            inner = self.either()
            if self.take() != ("paren", ")"):
                raise QueryError("a parenthesis is not closed")
            return inner
        return self.comparison()

    def comparison(self) -> Expression:
        kind, path = self.take()
        if kind != "word":
            raise QueryError("a comparison must start with a property")
        kind, operator = self.take()
        if kind != "word" or operator not in _COMPARISONS:
            raise QueryError(f"unknown operator {operator!r}")
        kind, literal = self.take()
        if kind != "literal":
            raise QueryError("a property must be compared with a value")
        return Expression(str(operator), (_Path(tuple(str(path).split("/"))), literal))


def parse_filter(text: str) -> Expression:
    """Parse a filter expression; raises :class:`QueryError` if it cannot be read."""
    if len(text) > MAX_FILTER_LENGTH:
        raise QueryError(f"the filter is longer than {MAX_FILTER_LENGTH} characters")
    parser = _Parser(_tokens(text))
    expression = parser.either()
    if parser.peek() is not None or not isinstance(expression, Expression):
        raise QueryError("the filter has more after its end")
    return expression


def _lookup(document: Mapping[str, Any], steps: Sequence[str]) -> object:
    value: object = document
    for step in steps:
        value = value.get(step) if isinstance(value, Mapping) else None
    return value


def _comparable(value: object, literal: object) -> object:
    """A document value in the literal's type (a timestamp string as a datetime)."""
    if isinstance(literal, datetime) and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return value


def matches(expression: Expression, document: Mapping[str, Any]) -> bool:
    """Whether a document satisfies a parsed filter."""
    operator, operands = expression.operator, expression.operands
    results = [matches(e, document) for e in operands if isinstance(e, Expression)]
    if operator == "and":
        return all(results)
    if operator == "or":
        return any(results)
    if operator == "not":
        return not results[0]
    path, literal = operands
    assert isinstance(path, _Path)  # noqa: S101 - the parser builds it so
    value = _comparable(_lookup(document, path.steps), literal)
    if operator not in ("eq", "ne") and (value is None or literal is None):
        return False
    try:
        return _COMPARISONS[operator](value, literal)
    except TypeError:
        return False


def parse_order(text: str) -> list[tuple[tuple[str, ...], bool]]:
    """Parse ``orderBy``: (path, descending) pairs."""
    keys: list[tuple[tuple[str, ...], bool]] = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or not _PATH.fullmatch(words[0]):
            raise QueryError(f"cannot order by {part.strip()!r}")
        if len(words) == 2 and words[1] not in ("asc", "desc"):
            raise QueryError(f"cannot order {words[1]!r}")
        keys.append((tuple(words[0].split("/")), len(words) == 2 and words[1] == "desc"))
    return keys


def order(
    documents: Sequence[Mapping[str, Any]], keys: Sequence[tuple[tuple[str, ...], bool]]
) -> list[Mapping[str, Any]]:
    """Documents sorted by ``keys`` (missing values first, as SQL sorts nulls)."""
    result = list(documents)
    for steps, descending in reversed(keys):
        result.sort(key=lambda d: _sort_key(_lookup(d, steps)), reverse=descending)
    return result


def _sort_key(value: object) -> tuple[int, str]:
    if value is None:
        return (0, "")
    return (1, value if isinstance(value, str) else repr(value))
