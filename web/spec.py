"""A table, declared once: its columns, what kind each is, and how each is shown.

A :class:`TableSpec` answers every question the app asks about a table: which columns there
are, their SQL types and nullability, their kind (what filters apply), how each is formatted
for HTML, CSV and JSON, how it aligns and how wide it is, whether it sorts, facets, searches
or adds up in the footer. The SQLAlchemy table and its indexes, the select list, the row
renderers (:mod:`web.render` generates them from the formats here), the CSV header, the
NDJSON keys, the header template, the column stylesheet and README's column list all come
from it. :data:`web.models.STOCKS` declares the stock table; :mod:`web.reflect` makes one
from a table a database already has (``STREAMTABLE_TABLE``).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache

from sqlalchemy import (
    Column,
    ColumnElement,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    cast,
    func,
)
from sqlalchemy.types import TypeEngine

from .values import as_text, is_finite_number


class Kind(enum.StrEnum):
    """What a column holds, which decides how it can be filtered."""

    ENUM = "enum"  # one of a known set of values: filtered by choosing values
    TEXT = "text"  # free text: searched
    NUMBER = "number"  # filtered by bounds
    TIME = "time"  # a UTC timestamp, streamed as its text: filtered by bounds
    BLOB = "blob"  # bytes: shown and exported as their size, never sent whole; not filtered
    OTHER = "other"  # anything else a database holds (booleans, JSON, UUIDs): its text


@dataclass(frozen=True)
class Format:
    """How a value is written in each output; :mod:`web.render` turns it into code.

    ``html``: ``None`` escapes the text as it is; otherwise a format spec applied to the value
    (``",.2f"``). ``csv``: ``"text"`` cells are defused against formulas, ``"value"`` cells are
    written as Python prints them. ``json``: ``"string"``, ``"number"`` (a float, as ``repr``
    prints it), ``"integer"``, or ``"utc_timestamp"`` (the text ``YYYY-MM-DD HH:MM:SS`` as
    ISO 8601 with a ``Z``). ``scale`` and ``unit`` shorten a number on the page only
    (``13.87 bn``); CSV and JSON, and the row's own page, keep the exact value.
    """

    html: str | None
    csv: str
    json: str
    scale: float = 1.0  # the page shows the value divided by it
    unit: str = ""  # after the scaled value: " bn"


TEXT = Format(html=None, csv="text", json="string")
MONEY = Format(html=",.2f", csv="value", json="number")
SIGNED = Format(html="+.2f", csv="value", json="number")
COUNT = Format(html=",", csv="value", json="integer")
BILLIONS = Format(html=",.2f", csv="value", json="integer", scale=1e9, unit=" bn")
UTC_TIMESTAMP = Format(html=None, csv="value", json="utc_timestamp")
PLAIN_NUMBER = Format(html=",", csv="value", json="number")  # as it is, digits grouped
BYTES = Format(html=",", csv="value", json="integer", unit=" bytes")  # a BLOB's size


TAKEN_PATHS = frozenset({"static", "health", "columns"})
"""First path segments the app uses itself (``/columns.css``), so no table is served there."""


class Align(enum.StrEnum):
    LEFT = "left"
    RIGHT = "right"


class Tone(enum.StrEnum):
    """How a column's cells stand out from the rest."""

    PLAIN = "plain"
    STRONG = "strong"  # the column that names the row
    MUTED = "muted"
    SIGNED = "signed"  # coloured by sign, negatives marked (the sign itself is the first cue)


class Search(enum.StrEnum):
    """How the search box (``q``) matches a column, ignoring case."""

    PREFIX = "prefix"
    CONTAINS = "contains"


class Aggregate(enum.StrEnum):
    AVERAGE = "average"
    TOTAL = "total"


@dataclass(frozen=True)
class Summary:
    """A figure the footer shows for a column: ``label`` then the value, formatted."""

    aggregate: Aggregate
    label: str
    format: str  # a format spec for the (scaled) value
    scale: float = 1.0  # the value is divided by it, e.g. 1e9 for "bn"
    unit: str = ""

    def text(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        return f"{value / self.scale:{self.format}}{' ' + self.unit if self.unit else ''}"


@dataclass(frozen=True)
class ColumnSpec:
    key: str  # the SQL column name, the URL's name for it, the CSV header and JSON key
    label: str  # for people: the column header
    sql_type: TypeEngine
    kind: Kind
    format: Format
    nullable: bool = False
    width: str | None = None  # a CSS length; None: the column takes the width left over,
    min_width: str = "8rem"  # ... but no less: narrower windows scroll the table sideways
    tone: Tone = Tone.PLAIN
    sortable: bool = True
    facetable: bool = False
    unique: bool = False  # unique values: sorts without the id as a tiebreak
    choices: tuple[str, ...] = ()  # the values of an ENUM column, in the order menus offer them
    search: Search | None = None
    summary: Summary | None = None
    plural: str | None = None  # for people: "All exchanges"; default: the label + "s"
    links: bool = False  # its cells link to the row's own page (a unique column's only)
    percent: bool = False  # a number in percent units: a loaded CSV may write "1.5%" for 1.5
    indexed: bool = True  # an index serves a sort by it: False, the database sorts first

    def __post_init__(self) -> None:
        if self.kind is Kind.ENUM and not self.choices:
            raise ValueError(f"{self.key}: an enum column needs its choices")
        if self.links and not (self.unique and not self.nullable):
            raise ValueError(f"{self.key}: only a unique, non-null column can name a row's page")

    @property
    def align(self) -> Align:
        return Align.RIGHT if self.kind in (Kind.NUMBER, Kind.BLOB) else Align.LEFT

    def display(self, value: object) -> str:
        """A value in full, for the row's own page: ``13,867,645,106 (13.87 bn)``."""
        if value is None:
            return ""
        spec, scale = self.format.html, self.format.scale
        if spec is None or not is_finite_number(value):  # text, NaN: as it is (web/values.py)
            return as_text(value)
        if scale == 1:
            return format(value, spec) + self.format.unit  # a BLOB's "1,024 bytes"
        return f"{value:,} ({value / scale:{spec}}{self.format.unit})"

    @property
    def label_plural(self) -> str:
        return self.plural or f"{self.label.lower()}s"


@dataclass(frozen=True)
class FullTextIndex:
    """A full-text index a reflected table has (web/reflect.py), and whether a search can
    find its matches through it (web/search_index.py)."""

    name: str
    columns: tuple[str, ...] = ()  # the table's columns it indexes
    rowid: str | None = None  # the table's column its rowids are; None: the table's rowid
    unusable: str | None = None  # why a search cannot use it; None: it can


@dataclass(frozen=True)
class TableSpec:
    name: str  # the SQL table
    title: str  # for people: "Stocks"
    noun: tuple[str, str]  # one row, several rows: ("stock", "stocks")
    columns: tuple[ColumnSpec, ...]
    default_sort: str = field(default="")  # a column key; default: the first column
    # A table that is there already (web/reflect.py): its own columns, keys and indexes.
    # None: the spec makes its table, with an integer id and an index per sort (:attr:`table`).
    source: Table | None = field(default=None, compare=False, repr=False)
    tiebreak: tuple[str, ...] = ("id",)  # orders rows that sort alike: the id, or the key
    full_text: FullTextIndex | None = None  # a reflected table's full-text index, if any

    def __post_init__(self) -> None:
        keys = [column.key for column in self.columns]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.name}: column keys repeat: {keys}")
        if self.source is None and "id" in keys:
            raise ValueError(f"{self.name}: 'id' is the row id the spec adds itself")
        if not self.default_sort:
            object.__setattr__(self, "default_sort", keys[0])
        if not self.column(self.default_sort).sortable:
            raise ValueError(f"{self.name}: the default sort {self.default_sort} cannot sort")

    @cached_property
    def by_key(self) -> Mapping[str, ColumnSpec]:
        return {column.key: column for column in self.columns}

    def column(self, key: str) -> ColumnSpec:
        return self.by_key[key]

    @property
    def keys(self) -> tuple[str, ...]:
        """The column keys in order: the CSV header, the NDJSON keys, the select list."""
        return tuple(column.key for column in self.columns)

    @property
    def slug(self) -> str:
        """The table's place in URLs: ``/stocks``, ``/stocks.csv``, ``/stocks/<key>``. Any
        character that would need quoting in a path becomes a dash; a name the app's own
        paths take (``/static``, ``/health``) gets ``-table`` after it."""
        slug = re.sub(r"[^A-Za-z0-9_]+", "-", self.name).strip("-") or "table"
        return f"{slug}-table" if slug.lower() in TAKEN_PATHS else slug

    @property
    def reflected(self) -> bool:
        """Served as a database has it, not as :mod:`web.models` declares it."""
        return self.source is not None

    @property
    def unindexed(self) -> tuple[ColumnSpec, ...]:
        """The sortable columns no index serves: a sort by one waits for the whole sort."""
        return tuple(column for column in self.columns if column.sortable and not column.indexed)

    @property
    def row_key(self) -> ColumnSpec | None:
        """The column that names a row's own page (``/stocks/<symbol>``), if any."""
        return next((column for column in self.columns if column.links), None)

    @property
    def sort_keys(self) -> tuple[str, ...]:
        return tuple(column.key for column in self.columns if column.sortable)

    @property
    def enums(self) -> tuple[ColumnSpec, ...]:
        return tuple(column for column in self.columns if column.kind is Kind.ENUM)

    @property
    def searched(self) -> tuple[ColumnSpec, ...]:
        return tuple(column for column in self.columns if column.search)

    @property
    def min_width(self) -> str:
        """The narrowest the table's columns fit in, as a CSS length: below it the table
        scrolls sideways instead of squeezing its flexible columns to nothing."""
        parts = [column.width or column.min_width for column in self.columns]
        return f"calc({' + '.join(parts)})"

    @property
    def summaries(self) -> tuple[tuple[int, ColumnSpec], ...]:
        """(position in a row, column) of each column the footer sums up."""
        return tuple((i, column) for i, column in enumerate(self.columns) if column.summary)

    @cached_property
    def table(self) -> Table:
        """The SQLAlchemy table: an integer id, the columns, and one index per sort (or, for
        a reflected table, the table as the database has it).

        Every sortable column carries a composite ``(column, id)`` index (a unique one needs
        no id): the page orders by ``column, id`` so ties are stable, and the index lets the
        database hand over the first row at once instead of sorting the whole table first
        (measured: ~1.5 s for an unindexed ORDER BY on 1M SQLite rows, under 1 ms with it).
        """
        if self.source is not None:
            return self.source
        indexes = [
            Index(f"ix_{self.name}_{column.key}", column.key, unique=True)
            if column.unique
            else Index(f"ix_{self.name}_{column.key}_id", column.key, "id")
            for column in self.columns
            if column.sortable
        ]
        return Table(
            self.name,
            MetaData(),
            Column("id", Integer, primary_key=True),
            *(
                Column(column.key, column.sql_type, nullable=column.nullable)
                for column in self.columns
            ),
            *indexes,
        )

    @property
    def facets(self) -> tuple[tuple[int, ColumnSpec], ...]:
        """(position in a row, column) of each column whose values the page counts."""
        return tuple((i, column) for i, column in enumerate(self.columns) if column.facetable)

    @lru_cache(maxsize=256)  # noqa: B019 - specs live as long as the app; 2^columns at most
    def showing(self, keys: tuple[str, ...]) -> TableSpec:
        """The same table, showing only the columns ``keys``, in that order (``cols=``).

        It reads the same SQLAlchemy table (it is this spec's, not a new one), so its select
        list, renderers, header and footer cover just those columns.
        """
        chosen = tuple(self.column(key) for key in keys)
        sortable = [column.key for column in chosen if column.sortable]
        default = self.default_sort if self.default_sort in keys else (sortable or keys)[0]
        shown = replace(self, columns=chosen, default_sort=default)
        shown.__dict__["table"] = self.table  # the cached_property, filled in ahead
        return shown

    def select_list(self) -> list[ColumnElement]:
        """The columns in the order the renderers expect them. Timestamps come as text:
        SQLite and PostgreSQL print the same, and no row pays for parsing one. Values of
        other types come as their text too; a BLOB as its length, so its bytes never leave
        the database (memory stays flat however big they are)."""
        return [self._selected(column) for column in self.columns]

    def _selected(self, column: ColumnSpec) -> ColumnElement:
        sql = self.table.c[column.key]
        if column.kind in (Kind.TIME, Kind.OTHER):
            return cast(sql, String).label(column.key)
        if column.kind is Kind.BLOB:
            return func.length(sql).label(column.key)
        return sql
