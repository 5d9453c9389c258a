"""What the user asked to see: parsed from the query string, turned into a select.

The query string is the whole API (``?sort=price&dir=desc&sector=Energy&price__gte=100``),
so every view can be bookmarked and shared. Its parameters come from the table's spec:
``sort`` and ``dir``; filters by each column's kind (:mod:`web.filters`: an enum column bare
and repeatable, ``price__gte``, ``name__contains``...); ``q`` for the columns the spec marks
as searched; ``cols`` for the columns shown. A parameter that names none of the table's
columns is ignored (``utm_source``); one that names a column badly (``price=5``,
``volume__contains``, ``nope__gte``) or has a bad value is refused with
:class:`InvalidView`, never guessed at.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, Select, or_, select
from werkzeug.datastructures import MultiDict

from .filters import OPS, SEPARATOR, SYMBOLS, Filter, InvalidFilter, Op, parameter
from .filters import parse as parse_filter
from .spec import Kind, Search, TableSpec

_QUERY_SAFE = "!$'()*,/:;?@"
"""What a query string leaves unescaped, as werkzeug's ``url_for`` does (the WHATWG URL
standard's query percent-encode set)."""


class InvalidView(ValueError):
    """A query string that names no valid view; the message says what to fix."""


FORM_FILTER = ("_filter_column", "_filter_op", "_filter_value")
"""The filter menu's fields (Datasette's names): a plain GET form cannot name a parameter
after a choice, so it sends these and the server turns them into ``column__op=value``."""


def parameters(table: TableSpec, max_search_length: int) -> dict[str, str]:
    """Every parameter a view of ``table`` takes, with what it means (for errors and docs)."""
    how = {Search.PREFIX: "starting with", Search.CONTAINS: "containing"}
    searched = " or ".join(f"{c.label_plural} {how[c.search]} it" for c in table.searched)
    described = {
        "sort": f"the column to sort by: {', '.join(table.sort_keys)}",
        "dir": "the sort direction: asc or desc",
    }
    for column in table.columns:
        for op in OPS[column.kind]:
            name = parameter(column, op)
            if op is Op.IN:
                described[name] = (
                    f"only {table.noun[1]} whose {column.label.lower()} is this (repeat it "
                    f"for several): {', '.join(column.choices)}"
                )
            else:
                described[name] = (
                    f"only {table.noun[1]} whose {column.label.lower()} {SYMBOLS[op]} this"
                )
    described["q"] = (
        f"search, up to {max_search_length} characters: {searched}, ignoring case"
        if searched
        else f"none: {table.title} has no text columns to search"
    )
    described["cols"] = f"the columns to show, comma-separated: {', '.join(table.keys)}"
    return described


@dataclass(frozen=True)
class View:
    spec: TableSpec
    sort: str
    descending: bool = False
    filters: tuple[Filter, ...] = ()  # in the spec's column order, then the operators'
    q: str | None = None
    cols: tuple[str, ...] | None = None  # the columns shown, in this order; None: all

    @classmethod
    def default(cls, spec: TableSpec) -> View:
        return cls(spec, spec.default_sort)

    @classmethod
    def from_args(cls, args: MultiDict[str, str], spec: TableSpec, max_search_length: int) -> View:
        """Parse and validate a query string. Empty values mean "not given"."""
        given = {name: _values(args, name) for name in args}
        single = {}
        for name in ("sort", "dir", "q"):
            values = given.pop(name, [])
            if len(set(values)) > 1:  # the same value twice is harmless (forms can repeat)
                raise InvalidView(f"give {name} at most once")
            if values:
                single[name] = values[0]
        sort = single.get("sort", spec.default_sort)
        if sort not in spec.sort_keys:
            raise InvalidView(f"sort must be one of: {', '.join(spec.sort_keys)}")
        direction = single.get("dir", "asc")
        if direction not in ("asc", "desc"):
            raise InvalidView("dir must be asc or desc")
        q = single.get("q")
        if q is not None:
            if len(q) > max_search_length:
                raise InvalidView(f"q must be at most {max_search_length} characters")
            if any(unicodedata.category(char)[0] == "C" for char in q):
                raise InvalidView("q must not contain control characters")
            if not spec.searched:
                raise InvalidView(f"{spec.title} has no text columns to search")
        cols = _columns(spec, given.pop("cols", []))
        _add_form_filter(spec, given)
        return cls(spec, sort, direction == "desc", _filters(spec, given), q, cols)

    # -- what the templates ask --------------------------------------------------------

    @cached_property
    def shown(self) -> TableSpec:
        """The table as this view shows it: only the chosen columns, in the chosen order."""
        return self.spec if self.cols is None else self.spec.showing(self.cols)

    def filter_values(self, key: str) -> tuple[str, ...]:
        """The values the view keeps of the enum column ``key`` (none: it does not filter)."""
        for kept in self.filters:
            if kept.column.key == key and kept.op is Op.IN:
                return kept.values
        return ()

    def args(self) -> dict[str, str | list[str]]:
        """The query string of this view, defaults left out: the canonical, shareable URL.
        A list is a parameter given once per value (an enum's several values)."""
        args: dict[str, str | list[str]] = {}
        if self.sort != self.spec.default_sort:
            args["sort"] = self.sort
        if self.descending:
            args["dir"] = "desc"
        for kept in self.filters:
            args[kept.parameter] = kept.values[0] if len(kept.values) == 1 else list(kept.values)
        if self.q:
            args["q"] = self.q
        if self.cols is not None:
            args["cols"] = ",".join(self.cols)
        return args

    def items(self) -> list[tuple[str, str]]:
        """:meth:`args` as (name, value) pairs, one per value."""
        return [
            (name, value)
            for name, values in self.args().items()
            for value in ([values] if isinstance(values, str) else values)
        ]

    def url(self, base: str) -> str:
        """This view's address at ``base`` (``url_for`` of its endpoint, without arguments),
        as ``url_for`` with :meth:`args` writes it. A page links to ~40 views (its facets,
        its headers): one ``url_for`` each took ~50 us, a tenth of a 15 ms first row."""
        items = self.items()
        return f"{base}?{urlencode(items, safe=_QUERY_SAFE)}" if items else base

    def sorted_by(self, key: str) -> View:
        """The view a click on ``key``'s header leads to: that column, or the other way."""
        if key == self.sort:
            return replace(self, descending=not self.descending)
        return replace(self, sort=key, descending=False)

    def without(self, dropped: Filter) -> View:
        """The view a click on a filter's chip leads to: the same, less that filter."""
        return replace(self, filters=tuple(kept for kept in self.filters if kept != dropped))

    def cleared(self) -> View:
        """ "Clear all": no filters and no search; the sort and the columns stay."""
        return replace(self, filters=(), q=None)

    def toggled(self, key: str, value: str) -> View:
        """The view a facet's value leads to: that value added to the column's filter, or
        taken out of it when the view already keeps it."""
        column = self.spec.column(key)
        kept = self.filter_values(key)
        values = [v for v in kept if v != value] if value in kept else [*kept, value]
        others = [f for f in self.filters if not (f.column.key == key and f.op is Op.IN)]
        chosen = [parse_filter(column, Op.IN, values)] if values else []
        return replace(self, filters=_in_order(self.spec, others + chosen))

    def conditions(self) -> list[ColumnElement[bool]]:
        """What a row must meet to be in this view: its filters and its search."""
        return list(self._conditions)

    @cached_property
    def _conditions(self) -> tuple[ColumnElement[bool], ...]:
        # Built once a view: a page asks for them ~6 times (count, estimate, plan), and
        # building them was a third of the ~5 ms spent before a search's first row.
        table = self.spec.table
        conditions = [kept.condition(table) for kept in self.filters]
        if self.q:
            # Measured on 1M SQLite rows (make bench): the first match of a common word
            # arrives in ~10 ms, of a rarer one in ~100 ms; a word that matches nothing costs a
            # full scan, ~3 s. A name prefix would use the index but miss "The Acme Fund".
            conditions.append(
                or_(
                    *(
                        table.c[column.key].istartswith(self.q, autoescape=True)
                        if column.search is Search.PREFIX
                        else table.c[column.key].icontains(self.q, autoescape=True)
                        for column in self.spec.searched
                    )
                )
            )
        return tuple(conditions)

    def statement(self) -> Select:
        """The rows of this view, in the column order the renderers expect: what the view
        is. How the database reads them fast is :mod:`web.planner`'s business."""
        return select(*self.shown.select_list()).where(*self.conditions()).order_by(*self.order())

    def order(self) -> list[ColumnElement]:
        """The sort column, then id (the spec's tiebreak: a reflected table's primary key,
        if any), so ties keep a stable order and the ``(column, id)`` index serves the first
        row at once (a unique column needs no id: PostgreSQL would plan an Incremental Sort
        on top of its index)."""
        table = self.spec.table
        order = [table.c[self.sort]]
        if not self.spec.column(self.sort).unique:
            order.extend(table.c[key] for key in self.spec.tiebreak if key != self.sort)
        return [column.desc() for column in order] if self.descending else order


def _values(args: MultiDict[str, str], name: str) -> list[str]:
    return [value.strip() for value in args.getlist(name) if value.strip()]


def _columns(spec: TableSpec, given: list[str]) -> tuple[str, ...] | None:
    keys = list(dict.fromkeys(key.strip() for value in given for key in value.split(",")))
    keys = [key for key in keys if key]
    if not keys:
        return None
    unknown = [key for key in keys if key not in spec.by_key]
    if unknown:
        raise InvalidView(f"cols: no column {unknown[0]!r}; the columns: {', '.join(spec.keys)}")
    return None if tuple(keys) == spec.keys else tuple(keys)


def _add_form_filter(spec: TableSpec, given: dict[str, list[str]]) -> None:
    """Turn the filter menu's three fields into the parameter they stand for."""
    key, op, value = ((given.pop(name, None) or [""])[0] for name in FORM_FILTER)
    if not (key and value):
        return  # the menu left empty: nothing to add
    if key not in spec.by_key:
        raise InvalidView(f"_filter_column: no column {key!r}; the columns: {', '.join(spec.keys)}")
    column = spec.column(key)
    op = op or OPS[column.kind][0]
    name = key if op == Op.IN else f"{key}{SEPARATOR}{op}"  # a wrong op is refused below
    given.setdefault(name, []).append(value)


def _filters(spec: TableSpec, given: dict[str, list[str]]) -> tuple[Filter, ...]:
    chosen = []
    for name, values in given.items():
        key, separator, op = name.rpartition(SEPARATOR)
        if not separator:
            key, op = name, ""
        column = spec.by_key.get(key)
        if column is None:
            if separator:
                raise InvalidView(f"{name}: no column {key!r}; the columns: {', '.join(spec.keys)}")
            continue  # not ours (utm_source, a cache buster): ignored, as Datasette does
        if not values:
            continue
        if not separator and column.kind is not Kind.ENUM and OPS[column.kind]:
            ops = ", ".join(parameter(column, op) for op in OPS[column.kind])
            raise InvalidView(f"{key} needs an operator: {ops}")
        try:
            chosen.append(parse_filter(column, op or Op.IN, values))
        except InvalidFilter as error:
            raise InvalidView(str(error)) from None
    return _in_order(spec, chosen)


def _in_order(spec: TableSpec, chosen: list[Filter]) -> tuple[Filter, ...]:
    position = {key: i for i, key in enumerate(spec.keys)}
    return tuple(
        sorted(chosen, key=lambda f: (position[f.column.key], OPS[f.column.kind].index(f.op)))
    )


def describe(args: Mapping[str, str]) -> str:
    """A short, file-name-safe description of a view's arguments, for download names."""
    words = [f"{name}-{value}" for name, value in args.items()]
    slug = "-".join(words).lower()
    safe = "".join(char if char.isascii() and char.isalnum() else "-" for char in slug)
    return "-".join(part for part in safe.split("-") if part)[:80]
