"""The subset of the Logs Insights query language the program's saved queries use.

Commands, separated by `|` (or new lines): `filter EXPR`, `fields F [as A], ...`,
`stats AGG(...) [as A], ... [by F, ...]`, `sort F [asc|desc], ...`, `limit N`. Expressions:
field names (`@timestamp`, `@log`, `@message`, JSON fields, backquoted names), string and number
literals, `ispresent(F)`, `coalesce(E, ...)`, comparisons (`= != < <= > >=`), `and`, `or`,
`not`, parentheses. Aggregates: `count(*)`, `count(F)`, `sum`, `avg`, `min`, `max`, `pct(F, P)`.
Anything else raises `QueryError` naming what is not supported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "Aggregate",
    "Call",
    "Command",
    "Compare",
    "Expr",
    "Field",
    "Literal",
    "Logical",
    "Not",
    "QueryError",
    "parse",
]

_TOKEN: Final = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<name>`[^`]+`|@?[A-Za-z_][A-Za-z0-9_.]*)
      | (?P<op><=|>=|!=|=|<|>|\(|\)|,|\*|\|)
    )""",
    re.VERBOSE,
)
_AGGREGATES: Final = frozenset({"count", "sum", "avg", "min", "max", "pct"})
_FUNCTIONS: Final = frozenset({"ispresent", "coalesce"})
_KEYWORDS: Final = frozenset({"and", "or", "not", "as", "by", "asc", "desc"})


class QueryError(ValueError):
    """The query uses something the local Logs Insights does not support (the message says what)."""


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Literal:
    value: str | float


@dataclass(frozen=True)
class Call:
    function: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Compare:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Logical:
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    operand: Expr


Expr = Field | Literal | Call | Compare | Logical | Not


@dataclass(frozen=True)
class Aggregate:
    function: str
    field: str | None
    """None: `count(*)`."""
    rank: float | None = None
    """`pct`'s percentile."""


@dataclass
class Command:
    """One stage of the pipeline."""

    kind: str
    expr: Expr | None = None
    """`filter`'s condition."""
    columns: list[tuple[str, Expr | Aggregate]] = field(default_factory=list)
    """`fields` and `stats`: (output name, what it is)."""
    by: list[str] = field(default_factory=list)
    order: list[tuple[str, bool]] = field(default_factory=list)
    """`sort`: (field, descending)."""
    limit: int = 0


def _tokens(text: str) -> list[tuple[str, str]]:
    out, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise QueryError(f"unsupported syntax at {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self._tokens = tokens
        self._at = 0

    def peek(self) -> tuple[str, str] | None:
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise QueryError("the query ends too early")
        self._at += 1
        return token

    def accept(self, value: str) -> bool:
        token = self.peek()
        if token is not None and token[1].lower() == value and token[0] in ("name", "op"):
            self._at += 1
            return True
        return False

    def expect(self, value: str) -> None:
        if not self.accept(value):
            token = self.peek()
            raise QueryError(f"expected {value!r}, found {token[1] if token else 'the end'!r}")

    def done(self) -> bool:
        token = self.peek()
        return token is None or token == ("op", "|")

    def name(self) -> str:
        kind, value = self.take()
        if kind != "name" or value.lower() in _KEYWORDS:
            raise QueryError(f"expected a field name, found {value!r}")
        return value.strip("`")

    def expression(self) -> Expr:
        left = self.conjunction()
        while self.accept("or"):
            left = Logical("or", left, self.conjunction())
        return left

    def conjunction(self) -> Expr:
        left = self.negation()
        while self.accept("and"):
            left = Logical("and", left, self.negation())
        return left

    def negation(self) -> Expr:
        if self.accept("not"):
            return Not(self.negation())
        return self.comparison()

    def comparison(self) -> Expr:
        left = self.operand()
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in ("=", "!=", "<", "<=", ">", ">="):
            self.take()
            return Compare(token[1], left, self.operand())
        return left

    def operand(self) -> Expr:
        kind, value = self.take()
        if kind == "string":
            return Literal(bytes(value[1:-1], "utf-8").decode("unicode_escape"))
        if kind == "number":
            return Literal(float(value))
        if kind == "op" and value == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if kind == "name" and value.lower() not in _KEYWORDS:
            if self.accept("("):
                function = value.lower()
                if function not in _FUNCTIONS:
                    raise QueryError(f"function {value}() is not supported locally")
                args = [self.expression()]
                while self.accept(","):
                    args.append(self.expression())
                self.expect(")")
                if function == "ispresent" and (len(args) != 1 or not isinstance(args[0], Field)):
                    raise QueryError("ispresent() takes one field")
                return Call(function, tuple(args))
            return Field(value.strip("`"))
        raise QueryError(f"unexpected {value!r}")

    def aggregate(self) -> Aggregate:
        kind, value = self.take()
        function = value.lower()
        if kind != "name" or function not in _AGGREGATES:
            raise QueryError(f"stats function {value!r} is not supported locally")
        self.expect("(")
        if function == "count" and self.accept("*"):
            self.expect(")")
            return Aggregate("count", None)
        name = self.name()
        rank = None
        if function == "pct":
            self.expect(",")
            kind, number = self.take()
            if kind != "number" or not 0 <= float(number) <= 100:
                raise QueryError(f"pct() needs a percentile from 0 to 100, not {number!r}")
            rank = float(number)
        self.expect(")")
        return Aggregate(function, name, rank)


def _alias(parser: _Parser, default: str) -> str:
    return parser.name() if parser.accept("as") else default


def _command(parser: _Parser) -> Command:
    kind, word = parser.take()
    verb = word.lower()
    if kind != "name":
        raise QueryError(f"expected a command, found {word!r}")
    if verb == "filter":
        return Command("filter", expr=parser.expression())
    if verb == "fields":
        command = Command("fields")
        while True:
            start = parser._at
            expr = parser.expression()
            default = expr.name if isinstance(expr, Field) else _text(parser, start)
            command.columns.append((_alias(parser, default), expr))
            if not parser.accept(","):
                return command
    if verb == "stats":
        command = Command("stats")
        while True:
            start = parser._at
            aggregate = parser.aggregate()
            command.columns.append((_alias(parser, _text(parser, start)), aggregate))
            if not parser.accept(","):
                break
        if parser.accept("by"):
            command.by.append(parser.name())
            while parser.accept(","):
                command.by.append(parser.name())
        return command
    if verb == "sort":
        command = Command("sort")
        while True:
            name = parser.name()
            descending = parser.accept("desc")
            if not descending:
                parser.accept("asc")
            command.order.append((name, descending))
            if not parser.accept(","):
                return command
    if verb == "limit":
        kind, value = parser.take()
        if kind != "number" or not value.isdigit() or int(value) < 1:
            raise QueryError(f"limit needs a positive whole number, not {value!r}")
        return Command("limit", limit=int(value))
    raise QueryError(f"command {word!r} is not supported locally")


def _text(parser: _Parser, start: int) -> str:
    """The source text of the tokens from `start` to here (CloudWatch's default column name)."""
    parts: Iterator[str] = (value for _, value in parser._tokens[start : parser._at])
    text = ""
    for part in parts:
        text += part if part in ("(", ")", ",") or text.endswith("(") else f" {part}"
    return text.strip().replace(" ,", ",")


def parse(query: str) -> list[Command]:
    """The pipeline of `query`; QueryError for anything outside the supported subset."""
    # Commands are separated by `|`; new lines are white space (comments start with `#`).
    text = " ".join(line for line in query.splitlines() if not line.strip().startswith("#"))
    parser = _Parser(_tokens(text))
    commands = []
    while parser.peek() is not None:
        commands.append(_command(parser))
        if not parser.done():
            raise QueryError(f"unexpected {parser.take()[1]!r} after {commands[-1].kind}")
        parser.accept("|")
    if not commands:
        raise QueryError("the query is empty")
    return commands
