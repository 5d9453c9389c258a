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
    FullTextIndex,
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
        full_text=full_text_index(engine, table),
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


def full_text_index(engine: Engine, table: Table) -> FullTextIndex | None:
    """The table's full-text index, if it has one: an SQLite FTS table whose content is
    the table, or a PostgreSQL trigram or text-search index; with whether a search can use
    it (its substring test, case-insensitive, on the text columns)."""
    if engine.dialect.name == "sqlite":
        statement = text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' "
            "AND sql LIKE 'CREATE VIRTUAL TABLE%USING fts%'"
        )
        found = [
            index
            for name, sql in rows_within(engine, statement, CHOICES_SECONDS) or []
            if (index := _sqlite_full_text(name, sql, table)) is not None
        ]
        # One a search can use, if there is one.
        return min(found, key=lambda index: index.unusable is not None, default=None)
    if engine.dialect.name == "postgresql":
        statement = text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename = :name AND (indexdef ILIKE '%trgm_ops%' "
            "OR indexdef ILIKE '%to_tsvector%') ORDER BY indexname"
        ).bindparams(name=table.name)
        rows = rows_within(engine, statement, CHOICES_SECONDS) or []
        found = [FullTextIndex(name, unusable=_postgresql_unusable(sql)) for name, sql in rows]
        return min(found, key=lambda index: index.unusable is not None, default=None)
    return None


def _postgresql_unusable(definition: str) -> str | None:
    """PostgreSQL's planner picks a trigram index by itself for the search's
    ``column ILIKE`` (what a search is on PostgreSQL), when the index is on the column."""
    if not re.search(r"gin_trgm_ops|gist_trgm_ops", definition, re.I):
        return "it indexes words, and a search looks for any part of the text"
    if not re.search(r"\(\s*\"?\w[^()]*\s(gin|gist)_trgm_ops", definition, re.I):
        return "it is on an expression, and a search compares the column itself"
    return None


def _sqlite_full_text(name: str, sql: str, table: Table) -> FullTextIndex | None:
    """An FTS table whose content is ``table``, and whether a search can use it: an FTS5
    ``trigram`` index that folds case, its rowids the table's (web/search_index.py)."""
    arguments = _fts_arguments(sql)
    options = {key.lower(): value for key, value in (a for a in arguments if isinstance(a, tuple))}
    if options.get("content", "").lower() != table.name.lower():
        return None  # an index of something else, or holding its own copy of the text
    columns = tuple(a for a in arguments if isinstance(a, str))
    names = {column.name.lower(): column.name for column in table.columns}
    rowid = options.get("content_rowid")
    tokenizer = options.get("tokenize", "unicode61").lower().split()
    unusable = None
    if not re.search(r"using\s+fts5\b", sql, re.I):
        unusable = "only an FTS5 trigram index finds any part of the text"
    elif tokenizer[:1] != ["trigram"]:
        unusable = "its tokenizer finds words, and a search looks for any part of the text"
    elif " ".join(tokenizer[1:]).find("case_sensitive 1") >= 0:
        unusable = "it tells capitals apart, and a search does not"
    elif any(c.lower() not in names for c in columns) or (rowid and rowid.lower() not in names):
        unusable = "it indexes columns the table does not have"
    return FullTextIndex(
        name,
        columns=tuple(names.get(c.lower(), c) for c in columns),
        rowid=names.get(rowid.lower()) if rowid and rowid.lower() in names else None,
        unusable=unusable,
    )


_QUOTED = r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|\[[^\]]*\]|`[^`]*`"""
"""A quoted SQL word or string, in any of SQLite's four quotes."""


def _fts_arguments(sql: str) -> list[str | tuple[str, str]]:
    """The arguments of ``CREATE VIRTUAL TABLE ... USING fts5(...)``: each indexed
    column (not those ``UNINDEXED``), or an option as (key, value), quotes taken off."""
    inside = sql[sql.index("(") + 1 : sql.rindex(")")] if "(" in sql else ""
    arguments: list[str | tuple[str, str]] = []
    for piece in re.findall(rf"(?:{_QUOTED}|[^,])+", inside):
        key, equals, value = piece.partition("=")
        if equals and re.fullmatch(r"\s*\w+\s*", key):
            arguments.append((key.strip(), _unquoted(value.strip())))
            continue
        column = re.match(rf"\s*({_QUOTED}|\S+)(.*)", piece, re.S)
        if column and "unindexed" not in column[2].lower().split():
            arguments.append(_unquoted(column[1]))
    return arguments


def _unquoted(word: str) -> str:
    for opening, closing in ("''", '""', "[]", "``"):
        if len(word) >= 2 and word[0] == opening and word[-1] == closing:
            return word[1:-1].replace(closing * 2, closing) if opening != "[" else word[1:-1]
    return word
