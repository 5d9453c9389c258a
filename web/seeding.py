"""Generate realistic stock rows and load them atomically.

``seed.py`` is a thin command line over :func:`seed`; tests call these functions directly.
The load replaces the table inside one transaction, so an interrupted or failed load leaves
the previous data as it was. SQLite: drop, create, insert, index, commit. PostgreSQL: COPY
into a new table beside the old one, index it, then swap the names in a moment at the end,
so readers go on reading the old table for the whole load.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from math import gcd
from time import monotonic

import numpy as np
import psycopg
from sqlalchemy import Engine, Index, MetaData, func, inspect, select
from sqlalchemy.schema import CreateIndex, CreateTable

from . import search_index
from .db import create_database_file, database_file_missing
from .models import STOCKS, stocks
from .search_build import SearchBuild, SearchBuildError

BLOCK_ROWS = 10_000
"""Rows generated and inserted per step; fixed so the data depends only on (rows, seed)."""

SWAP_WAIT_SECONDS = 60.0
"""PostgreSQL: how long a load may wait for running streams to let go of the old table
before it gives up (the old data stays). It waits in short attempts, so readers arriving
meanwhile are held up for at most :data:`SWAP_LOCK_TIMEOUT` at a time."""
SWAP_LOCK_TIMEOUT = "500ms"

EXCHANGE_WEIGHTS = (26, 24, 10, 8, 10, 8, 8, 6)  # how often seed data uses each exchange
_PREFIXES = (
    "Acme",
    "Apex",
    "Atlas",
    "Aurora",
    "Beacon",
    "Blue Ridge",
    "Borealis",
    "Cardinal",
    "Cascade",
    "Cedar",
    "Crescent",
    "Crown",
    "Delta",
    "Eagle",
    "Evergreen",
    "Falcon",
    "Frontier",
    "Granite",
    "Harbor",
    "Horizon",
    "Ironwood",
    "Juniper",
    "Keystone",
    "Liberty",
    "Lighthouse",
    "Magnolia",
    "Meridian",
    "Monarch",
    "Northwind",
    "Oakmont",
    "Orion",
    "Pacific",
    "Pinnacle",
    "Quantum",
    "Redwood",
    "Sierra",
    "Silverline",
    "Summit",
    "Sterling",
    "Titan",
    "Union",
    "Vanguard",
    "Vertex",
    "Westbrook",
    "Zenith",
    "Zürich",
    "Ørsted",
    "São Paulo",
    "Société",
    "Müller",
    "Łódź",
    "Nippon",
    "Škoda",
    "Ångström",
    "Québec",
)
_CORES = (
    "Analytics",
    "Bancorp",
    "Biotech",
    "Capital",
    "Chemicals",
    "Communications",
    "Dynamics",
    "Energy",
    "Foods",
    "Freight",
    "Genomics",
    "Health",
    "Industries",
    "Infrastructure",
    "Instruments",
    "Logistics",
    "Materials",
    "Media",
    "Metals",
    "Minerals",
    "Motors",
    "Networks",
    "Petroleum",
    "Pharma",
    "Power",
    "Realty",
    "Resources",
    "Robotics",
    "Semiconductor",
    "Software",
    "Solar",
    "Steel",
    "Systems",
    "Telecom",
    "Therapeutics",
    "Utilities",
    "Ventures",
    "Water",
    "Wireless",
    "Générale",
)
_SUFFIXES = (
    "Inc.",
    "Corp.",
    "Ltd.",
    "plc",
    "AG",
    "SA",
    "NV",
    "Group",
    "Holdings",
    "Co.",
    "SE",
    "K.K.",
    "ASA",
    "GmbH",
    "& Co.",
    "Trust",
)
# Names that exercise escaping: ampersands, angle brackets, both quote kinds.
_ODD_NAMES = (
    "Smith & Wesson {core}",
    "AT&T {core} <Class A>",
    'The "{core}" Fund',
    "O'Brien {core} & Sons",
    "{prefix} <{core}> & 'Partners'",
)

_SYMBOL_SPACE = sum(26**length for length in range(1, 6))
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_NEWEST = datetime(2026, 11, 20, 16, 0, 0)


class SeedError(Exception):
    """A seed request that cannot be carried out; the message is meant for the user."""


@dataclass(frozen=True)
class SeedResult:
    rows: int
    replaced: int


def _symbols(codes: np.ndarray) -> list[str]:
    """Decode integer codes into 1-5 letter tickers; distinct codes give distinct tickers."""
    codes = codes.copy()
    lengths = np.ones_like(codes)
    for length in range(1, 5):
        longer = codes >= 26**length
        codes[longer] -= 26**length
        lengths[longer] += 1
    letters = np.zeros((len(codes), 5), dtype=np.uint8)
    for position in range(5):
        codes, digit = np.divmod(codes, 26)
        letters[:, position] = np.where(position < lengths, digit + ord("A"), 0)
    # Trailing NUL bytes are dropped when numpy turns fixed-width bytes into str.
    return letters.view("S5").ravel().astype("U5").tolist()


def _timestamps(seconds_ago: np.ndarray) -> list[str]:
    """'YYYY-MM-DD HH:MM:SS' strings, the form both SQLite and PostgreSQL print."""
    moments = np.datetime64(_NEWEST, "s") - seconds_ago.astype("timedelta64[s]")
    return [text.replace("T", " ") for text in np.datetime_as_string(moments).tolist()]


def generate_rows(rows: int, seed: int = 0) -> Iterator[list[tuple]]:
    """Yield blocks of row tuples (the id, then the spec's columns in order), the same for the
    same ``(rows, seed)``.

    Vectorised with numpy: a per-row Python loop took ~7 s for 1M rows, this takes ~1 s.
    Values are made per column by name; a nullable column of the spec that this generator
    does not know is NULL, any other unknown column an error.
    """
    if rows > _SYMBOL_SPACE:
        raise SeedError(f"at most {_SYMBOL_SPACE} rows: tickers would repeat")
    rng = np.random.default_rng(seed)
    # An affine map modulo the symbol space is a permutation: unique tickers, no memory.
    step = int(rng.integers(1, _SYMBOL_SPACE))
    while gcd(step, _SYMBOL_SPACE) != 1:
        step += 1
    offset = int(rng.integers(_SYMBOL_SPACE))
    plain_names = np.array(
        [f"{p} {c} {s}" for p in _PREFIXES for c in _CORES for s in _SUFFIXES], dtype=object
    )
    odd_names = np.array(
        [t.format(prefix=p, core=c) for t in _ODD_NAMES for p in _PREFIXES[:8] for c in _CORES],
        dtype=object,
    )
    exchanges = np.array(STOCKS.column("exchange").choices, dtype=object)
    exchange_p = np.array(EXCHANGE_WEIGHTS) / sum(EXCHANGE_WEIGHTS)
    sectors = np.array(STOCKS.column("sector").choices, dtype=object)
    for start in range(0, rows, BLOCK_ROWS):
        count = min(BLOCK_ROWS, rows - start)
        ids = np.arange(start + 1, start + count + 1, dtype=np.int64)
        price = np.round(np.minimum(rng.lognormal(3.5, 1.1, count), 99_999.0), 2)
        columns = {
            "symbol": _symbols(((ids - 1) * step + offset) % _SYMBOL_SPACE),
            "name": np.where(
                rng.random(count) < 0.01,  # one name in a hundred needs escaping
                odd_names[rng.integers(len(odd_names), size=count)],
                plain_names[rng.integers(len(plain_names), size=count)],
            ).tolist(),
            "exchange": exchanges[rng.choice(len(exchanges), size=count, p=exchange_p)].tolist(),
            "sector": sectors[rng.integers(len(sectors), size=count)].tolist(),
            "price": price.tolist(),
            # + 0.0 turns -0.0 into 0.0: SQLite stores 0 for both, PostgreSQL keeps the sign.
            "change_pct": (np.round(rng.normal(0.0, 2.4, count), 2) + 0.0).tolist(),
            "volume": rng.lognormal(13.0, 1.7, count).astype(np.int64).tolist(),
            "market_cap": (price * rng.lognormal(17.5, 1.6, count)).astype(np.int64).tolist(),
            "updated_at": _timestamps(rng.integers(30 * 86_400, size=count)),
        }
        yield list(zip(ids.tolist(), *_in_spec_order(columns, count), strict=True))


def _in_spec_order(columns: dict[str, list], count: int) -> list[list]:
    """The generated columns in the spec's order; NULL for a nullable one not generated."""
    unknown = set(columns) - set(STOCKS.keys)
    missing = [c.key for c in STOCKS.columns if c.key not in columns and not c.nullable]
    if unknown or missing:
        raise SeedError(f"the generator and the spec differ: {sorted(unknown) or missing}")
    return [columns.get(key) or [None] * count for key in STOCKS.keys]


def count_rows(engine: Engine) -> int:
    """Rows in the stocks table, or 0 when the table (or its database file) does not exist yet."""
    if database_file_missing(engine) or not inspect(engine).has_table(stocks.name):
        return 0
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(stocks))


Progress = Callable[[int, str], None]
"""Called with the rows written so far and the stage: "inserting", then "indexing"."""


def seed(
    engine: Engine,
    rows: int,
    seed: int = 0,
    reset: bool = False,
    progress: Progress = lambda rows, stage: None,
) -> SeedResult:
    """Fill the stocks table with ``rows`` generated rows in one transaction.

    Refuses to touch a non-empty table unless ``reset`` is given.
    """
    if rows < 0:
        raise SeedError("--rows must be zero or more")
    existing = rows_to_replace(engine, reset, f"{rows:,} new rows")
    replace_rows(engine, generate_rows(rows, seed), progress)
    return SeedResult(rows=rows, replaced=existing)


def rows_to_replace(engine: Engine, reset: bool, replacement: str) -> int:
    """What every load checks first, a seed or a CSV: the database file made if missing
    (loads are the one place one is made, web/db.py), and a non-empty table refused unless
    ``reset``. Returns the rows the load will replace."""
    try:
        create_database_file(engine)
    except sqlite3.Error as error:
        raise SeedError(f"database error: {error}") from error
    existing = count_rows(engine)
    if existing and not reset:
        raise SeedError(
            f"the stocks table already has {existing:,} rows; "
            f"pass --reset to replace them with {replacement}"
        )
    return existing


def replace_rows(
    engine: Engine, blocks: Iterator[list[tuple]], progress: Progress = lambda rows, stage: None
) -> None:
    """Replace the table's rows with ``blocks`` of row tuples (the id, then the spec's
    columns) in one transaction: whatever fails, the iterator included, the previous data
    stays. Generated seeds and loaded CSVs (web/csvload.py) both come through here."""
    loaders = {"sqlite": _load_sqlite, "postgresql": _load_postgresql}
    try:
        load = loaders[engine.dialect.name]
    except KeyError:
        raise SeedError(f"unsupported database: {engine.dialect.name}") from None
    load(engine, blocks, progress)


def _ddl(engine: Engine) -> tuple[str, list[str]]:
    """The table's CREATE statement and, separately, its indexes (built after the load)."""
    create_table = str(CreateTable(stocks).compile(dialect=engine.dialect))
    create_indexes = [str(CreateIndex(ix).compile(dialect=engine.dialect)) for ix in stocks.indexes]
    return create_table, create_indexes


_HAS_TABLE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"


def _load_sqlite(engine: Engine, blocks: Iterator[list[tuple]], progress: Progress) -> None:
    create_table, create_indexes = _ddl(engine)
    columns = ", ".join(c.name for c in stocks.columns)
    marks = ", ".join("?" for _ in stocks.columns)
    insert = f"INSERT INTO {stocks.name} ({columns}) VALUES ({marks})"
    search = SearchBuild(STOCKS, engine.url.database)
    raw = engine.raw_connection()
    first = False
    try:
        dbapi = raw.driver_connection
        # Manual transactions: pysqlite would otherwise commit DDL on its own.
        dbapi.isolation_level = None
        cursor = dbapi.cursor()
        # Helper threads sort the index builds (measured: ~0.55 s per index on 1M rows, against
        # ~1.0 s single-threaded; a bigger cache_size keeps the sort in one thread and is slower).
        cursor.execute(f"PRAGMA threads = {min(os.cpu_count() or 1, 8)}")
        first = not cursor.execute(_HAS_TABLE, (stocks.name,)).fetchone()
        if first:
            # A first load has no readers to keep reading the old rows while it runs, which
            # is what WAL is for (web/db.py), and a rollback journal keeps no copy of pages
            # the file did not have: the rows are written once, not to the WAL and then
            # again into the file (10M rows: 163 s against 227 s, the commit's checkpoint
            # 0.8 s against 29 s; at 1M rows no difference, 17.5 s either way). A reader
            # arriving meanwhile waits, then fails as it would on the missing table. Stays
            # WAL if another connection is using the file.
            cursor.execute("PRAGMA journal_mode = DELETE")
        cursor.execute("BEGIN IMMEDIATE")
        try:
            cursor.execute(f"DROP TABLE IF EXISTS {stocks.name}")
            cursor.execute(create_table)
            written = 0
            for block in blocks:
                cursor.executemany(insert, block)
                search.add(block)  # a large load's search index is built beside it
                written += len(block)
                progress(written, "inserting")
            progress(written, "indexing")
            for statement in create_indexes:
                cursor.execute(statement)
            search.finish(cursor)
            cursor.execute("COMMIT")
        except BaseException as error:
            # SQLite rolls back by itself on some errors ("database or disk is full"); a
            # second ROLLBACK would then fail and hide the error that matters.
            if dbapi.in_transaction:
                cursor.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error | SearchBuildError):
                raise SeedError(
                    f"database error: {error}; the table is as it was before"
                ) from error
            raise
    finally:
        search.close()
        if first:
            with suppress(sqlite3.Error):  # a failure would hide the load's; the next
                cursor.execute("PRAGMA journal_mode = WAL")  # connection sets it anyway
        raw.invalidate()  # its settings were changed for the load; do not pool it


def _load_postgresql(engine: Engine, blocks: Iterator[list[tuple]], progress: Progress) -> None:
    """COPY into ``stocks_new``, index it, then swap it in, all in one transaction.

    The old table is only locked for the swap at the end, so streams keep reading it during
    the load; the swap waits for the streams already running (see :data:`SWAP_WAIT_SECONDS`).
    Names end up exactly those of :mod:`web.models`, as if ``create_all`` had made them.
    """
    staging = stocks.to_metadata(MetaData(), name=f"{stocks.name}_new")
    # Index names are unique per schema: the new table's wait beside the old ones.
    indexes = [
        Index(f"{ix.name}_new", *(staging.c[c.name] for c in ix.columns), unique=ix.unique)
        for ix in stocks.indexes
    ]
    renames = [
        f"ALTER TABLE {staging.name} RENAME TO {stocks.name}",
        f"ALTER TABLE {stocks.name} RENAME CONSTRAINT {staging.name}_pkey TO {stocks.name}_pkey",
        f"ALTER SEQUENCE {staging.name}_id_seq RENAME TO {stocks.name}_id_seq",
        *(f"ALTER INDEX {ix.name}_new RENAME TO {ix.name}" for ix in stocks.indexes),
        *(
            f"ALTER INDEX {staged} RENAME TO {final}"
            for staged, final in search_index.staged_index_names(STOCKS, staging.name)
        ),
    ]
    columns = ", ".join(c.name for c in stocks.columns)
    raw = engine.raw_connection()
    try:
        dbapi = raw.driver_connection
        dbapi.autocommit = False
        cursor = dbapi.cursor()
        try:
            # A seed is maintenance: the role's statement timeout, if any, is for the app.
            cursor.execute("SET statement_timeout = 0")
            cursor.execute("SET maintenance_work_mem = '256MB'")
            # Two loads at once would fight over stocks_new; the second waits for the first.
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('streamtable.seed'))")
            cursor.execute(f"DROP TABLE IF EXISTS {staging.name}")  # left by a crashed server
            cursor.execute(CreateTable(staging).compile(dialect=engine.dialect).string)
            written = 0
            # FREEZE: the table is new in this transaction, so its rows can be written as
            # already visible to all; the first reads then need not rewrite every page.
            with cursor.copy(f"COPY {staging.name} ({columns}) FROM STDIN (FREEZE)") as copy:
                for block in blocks:
                    for row in block:
                        copy.write_row(row)
                    written += len(block)
                    progress(written, "inserting")
            progress(written, "indexing")
            for index in indexes:
                cursor.execute(CreateIndex(index).compile(dialect=engine.dialect).string)
            for statement in search_index.build_statements("postgresql", STOCKS, staging.name):
                cursor.execute(statement)
            cursor.execute(f"ANALYZE {staging.name}")  # the planner needs them to pick indexes
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{staging.name}', 'id'), max(id)) "
                f"FROM {staging.name} HAVING count(*) > 0"
            )
            _drop_old_table(cursor)
            for statement in renames:
                cursor.execute(statement)
            dbapi.commit()
        except BaseException:
            dbapi.rollback()
            raise
    finally:
        raw.invalidate()  # its settings were changed for the load; do not pool it


def _drop_old_table(cursor: psycopg.Cursor) -> None:
    """Drop the stocks table once the streams reading it have let go of it.

    Each attempt waits at most :data:`SWAP_LOCK_TIMEOUT` for the lock: new readers queue
    behind a waiting ``DROP``, so one long wait would stall every new stream.
    """
    deadline = monotonic() + SWAP_WAIT_SECONDS
    cursor.execute(f"SET LOCAL lock_timeout = '{SWAP_LOCK_TIMEOUT}'")
    while True:
        cursor.execute("SAVEPOINT swap")
        try:
            cursor.execute(f"DROP TABLE IF EXISTS {stocks.name}")
        except psycopg.errors.LockNotAvailable:
            cursor.execute("ROLLBACK TO SAVEPOINT swap")
            if monotonic() > deadline:
                raise SeedError(
                    f"streams kept the {stocks.name} table busy for {SWAP_WAIT_SECONDS:.0f} s; "
                    "nothing was changed, try again"
                ) from None
        else:
            cursor.execute("RELEASE SAVEPOINT swap")
            return
