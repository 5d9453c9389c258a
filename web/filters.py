"""Filters: which operators each kind of column takes, how values parse, what SQL they make.

The URL scheme is Datasette's: ``price__gte=100`` keeps rows whose price is at least 100,
``name__contains=acme`` those whose name contains "acme" (ignoring case). An enum column is
named bare and may repeat: ``exchange=NYSE&exchange=NASDAQ`` keeps either. A column's kind in
the spec (:class:`web.spec.Kind`) decides its operators, so a new column gets the right
filters by being declared.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table

from .spec import ColumnSpec, Kind


class InvalidFilter(ValueError):
    """A filter that cannot apply; the message says what to fix."""


class Op(enum.StrEnum):
    IN = "in"  # an enum column is one of the chosen values (named bare in the URL)
    CONTAINS = "contains"
    STARTSWITH = "startswith"
    EXACT = "exact"
    GTE = "gte"
    LTE = "lte"
    GT = "gt"
    LT = "lt"


OPS: dict[Kind, tuple[Op, ...]] = {
    Kind.ENUM: (Op.IN,),
    Kind.TEXT: (Op.CONTAINS, Op.STARTSWITH, Op.EXACT),
    Kind.NUMBER: (Op.GTE, Op.LTE, Op.GT, Op.LT),
    Kind.TIME: (Op.GTE, Op.LTE, Op.GT, Op.LT),
    Kind.BLOB: (),  # only its size leaves the database
    Kind.OTHER: (),  # booleans, JSON, UUIDs...: shown as their text, not filtered
}
"""The operators each kind of column takes, in the order the filter menu offers them."""

SYMBOLS = {
    Op.IN: "is",
    Op.CONTAINS: "contains",
    Op.STARTSWITH: "starts with",
    Op.EXACT: "=",
    Op.GTE: "≥",
    Op.LTE: "≤",
    Op.GT: ">",
    Op.LT: "<",
}
"""How a chip and the filter menu say each operator to people."""

SEPARATOR = "__"


def parameter(column: ColumnSpec, op: Op) -> str:
    """The URL parameter of a filter: the key bare for an enum, else ``key__op``."""
    return column.key if op is Op.IN else f"{column.key}{SEPARATOR}{op}"


@dataclass(frozen=True)
class Filter:
    """One filter of a view: a column, an operator and the value(s) as the URL gives them
    (checked; an enum's values in the spec's order)."""

    column: ColumnSpec
    op: Op
    values: tuple[str, ...]

    @property
    def parameter(self) -> str:
        return parameter(self.column, self.op)

    def describe(self) -> str:
        """For people, on the filter's chip: ``price ≥ 100``, ``sector is Energy or Materials``."""
        return f"{self.column.label} {SYMBOLS[self.op]} {' or '.join(self.values)}"

    def condition(self, table: Table) -> ColumnElement[bool]:
        column = table.c[self.column.key]
        if self.op is Op.IN:
            return column == self.values[0] if len(self.values) == 1 else column.in_(self.values)
        (text,) = self.values
        if self.op is Op.CONTAINS:
            return column.icontains(text, autoescape=True)
        if self.op is Op.STARTSWITH:
            return column.istartswith(text, autoescape=True)
        if self.op is Op.EXACT:
            return column == text
        value = _bound(self.column, text, end_of_day=self.op in (Op.LTE, Op.GT))
        if self.op is Op.GTE:
            return column >= value
        if self.op is Op.LTE:
            return column <= value
        if self.op is Op.GT:
            return column > value
        return column < value


def parse(column: ColumnSpec, op_name: str, values: list[str]) -> Filter:
    """The filter ``column__op_name`` with the given (non-empty, stripped) values."""
    ops = OPS[column.kind]
    try:
        op = Op(op_name)
    except ValueError:
        op = None
    if not ops:
        raise InvalidFilter(f"{column.key} is {_a(column.kind)}: it cannot be filtered")
    if op not in ops:
        choices = ", ".join(parameter(column, op) for op in ops)
        raise InvalidFilter(f"{column.key} is {_a(column.kind)}: filter it with {choices}")
    if op is Op.IN:
        unknown = [value for value in values if value not in column.choices]
        if unknown:
            raise InvalidFilter(f"{column.key} must be one of: {', '.join(column.choices)}")
        chosen = set(values)
        return Filter(column, op, tuple(c for c in column.choices if c in chosen))
    if len(set(values)) > 1:
        raise InvalidFilter(f"give {parameter(column, op)} at most once")
    (text,) = values[:1]
    if column.kind is Kind.NUMBER:
        _number(column, text)
    elif column.kind is Kind.TIME:
        _time(column, text, end_of_day=False)
    return Filter(column, op, (text,))


def _a(kind: Kind) -> str:
    return {
        Kind.ENUM: "a choice",
        Kind.TEXT: "text",
        Kind.NUMBER: "a number",
        Kind.TIME: "a time",
        Kind.BLOB: "binary data",
    }.get(kind, "of a type streamtable shows as text")


def _number(column: ColumnSpec, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or "_" in text:
        raise InvalidFilter(f"{column.key}: {text!r} is not a number (write it as 1500 or 12.5)")
    return value


def _time(column: ColumnSpec, text: str, end_of_day: bool) -> datetime:
    """A time as the database stores it (naive UTC, whole seconds). A date alone means the
    whole day: ``updated_at__lte=2026-11-30`` keeps the 30th, as a person would mean it."""
    # A "+" typed in an address bar arrives as a space: "...T10:00 02:00" meant +02:00.
    text = re.sub(r" (\d\d:?\d\d)$", r"+\1", text.replace("z", "Z"))
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidFilter(
            f"{column.key}: {text!r} is not a date or time (write it as 2026-11-30 or "
            "2026-11-30T14:05:00, in UTC)"
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    if end_of_day and len(text) == 10:  # a date alone: up to its last second
        value += timedelta(days=1, seconds=-1)
    return value.replace(microsecond=0)


def _bound(column: ColumnSpec, text: str, end_of_day: bool) -> Any:
    if column.kind is Kind.TIME:
        return _time(column, text, end_of_day)
    value = _number(column, text)
    return int(value) if value.is_integer() else value
