"""Any table a database already has, as a :class:`web.spec.TableSpec` (``STREAMTABLE_TABLE``).

The database says what the table is (SQLAlchemy's reflection: column names and types,
nullability, the primary key, the indexes); this module says what that means for the page:
each column's kind by its type (which decides its filters), its format, label and width;
which sorts an index serves; which row key, if any, names a row's own page; and whether a
full-text index exists. Everything downstream (the select, the generated renderers, the
header, the stylesheet, the exports) reads the spec as it reads the stock table's.

Row pages (``/<table>/<key>``) need a single-column primary key: with a composite key or
none, a row has no one value to name it, and its cells are plain.
"""

from __future__ import annotations

import re
from time import monotonic

from sqlalchemy import (
    Engine,
    Float,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy import types as sqltypes

from .db import rows_within
from .settings import InvalidSetting
from .spec import (
    BYTES,
    COUNT,
    PLAIN_NUMBER,
    TEXT,
    ColumnSpec,
    Format,
    Kind,
    Search,
    TableSpec,
    Tone,
)

MAX_CHOICES = 30
"""A text column with this many distinct values or fewer (and an index to find them) is a
choice: the page offers a menu and counts rows per value, as it does for ``sector``."""

CHOICES_SECONDS = 0.5
"""Time each indexed text column may take to list its values when the app starts (see
:func:`_choices`); a column that needs longer stays free text."""

KEY = Format(html="", csv="value", json="integer")  # an integer of the primary key

MIN_WIDTHS = {Kind.NUMBER: "7rem", Kind.TIME: "12rem", Kind.BLOB: "7rem", Kind.ENUM: "7rem"}
"""The narrowest each kind of column gets (text: 10rem); a table of many columns scrolls
sideways rather than squeeze them."""


class NoSuchTable(InvalidSetting):
    """``STREAMTABLE_TABLE`` names no table of the database."""


def reflect(engine: Engine, name: str) -> TableSpec:
    """The spec of the table ``name`` as ``engine``'s database has it."""
    try:
        table = Table(name, MetaData(), autoload_with=engine)
    except sa_exc.NoSuchTableError:
        raise NoSuchTable(
            f"STREAMTABLE_TABLE: the database has no table {name!r}; its tables: "
            f"{', '.join(_table_names(engine)) or 'none'}"
        ) from None
    _read_decimals_as_floats(engine, table)
    primary = [column.name for column in table.primary_key.columns]
    leading, unique = _indexed(table)
    columns = tuple(
        _column(engine, table, column, primary, column.name in leading, column.name in unique)
        for column in table.columns
    )
    first = next((c.key for c in columns if c.indexed), columns[0].key)
    return TableSpec(
        name=name,
        title=_label(name),
        noun=("row", "rows"),
        columns=columns,
        default_sort=primary[0] if primary else first,
        source=table,
        tiebreak=tuple(primary),
        full_text=full_text_index(engine, name),
    )


def _table_names(engine: Engine) -> list[str]:
    return sorted(inspect(engine).get_table_names())


def _read_decimals_as_floats(engine: Engine, table: Table) -> None:
    """SQLite keeps NUMERIC as a float or an integer: read it so, not as a Decimal that
    SQLAlchemy would make from the float (and warn about)."""
    if engine.dialect.name != "sqlite":
        return  # PostgreSQL's numeric is exact: a Decimal, rendered by its type
    for column in table.columns:
        if isinstance(column.type, Numeric) and not isinstance(column.type, Float):
            column.type = Float(asdecimal=False)


def _indexed(table: Table) -> tuple[set[str], set[str]]:
    """The columns an index leads with (a sort by one is served by it), and those that hold
    unique values on their own (a single-column primary key, unique index or constraint)."""
    groups = [([c.name for c in index.columns], bool(index.unique)) for index in table.indexes]
    groups += [
        ([c.name for c in constraint.columns], True)
        for constraint in table.constraints
        if isinstance(constraint, (UniqueConstraint, PrimaryKeyConstraint))
    ]
    leading = {names[0] for names, _ in groups if names}
    unique = {names[0] for names, is_unique in groups if is_unique and len(names) == 1}
    return leading, unique


def _column(
    engine: Engine, table: Table, column, primary: list[str], indexed: bool, unique: bool
) -> ColumnSpec:
    kind, format = _kind_and_format(column.type)
    is_key = primary == [column.name]
    # A primary key holds no NULL (SQLite's old quirk aside: such a value goes through the
    # renderers' safe loop, web/render.py).
    nullable = bool(column.nullable) and column.name not in primary
    if column.name in primary and isinstance(column.type, sqltypes.Integer):
        format = KEY  # an id or a year: no thousands separator
    choices: tuple[str, ...] = ()
    if kind is Kind.TEXT and indexed and not unique:
        choices = _choices(engine, table, column)
        kind = Kind.ENUM if choices else kind
    return ColumnSpec(
        column.name,
        _label(column.name),
        column.type,
        kind,
        format,
        nullable=nullable,
        min_width=MIN_WIDTHS.get(kind, "10rem"),
        tone=Tone.STRONG if is_key else Tone.PLAIN,
        unique=unique and not nullable,
        choices=choices,
        facetable=bool(choices),
        search=Search.CONTAINS if kind is Kind.TEXT else None,
        links=is_key and kind in (Kind.TEXT, Kind.NUMBER),
        indexed=indexed,
    )


def _kind_and_format(sql_type: sqltypes.TypeEngine) -> tuple[Kind, Format]:
    if isinstance(sql_type, sqltypes.Boolean):
        return Kind.OTHER, TEXT
    if isinstance(sql_type, sqltypes.Integer):
        return Kind.NUMBER, COUNT
    if isinstance(sql_type, (sqltypes.Numeric, sqltypes.Float)):  # no subclass of the other
        scale = getattr(sql_type, "scale", None)
        if scale is not None and not isinstance(sql_type, sqltypes.Float):  # NUMERIC(12, 2)
            return Kind.NUMBER, Format(html=f",.{scale}f", csv="value", json="number")
        return Kind.NUMBER, PLAIN_NUMBER
    if isinstance(sql_type, (sqltypes.DateTime, sqltypes.Date)):
        return Kind.TIME, TEXT  # its text as the database prints it; JSON a string
    if isinstance(sql_type, sqltypes.LargeBinary):
        return Kind.BLOB, BYTES
    if isinstance(sql_type, (sqltypes.String, sqltypes.NullType)) and not isinstance(
        sql_type, sqltypes.JSON
    ):
        # SQLite's untyped columns (NullType) hold text most often; a number among them
        # is rendered by what it is (web/render.py).
        return Kind.TEXT, TEXT
    return Kind.OTHER, TEXT  # JSON, UUID, arrays, intervals...: as their text


def _choices(engine: Engine, table: Table, column) -> tuple[str, ...]:
    """The values of an indexed text column, if it has few enough to offer as a menu.

    Read one at a time, each the smallest above the last (``min(column) WHERE column > v``):
    an index answers each with one seek, where ``SELECT DISTINCT`` reads the whole index
    (measured on the 1M-row stock table, SQLite, medians of 5 at a load average of ~16:
    exchange's 8 values in 470 ms by DISTINCT, 23 ms this way; sector's 11 in 35 ms).
    """
    values: list[str] = []
    above = column.is_not(None)
    deadline = monotonic() + CHOICES_SECONDS
    for _ in range(MAX_CHOICES + 1):
        rows = rows_within(engine, select(func.min(column)).where(above), deadline - monotonic())
        if rows is None:
            return ()  # too slow, or failed: free text
        value = rows[0][0]
        if value is None:
            break  # no value above the last
        values.append(value)
        above = column > value
    if len(values) > MAX_CHOICES:
        return ()
    if not all(isinstance(value, str) and value.strip() == value and value for value in values):
        return ()  # values a URL or a menu would change (padded, empty): stays free text
    return tuple(values)


def _label(name: str) -> str:
    """``first_name`` -> ``First name``; a name with spaces or capitals keeps them."""
    words = name.replace("_", " ").strip() or name
    return words[:1].upper() + words[1:]


def full_text_index(engine: Engine, name: str) -> str | None:
    """The name of a full-text index on the table ``name``, if it has one: an SQLite FTS
    table whose content is that table, or a PostgreSQL trigram or text-search index."""
    if engine.dialect.name == "sqlite":
        statement = text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND sql LIKE 'CREATE VIRTUAL TABLE%USING fts%'"
        )
        content = re.compile(rf"content\s*=\s*['\"]?{re.escape(name)}['\"]?\s*[,)]", re.I)
        for index, sql in rows_within(engine, statement, CHOICES_SECONDS) or []:
            if content.search(sql):
                return index
        return None
    if engine.dialect.name == "postgresql":
        statement = text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = :name AND (indexdef ILIKE '%trgm_ops%' "
            "OR indexdef ILIKE '%to_tsvector%') ORDER BY indexname"
        ).bindparams(name=name)
        rows = rows_within(engine, statement, CHOICES_SECONDS)
        return rows[0][0] if rows else None
    return None
