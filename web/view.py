"""What the user asked to see: parsed from the query string, turned into a select.

The query string is the whole API (``?sort=price&dir=desc&sector=Energy&q=acme``), so every
view can be bookmarked and shared. Its parameters come from the table's spec: ``sort`` and
``dir``, one parameter per enum column (``exchange``, ``sector``) and ``q`` for the columns
the spec marks as searched. Parameters not listed by :func:`parameters` are ignored; a listed
one with a bad value is refused with :class:`InvalidView`, never guessed at.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace

from sqlalchemy import Select, or_, select
from werkzeug.datastructures import MultiDict

from .spec import Search, TableSpec


class InvalidView(ValueError):
    """A query string that names no valid view; the message says what to fix."""


def parameters(table: TableSpec, max_search_length: int) -> dict[str, str]:
    """Every parameter a view of ``table`` takes, with what it means (for errors and docs)."""
    how = {Search.PREFIX: "starting with", Search.CONTAINS: "containing"}
    searched = " or ".join(f"{c.label_plural} {how[c.search]} it" for c in table.searched)
    return {
        "sort": f"the column to sort by: {', '.join(table.sort_keys)}",
        "dir": "the sort direction: asc or desc",
        **{
            column.key: f"only {table.noun[1]} whose {column.label.lower()} is this: "
            + ", ".join(column.choices)
            for column in table.enums
        },
        "q": f"search, up to {max_search_length} characters: {searched}, ignoring case",
    }


@dataclass(frozen=True)
class View:
    spec: TableSpec
    sort: str
    descending: bool = False
    filters: tuple[tuple[str, str], ...] = ()  # (enum column, value), in the spec's order
    q: str | None = None

    @classmethod
    def default(cls, spec: TableSpec) -> View:
        return cls(spec, spec.default_sort)

    @classmethod
    def from_args(cls, args: MultiDict[str, str], spec: TableSpec, max_search_length: int) -> View:
        """Parse and validate a query string. Empty values mean "not given"."""
        given = {}
        for name in parameters(spec, max_search_length):
            values = args.getlist(name)
            if len(set(values)) > 1:  # the same value twice is harmless (forms can repeat)
                raise InvalidView(f"give {name} at most once")
            if values and values[0].strip():
                given[name] = values[0].strip()
        sort = given.get("sort", spec.default_sort)
        if sort not in spec.sort_keys:
            raise InvalidView(f"sort must be one of: {', '.join(spec.sort_keys)}")
        direction = given.get("dir", "asc")
        if direction not in ("asc", "desc"):
            raise InvalidView("dir must be asc or desc")
        filters = []
        for column in spec.enums:
            value = given.get(column.key)
            if value is not None and value not in column.choices:
                raise InvalidView(f"{column.key} must be one of: {', '.join(column.choices)}")
            if value is not None:
                filters.append((column.key, value))
        q = given.get("q")
        if q is not None:
            if len(q) > max_search_length:
                raise InvalidView(f"q must be at most {max_search_length} characters")
            if any(unicodedata.category(char)[0] == "C" for char in q):
                raise InvalidView("q must not contain control characters")
        return cls(spec, sort, direction == "desc", tuple(filters), q)

    def filter_value(self, key: str) -> str | None:
        """The value the view keeps of the enum column ``key``, if it filters by it."""
        return dict(self.filters).get(key)

    def args(self) -> dict[str, str]:
        """The query string of this view, defaults left out: the canonical, shareable URL."""
        args = {}
        if self.sort != self.spec.default_sort:
            args["sort"] = self.sort
        if self.descending:
            args["dir"] = "desc"
        args.update(self.filters)
        if self.q:
            args["q"] = self.q
        return args

    def sorted_by(self, key: str) -> View:
        """The view a click on ``key``'s header leads to: that column, or the other way."""
        if key == self.sort:
            return replace(self, descending=not self.descending)
        return replace(self, sort=key, descending=False)

    def statement(self) -> Select:
        """The rows of this view, in the column order the renderers expect.

        Ordered by the sort column, then id, so ties keep a stable order and the
        ``(column, id)`` index serves the first row at once (a unique column needs no id).
        """
        table = self.spec.table
        statement = select(*self.spec.select_list())
        for key, value in self.filters:
            statement = statement.where(table.c[key] == value)
        if self.q:
            # Measured on 1M SQLite rows (make bench): the first match of a common word
            # arrives in ~10 ms, of a rarer one in ~100 ms; a word that matches nothing costs a
            # full scan, ~3 s. A name prefix would use the index but miss "The Acme Fund".
            statement = statement.where(
                or_(
                    *(
                        table.c[column.key].istartswith(self.q, autoescape=True)
                        if column.search is Search.PREFIX
                        else table.c[column.key].icontains(self.q, autoescape=True)
                        for column in self.spec.searched
                    )
                )
            )
        order = [table.c[self.sort]]
        # A unique column needs no id, and PostgreSQL would plan an Incremental Sort on top
        # of its index.
        if not self.spec.column(self.sort).unique:
            order.append(table.c.id)
        if self.descending:
            order = [column.desc() for column in order]
        return statement.order_by(*order)


def describe(args: Mapping[str, str]) -> str:
    """A short, file-name-safe description of a view's arguments, for download names."""
    words = [f"{name}-{value}" for name, value in args.items()]
    slug = "-".join(words).lower()
    safe = "".join(char if char.isascii() and char.isalnum() else "-" for char in slug)
    return "-".join(part for part in safe.split("-") if part)[:80]
