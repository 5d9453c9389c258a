"""The full-text index behind substring search: which rows *may* contain a term, at once.

A search (``q``) or a ``__contains`` filter tests every row it walks; for a term that is
rare or absent that is a walk over the whole table (~3 s at 1M SQLite rows). A trigram
index answers "which rows contain this substring" from the index instead:

- SQLite: an FTS5 table with the ``trigram`` tokenizer over the table's text columns,
  its content read from the table itself (``content=``), so it stores only the index.
  It keeps which rows hold each trigram, not where (``detail=none, columnsize=0``): built
  in 5.8 s at 1M rows against 12.4 s with positions, and a term is then looked up as all
  of its trigrams (:func:`fts_candidates`). Measured at 1M rows: a term that matches
  nothing 0.2 ms (the walk took 4.1 s), all 25,131 matches of "robotics" counted with
  their text checked in 62 ms (68 ms with positions).
- PostgreSQL: ``pg_trgm`` GIN indexes on each column, which the planner uses by
  itself for the ``ILIKE`` the view's search is on PostgreSQL (an index on ``lower(column)``,
  as built until 2026-12-01, served no search: q=zyx scanned the 1M rows in 330 ms).

Both index trigrams, so a term of fewer than 3 characters cannot use them: it is matched by
walking the table, as before (:func:`indexable`).

The index only narrows: the view's own condition is still applied to every candidate, so
the index's looser matching (FTS5 folds non-ASCII case, SQLite's ``lower`` does not) can
never add a row the view would not show. Built by the seed in the same transaction as the
table (:func:`build_statements`), and kept in step with later writes by triggers.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Engine, column, func, literal, literal_column, select, table

from .db import count_within
from .spec import ColumnSpec, FullTextIndex, Kind, TableSpec

MIN_TERM_CHARACTERS = 3
"""A trigram index finds only terms of at least three characters."""


def indexed_columns(spec: TableSpec) -> tuple[ColumnSpec, ...]:
    """The columns the index covers: every free-text column (searched or filtered)."""
    return tuple(c for c in spec.columns if c.kind is Kind.TEXT)


def fts_name(spec: TableSpec) -> str:
    return f"{spec.name}_search"


def indexable(term: str) -> bool:
    return len(term) >= MIN_TERM_CHARACTERS


def build_statements(dialect: str, spec: TableSpec, table_name: str | None = None) -> list[str]:
    """SQL that builds the index for ``spec``'s table (named ``table_name`` while staged),
    run by the seed after the rows are in and inside the same transaction. SQLite: the
    index made empty, filled from the table, then kept in step; a large seed fills it in a
    second process instead (web/search_build.py)."""
    name = table_name or spec.name
    keys = [c.key for c in indexed_columns(spec)]
    if not keys:
        return []
    if dialect == "postgresql":
        return [
            "CREATE EXTENSION IF NOT EXISTS pg_trgm",
            *(
                f"CREATE INDEX ix_{name}_{key}_trgm ON {name} USING gin ({key} gin_trgm_ops)"
                for key in keys
            ),
        ]
    fts = fts_name(spec)
    return [
        *sqlite_create_statements(spec),
        f"INSERT INTO {fts}({fts}) VALUES('rebuild')",
        *sqlite_trigger_statements(spec),
    ]


def sqlite_create_statements(
    spec: TableSpec, content: str | None = None, name: str | None = None
) -> list[str]:
    """The empty FTS5 table, its content read from ``spec``'s table (or ``content``: ``''``
    for an index filled by inserts alone, named ``name``, as web/search_build.py builds one)."""
    fts = name or fts_name(spec)
    listed = ", ".join(c.key for c in indexed_columns(spec))
    source = f"content='{spec.name}', content_rowid='id'" if content is None else "content=''"
    return [
        f"DROP TABLE IF EXISTS {fts}",
        f"CREATE VIRTUAL TABLE {fts} USING fts5({listed}, {source}, "
        "tokenize='trigram', detail=none, columnsize=0)",
    ]


def sqlite_trigger_statements(spec: TableSpec) -> list[str]:
    """Triggers that keep the index in step with writes made after the seed (the app itself
    only reads)."""
    name, fts = spec.name, fts_name(spec)
    keys = [c.key for c in indexed_columns(spec)]
    listed = ", ".join(keys)
    new = ", ".join(f"new.{key}" for key in keys)
    old = ", ".join(f"old.{key}" for key in keys)
    delete = f"INSERT INTO {fts}({fts}, rowid, {listed}) VALUES('delete', old.id, {old});"
    insert = f"INSERT INTO {fts}(rowid, {listed}) VALUES (new.id, {new});"
    return [
        f"CREATE TRIGGER {name}_search_insert AFTER INSERT ON {name} BEGIN {insert} END",
        f"CREATE TRIGGER {name}_search_delete AFTER DELETE ON {name} BEGIN {delete} END",
        f"CREATE TRIGGER {name}_search_update AFTER UPDATE ON {name} BEGIN {delete} {insert} END",
    ]


def staged_index_names(spec: TableSpec, staging: str) -> list[tuple[str, str]]:
    """PostgreSQL: (staged name, final name) of each trigram index, for the seed's swap."""
    return [
        (f"ix_{staging}_{c.key}_trgm", f"ix_{spec.name}_{c.key}_trgm")
        for c in indexed_columns(spec)
    ]


def has_fts(engine: Engine, spec: TableSpec) -> bool:
    """SQLite: whether the seed built the FTS5 index (a table made otherwise has none, and
    a reflected table, STREAMTABLE_TABLE's, is searched without one: web/reflect.py).
    Asked by each search's count and plan, so remembered until the database changes."""
    if engine.dialect.name != "sqlite" or spec.reflected:
        return False
    schema = table("sqlite_master", column("type"), column("name"))
    found = select(func.count()).select_from(schema)
    found = found.where(schema.c.type == "table", schema.c.name == fts_name(spec))
    return bool(count_within(engine, found, SCHEMA_SECONDS))


SCHEMA_SECONDS = 1.0
"""Time to look the index up in the schema (~0.1 ms; a lock held by a seed may delay it)."""


def usable_index(engine: Engine, spec: TableSpec, fts: bool | None = None) -> FullTextIndex | None:
    """SQLite: the trigram index a search of ``spec``'s table finds its matches through:
    the seed's (``fts``: whether it exists, looked up when not given), or for a reflected
    table the one it has, if a search can use it (web/reflect.py says why not)."""
    if engine.dialect.name != "sqlite":
        return None
    if spec.reflected:
        index = spec.full_text
        return index if index is not None and index.unusable is None else None
    if not (fts if fts is not None else has_fts(engine, spec)):
        return None
    return FullTextIndex(fts_name(spec), tuple(c.key for c in indexed_columns(spec)), "id")


def fts_candidates(spec: TableSpec, index: FullTextIndex, term: str) -> ColumnElement[bool]:
    """SQLite: the rows whose text holds every trigram of ``term``, by ``index``.

    A superset of the rows that contain ``term`` (the trigrams may lie apart, or in another
    indexed column): an index without positions can answer no phrase or column query. The
    view's own test then keeps just the rows that do; on the generated stocks the two sets
    were the same for every term the views matrix searches.
    """
    fts = table(index.name, column("rowid"))
    trigrams = sorted({term[i : i + 3] for i in range(len(term) - 2)})
    match = literal(" AND ".join('"' + gram.replace('"', '""') + '"' for gram in trigrams))
    quoted = '"' + index.name.replace('"', '""') + '"'
    matching = select(fts.c.rowid).where(literal_column(quoted).op("MATCH")(match))
    rowid = spec.table.c[index.rowid] if index.rowid else literal_column("_rowid_")
    return rowid.in_(matching)
