"""The database engine and the one way rows leave it: :func:`stream_select`.

SQLite (a file in the instance folder) is the default; ``DATABASE_URL=postgresql+psycopg://``
selects PostgreSQL, where ``stream_select`` reads through a named (server-side) cursor.
docs/postgresql.md says how to set it up and which server-side limits to add.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from time import monotonic
from urllib.parse import quote

import psycopg
from flask import Flask, current_app, g, has_request_context
from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Row,
    Select,
    Table,
    create_engine,
    event,
    literal,
    literal_column,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError

EXTENSION_KEY = "streamtable.engine"

POSTGRESQL_OPTIONS = {
    # Between two FETCHes a stream is "idle in transaction" while its client reads. A
    # session that stays so this long has a stalled client or a leaked connection: the
    # server ends it, freeing its snapshot (which holds back vacuum) and its slot.
    "idle_in_transaction_session_timeout": "60s",
    # Time columns stream as their text (web/spec.py): ISO, as SQLite stores it
    # ('2026-11-20 16:00:00').
    "DateStyle": "ISO",
}
"""Settings sent when connecting to PostgreSQL. ``options`` given in the URL come after
these, so they win: ``?options=-c%20idle_in_transaction_session_timeout%3D5min``."""

STREAM_POOL = {"pool_size": 5, "max_overflow": -1, "pool_use_lifo": True}
"""A stream holds its connection from its first row to its last, so the pool must never
make one wait: the server's threads (32 a gunicorn worker) bound how many are open at once,
and 5 stay open when idle. SQLAlchemy's default (5, overflow 10, 30 s wait) failed the 16th
of 20 concurrent 1M-row streams, on SQLite and PostgreSQL alike.

Last in, first out: requests one after another take the same connection, whose counts
(:func:`count_within`) and SQLite page cache are warm. Taken in turn (the default), five
requests for q=robotics at 1M rows met five cold caches: first rows at 95-124 ms."""


def default_database_url(instance_path: str) -> str:
    return f"sqlite:///{Path(instance_path) / 'streamtable.db'}"


class DatabaseMissing(Exception):
    """The app's SQLite file is not there. Only a seed creates it (seed.py, ``make run``):
    an app that made an empty one would serve an empty table as if that were the data."""


def make_engine(url: str, must_exist: bool = False) -> Engine:
    """An engine tuned for streaming reads; used by the app and by seed.py alike.

    ``must_exist`` (the app's engine): an SQLite file is opened, never created, and a
    pooled connection is dropped once the path no longer names the file it opened (see
    :func:`_open_existing_file`).

    On PostgreSQL, connections carry :data:`POSTGRESQL_OPTIONS` (a server-side safety net:
    a stalled or leaked transaction is ended by the server) and the application name
    ``streamtable`` (so ``pg_stat_activity`` shows whose they are), unless the URL sets its
    own. Pooled connections are pinged when checked out, so a restarted server costs no
    failed request. ``postgresql://`` means psycopg 3, the driver the project installs.
    """
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        in_memory = parsed.database in (None, "", ":memory:")  # one connection, no pool
        engine = create_engine(parsed, **({} if in_memory else STREAM_POOL))
        event.listen(engine, "connect", _tune_sqlite)
        if must_exist and not in_memory:
            _open_existing_file(engine, Path(parsed.database))
            _truncate_wal_after_bulk_writes(engine, Path(f"{parsed.database}-wal"))
        return engine
    if parsed.get_backend_name() != "postgresql":
        return create_engine(parsed)
    settings = " ".join(f"-c {name}={value}" for name, value in POSTGRESQL_OPTIONS.items())
    connect_args = {
        "options": " ".join(filter(None, [settings, parsed.query.get("options")])),
        "application_name": parsed.query.get("application_name", "streamtable"),
    }
    return create_engine(parsed, connect_args=connect_args, pool_pre_ping=True, **STREAM_POOL)


SQLITE_BUSY_TIMEOUT_MS = 5000


def _tune_sqlite(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers stream while seed.py replaces the table; readers keep their snapshot.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    # Each stream holds a connection, so its page cache is paid once per concurrent stream:
    # 256 KiB (not the 2 MB default) keeps 32 streams in a worker under ~150 MB, and the
    # operating system caches the file anyway (measured: no change in rows/s at 1M rows).
    cursor.execute("PRAGMA cache_size = -256")
    # No mmap_size: mapping the file cut sorted reads by ~25%, but every page a stream
    # touched then counted in the worker's resident memory, which grew with the table
    # (+113 MB from 10k to 1M rows) though the heap stayed flat.
    cursor.close()


def _open_existing_file(engine: Engine, path: Path) -> None:
    """Open ``path`` read-write but never create it, and keep no connection to a file that
    is no longer at ``path``.

    SQLite creates a missing file on connect, so a database deleted while the app runs
    came back empty on the next request. And a connection holds the file it opened, not
    the path: after the file was deleted, or replaced by a restored copy, pooled
    connections went on reading the old one. So each connection notes the file it opened
    (device and inode), and is checked against the path when a stream takes it from the
    pool (one ``stat``, ~2 us a stream); a stale one is dropped and a new one opened.
    """

    @event.listens_for(engine, "do_connect")
    def open_existing(dialect, connection_record, cargs, cparams) -> None:
        if not path.exists():
            raise DatabaseMissing(f"no database file at {path}: seed.py creates it")
        if not str(cargs[0]).startswith("file:"):  # a URI filename is taken as given
            cargs[0] = f"file:{quote(str(path))}?mode=rw"
            cparams["uri"] = True

    @event.listens_for(engine, "connect")
    def note_file(dbapi_connection, connection_record) -> None:
        connection_record.info["file"] = _file_identity(path)

    @event.listens_for(engine, "checkout")
    def check_file(dbapi_connection, connection_record, connection_proxy) -> None:
        if connection_record.info.get("file") != _file_identity(path):
            # The pool drops this connection and opens a new one, which finds the file
            # at the path now, or raises DatabaseMissing.
            raise DisconnectionError(f"{path} is no longer the file this connection opened")


WAL_TRUNCATE_BYTES = 64 * 2**20
"""A write-ahead log bigger than this is truncated once no stream reads it. Only a bulk
write grows it so far: a reseed of 1M rows left 307 MB (issue 14), which stayed while the
app's pool kept its connections open, since SQLite deletes the log only when the last
connection closes, and reads alone never shrink it. Reads and the usual small writes
stay far below (SQLite checkpoints at 1,000 pages, ~4 MB)."""


def _truncate_wal_after_bulk_writes(engine: Engine, wal: Path) -> None:
    """When a connection comes back to the pool and the log is big, try a TRUNCATE
    checkpoint without waiting: it succeeds once no reader uses the log, i.e. when the
    last stream that began before the reseed ends. Costs one ``stat`` a stream."""

    @event.listens_for(engine, "checkin")
    def truncate_big_wal(dbapi_connection, connection_record) -> None:
        if dbapi_connection is None:  # invalidated
            return
        try:
            if wal.stat().st_size <= WAL_TRUNCATE_BYTES:
                return
        except FileNotFoundError:
            return
        # busy_timeout 0: with a reader still on the log, the checkpoint gives up at once
        # (the next stream to end tries again), rather than hold this thread 5 s.
        dbapi_connection.execute("PRAGMA busy_timeout = 0")
        try:
            dbapi_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_dev, stat.st_ino


def database_file_missing(engine: Engine) -> bool:
    """Whether ``engine`` is on an SQLite file that does not exist (yet)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return False
    return not database.startswith("file:") and not Path(database).exists()


def create_database_file(engine: Engine) -> None:
    """Create ``engine``'s SQLite file, empty, if it is missing: what a seed does first."""
    if database_file_missing(engine):
        sqlite3.connect(engine.url.database).close()


def database_url(app: Flask) -> str:
    """The app's database: ``DATABASE_URL``, or the SQLite file in its instance folder."""
    if url := app.config["DATABASE_URL"]:
        return url
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return default_database_url(app.instance_path)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = make_engine(database_url(app), must_exist=True)


def get_engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions[EXTENSION_KEY]


class QueryTimeout(Exception):
    """The database took longer than the statement timeout to produce the next rows."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no rows for {seconds:g} s")
        self.seconds = seconds


@dataclass(frozen=True)
class Plan:
    """The statements a stream runs (web/planner.py chooses them): ``head``, when there is
    one, for the first batch of rows, tried within a budget; then ``rows``, for the whole
    view or, after a head that filled its batch, for the rows after it. Both give the same
    rows in the same order."""

    rows: Select
    head: Select | None = None
    limit: int | None = None  # the most rows the two give together
    how: str = "one statement"  # which plan this is, for the log and the tests
    # PostgreSQL plans a cursor's query for its first 10% of rows (cursor_tuple_fraction);
    # True: for all of them. 1,014 counted rows of price__gte=990 by symbol were then read
    # by walking the symbol index past 61k others (66-229 ms at 1M rows), for the planner
    # expected 9,007 matches; sorted all at once they take a few ms.
    whole: bool = False

    def limited(self, rows: int | None) -> Plan:
        return self if rows is None else replace(self, limit=rows)

    def head_statement(self, first_rows: int) -> Select | None:
        if self.head is None:
            return None
        return self.head.limit(first_rows if self.limit is None else min(first_rows, self.limit))

    def rest_statement(self, skip: int) -> Select:
        statement = self.rows.offset(skip) if skip else self.rows
        return statement if self.limit is None else statement.limit(self.limit - skip)


def stream_select(
    engine: Engine,
    plan: Plan | Select,
    first_rows: int,
    fetch_rows: int,
    timeout: float | None = None,
    head_seconds: float = 0.0,
) -> Iterator[Sequence[Row]]:
    """Yield the plan's rows in lists, ``first_rows`` first, then ``fetch_rows`` at a time.

    The rows come from a server-side cursor, so memory stays flat however many rows there
    are. The connection is opened and released here, in the generator itself: closing the
    generator (the client went away) or an error ends the query and returns the connection
    to the pool at once, whichever thread does it.

    ``timeout`` bounds each step (the query's start, each fetch), not the whole stream: a
    client reading a million rows slowly is fine, a search scanning for minutes is not.
    Past it, :class:`QueryTimeout` is raised and the database stops working on the query.

    A plan's head gets ``head_seconds`` (SQLite; PostgreSQL's planner chooses for itself)
    to find the first batch; past that the head stops, the rows it found go out as the first
    batch, and ``rows`` serves the view after them (or all of it, if the head found none):
    a search for "robotics" walks its first 50 matches in ~11 ms, so a 10 ms budget would
    otherwise throw away the 40 it had and wait ~120 ms for all 25k sorted.
    Head and rest read one snapshot: one transaction holds both.
    """
    if not isinstance(plan, Plan):
        plan = Plan(plan)
    with engine.connect() as connection, _statement_timeout(connection, timeout) as step:
        sqlite = connection.dialect.name == "sqlite"
        # SQLite's cursor finds each row as it is fetched, so the first batch can go out
        # with the rows found so far (see FIRST_BATCH_SECONDS); PostgreSQL's named cursor
        # fetches a batch a round trip.
        first = _FirstBatch(first_rows if sqlite else None)
        head = plan.head_statement(first_rows)
        if head is not None and (not sqlite or head_seconds > 0):
            _one_snapshot(connection)
            found: list[Row] = []
            ended = False
            step.start()
            with step.budget(head_seconds):
                for row in connection.execute(head):  # at most first_rows rows
                    found.append(row)
                    if first.due(found):
                        yield first.sent(found)
                        found = []
                ended = True
            if found:  # the head's rows, or those found before its budget ran out
                yield first.sent(found)
            if ended and first.rows < first_rows:
                return  # the head held every row
        step.start()
        statement = plan.rest_statement(first.rows)
        if plan.whole and not sqlite:
            connection.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1")
        # pysqlite steps through the result as it is fetched, and stream_results would only
        # buffer rows ahead of the first batch (1, 5, 25 ...): a named cursor is PostgreSQL's.
        options = {} if sqlite else {"stream_results": True, "yield_per": fetch_rows}
        with connection.execution_options(**options).execute(statement) as result:
            step.start()
            if first.rows == 0 and sqlite:
                found = []
                while (row := result.fetchone()) is not None:
                    found.append(row)
                    if first.due(found):
                        break
                rows = found
            else:
                rows = result.fetchmany(first_rows)
            while rows:
                yield rows
                step.start()
                rows = result.fetchmany(fetch_rows)


FIRST_BATCH_SECONDS = 0.002
"""SQLite: the first batch goes out with the rows found within this long, at least one,
if it has not filled by then. A view whose matches lie far apart in its sort order walks
~400 rows a match (exchange=TSX&sector=Energy by symbol: 50 rows in 22 ms at 1M rows), and
its first rows need not wait for the fiftieth. 2 ms rather than 5: first rows 2-5 ms
sooner for such views (TSX&Energy 10.6-12.3 ms against 14.3-17.9 ms, medians of 5 in
two rounds taking turns, 1M rows), and the same for views that fill a batch at once."""


class _FirstBatch:
    """Whether the first batch is due: full, or late with a row in it (``limit`` None:
    only when full). Counts the rows sent by the head, which the rest then skips."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.deadline = monotonic() + FIRST_BATCH_SECONDS
        self.rows = 0

    def due(self, found: list[Row]) -> bool:
        if self.limit is None or self.rows:
            return False  # the first batch went out: the rest come as fetched
        return len(found) >= self.limit or monotonic() > self.deadline

    def sent(self, found: list[Row]) -> list[Row]:
        self.rows += len(found)
        return found


def _one_snapshot(connection: Connection) -> None:
    """Make the statements to come read one snapshot of the database, so a plan's head and
    rest never straddle a write (a reseed, a deletion) made between them."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN")  # pysqlite begins a transaction only for writes
    elif connection.dialect.name == "postgresql":
        # Read committed, the default, takes a snapshot per statement.
        connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def probe(engine: Engine, table: Table, timeout: float) -> None:
    """Read one row of ``table`` within ``timeout`` seconds, or raise: the database is
    there, holds the table, and answers. Goes through the pool as a stream would, so a
    connection to a file that is gone is noticed too."""
    with engine.connect() as connection, _statement_timeout(connection, timeout) as step:
        step.start()
        connection.execute(select(literal(1)).select_from(table).limit(1)).all()


def scalar_within(engine: Engine, statement: Executable, seconds: float) -> object | None:
    """The statement's one value, or None when the database needs longer than ``seconds``
    (it then stops working on it): for figures worth having only when they come quickly.
    A database that is missing or failing gives no figure either, and the stream that
    follows says what is wrong, on the page and in the log (web/streams.py), not a 500."""
    rows = rows_within(engine, statement, seconds)
    return rows[0][0] if rows else None


def rows_within(engine: Engine, statement: Executable, seconds: float) -> list[Row] | None:
    """The statement's rows, or None when the database needs longer than ``seconds`` (or
    fails, see :func:`scalar_within`)."""
    try:
        with (
            engine.connect() as connection,
            # Checked 20x as often as a stream's steps: a budget of milliseconds, not seconds.
            _statement_timeout(connection, seconds, sqlite_steps=1_000) as step,
        ):
            step.start()
            return list(connection.execute(statement))
    except (QueryTimeout, DatabaseMissing, OperationalError):
        return None


class _Steps:
    """A query's steps, each bounded by the statement timeout: :meth:`start` marks that a
    step starts now. :meth:`budget` also bounds one statement (a plan's head) by a shorter
    time, and gives up on it quietly when that runs out."""

    def __init__(self, connection: Connection, seconds: float | None, sqlite_steps: int) -> None:
        self.seconds = seconds
        self.dialect = connection.dialect.name
        self.deadline = float("inf")  # of the step under way
        self.budget_deadline = float("inf")
        self.sqlite_steps = sqlite_steps
        self.sqlite = connection.connection.driver_connection if self.dialect == "sqlite" else None
        if seconds and self.dialect == "postgresql":
            connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
        self._watch(sqlite_steps)

    def _watch(self, every: int) -> None:
        if self.sqlite is not None and (self.seconds or self.budget_deadline < float("inf")):
            deadlines = self  # read at each call: start() and budget() move them
            self.sqlite.set_progress_handler(
                lambda: monotonic() > min(deadlines.deadline, deadlines.budget_deadline), every
            )

    def start(self) -> None:
        if self.seconds:
            self.deadline = monotonic() + self.seconds

    @contextmanager
    def budget(self, seconds: float) -> Iterator[None]:
        """SQLite: end the statement run inside after ``seconds``, and carry on after the
        block as if it had returned nothing. PostgreSQL: no bound (its planner chose)."""
        if self.sqlite is None:
            yield
            return
        self.budget_deadline = monotonic() + seconds
        # A budget of milliseconds: checked every 1,000 steps (~1 ms), not 20,000.
        self._watch(1_000)
        try:
            yield
        except OperationalError as error:
            if not ("interrupted" in str(error.orig) and monotonic() > self.budget_deadline):
                raise
        finally:
            self.budget_deadline = float("inf")
            self._watch(self.sqlite_steps)
            if self.sqlite is not None and not self.seconds:
                self.sqlite.set_progress_handler(None, 0)

    def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.set_progress_handler(None, 0)


COUNT_CACHE_SIZE = 256
"""Counts an engine keeps (one entry a view: its SQL and values)."""


class _Counts:
    """Counts remembered by one SQLite engine for all its connections, until the data
    changes: :func:`count_within`.

    SQLite tells a connection, not a process, that the data changed: ``PRAGMA
    data_version`` moves when another connection committed since this one last asked. So
    the engine keeps one connection of its own that only ever asks that (the watcher), and
    forgets every count when the answer moves, or when the file at the path is no longer
    the one the watcher opened (a restored copy). The ``generation`` keeps a count that
    was under way during a change from being remembered after it. Kept per pooled
    connection instead, five requests in a row met five cold connections (q=robotics at
    1M rows: its count ran out of time each time, 95-124 ms to the first row).
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation = 0
        self.entries: dict[tuple, tuple[int | None, float]] = {}
        self.watcher: sqlite3.Connection | None = None
        self.watched: object = None  # the file the watcher opened
        self.version: int | None = None

    def seen(self, connection: Connection) -> int | None:
        """The generation to count under, after any change; None: nothing is remembered
        for this connection (a database that is not a file the engine checks)."""
        opened = connection.connection.info.get("file")  # see _open_existing_file
        if opened is None:
            return None
        with self.lock:
            try:
                if self.watcher is None or self.watched != opened:
                    self._watch(Path(connection.engine.url.database), opened)
                version = self.watcher.execute("PRAGMA data_version").fetchone()[0]
            except sqlite3.Error:  # the file went between the two opens: remember nothing
                self.watcher, self.watched = None, None
                self.entries.clear()
                return None
            if version != self.version:
                self.version = version
                self.entries.clear()
                self.generation += 1
            return self.generation

    def _watch(self, path: Path, opened: object) -> None:
        if self.watcher is not None:
            self.watcher.close()
        self.watcher = sqlite3.connect(
            f"file:{quote(str(path))}?mode=ro", uri=True, check_same_thread=False
        )
        self.watched, self.version = opened, None

    def get(self, key: tuple, seconds: float) -> tuple[bool, int | None]:
        """(known, count): counted, or known to take longer than ``seconds``."""
        with self.lock:
            value, tried = self.entries.get(key, (None, -1.0))
        return (value is not None or tried >= seconds), value

    def put(self, key: tuple, generation: int, value: int | None, seconds: float):
        with self.lock:
            if generation != self.generation:
                return  # the data changed while counting
            if len(self.entries) >= COUNT_CACHE_SIZE:
                self.entries.pop(next(iter(self.entries)))
            self.entries[key] = (value, seconds)


_counts: weakref.WeakKeyDictionary[Engine, _Counts] = weakref.WeakKeyDictionary()
_counts_lock = threading.Lock()


def _counts_of(engine: Engine) -> _Counts:
    with _counts_lock:
        return _counts.setdefault(engine, _Counts())


def count_within(engine: Engine, statement: Select, seconds: float) -> int | None:
    """:func:`scalar_within` for a ``COUNT``, remembered on SQLite until the data changes
    (:class:`_Counts`). The whole table's count costs 15-65 ms at 1M rows (a walk of its
    smallest index), and every visitor of the page asks for it."""
    if engine.dialect.name != "sqlite":
        return _counted_once_a_request(engine, statement, seconds)
    key = _count_key(engine, statement)
    counts = _counts_of(engine)
    try:
        with engine.connect() as connection:
            generation = counts.seen(connection)
            if generation is not None:
                known, value = counts.get(key, seconds)
                if known:
                    return value
            try:
                with _statement_timeout(connection, seconds, sqlite_steps=1_000) as step:
                    step.start()
                    value = int(connection.execute(statement).scalar())
            except QueryTimeout:
                value = None
            if generation is not None:
                counts.put(key, generation, value, seconds)
            return value
    except (DatabaseMissing, OperationalError):
        return None


def _counted_once_a_request(engine: Engine, statement: Select, seconds: float) -> int | None:
    """PostgreSQL: the count, remembered for the rest of the request (the page's early
    total and the planner ask for the same one). PostgreSQL tells no connection that the
    data changed, so nothing is remembered longer."""
    key = _count_key(engine, statement)
    counts = g.setdefault("counts", {}) if has_request_context() else {}
    if key not in counts or (counts[key][0] is None and counts[key][1] < seconds):
        plan = _explained(engine, statement, seconds)
        if plan is not None and _rows_read(plan) > seconds * POSTGRESQL_COUNTS_A_SECOND:
            value = None  # it would run out of time: not tried
        else:
            value = scalar_within(engine, statement, seconds)
        counts[key] = (None if value is None else int(value), seconds)
    return counts[key][0]


POSTGRESQL_COUNTS_A_SECOND = 10_000_000
"""Rows PostgreSQL counts in a second, about (measured at 1M rows: all of them in 64 ms,
90,859 of sector=Energy in 16 ms). A count its planner expects to read more rows than
that in its budget is not tried: the unfiltered table's spent its whole 30 ms before each
first row, and so did exchange=TSX&sector=Energy at 10M rows, whose 54,618 matches are
found among the 909,358 rows of Energy (79 ms to the first row)."""


def postgresql_estimate(engine: Engine, statement: Select, seconds: float) -> int | None:
    """How many rows PostgreSQL's planner expects ``statement``'s FROM and WHERE to give
    (``EXPLAIN``, ~1 ms), or None if it does not say in time; asked once a request."""
    plan = _explained(engine, statement, seconds)
    return None if plan is None else int(plan["Plan Rows"])


def _explained(engine: Engine, statement: Select, seconds: float) -> dict | None:
    """PostgreSQL's ``EXPLAIN`` of ``statement``'s FROM and WHERE (``EXPLAIN (FORMAT JSON)``),
    asked once a request: the count's check and the early total's estimate read it."""
    key = ("estimate", *_count_key(engine, statement))
    plans = g.setdefault("counts", {}) if has_request_context() else {}
    if key not in plans:
        rows = statement.with_only_columns(literal_column("1"))
        # Literal values: EXPLAIN takes no bound parameters. SQLAlchemy quotes them as it
        # would in any statement it renders for PostgreSQL.
        sql = rows.compile(engine, compile_kwargs={"literal_binds": True})
        plan = scalar_within(engine, text(f"EXPLAIN (FORMAT JSON) {sql}"), seconds)
        plan = json.loads(plan) if isinstance(plan, str) else plan
        plans[key] = None if plan is None else plan[0]["Plan"]
    return plans[key]


def _rows_read(plan: dict) -> float:
    """The most rows any step of ``plan`` is expected to give: what a count must read, where
    the plan's own estimate is only what remains after its filters."""
    return max([plan["Plan Rows"], *map(_rows_read, plan.get("Plans", ()))])


def _count_key(engine: Engine, statement: Select) -> tuple:
    """What tells one count from another: SQLAlchemy's cache key for the statement (what
    its own compiled-SQL cache goes by) and the values bound in it; 3 us, where compiling
    the SQL to compare took 0.44 ms, several times a page."""
    cache_key = statement._generate_cache_key()
    if cache_key is None:  # an element SQLAlchemy cannot cache: compare the SQL itself
        compiled = statement.compile(engine)
        return (str(compiled), repr(sorted(compiled.params.items())))
    return (cache_key.key, repr([bind.effective_value for bind in cache_key.bindparams]))


@contextmanager
def _statement_timeout(
    connection: Connection, seconds: float | None, sqlite_steps: int = 20_000
) -> Iterator[_Steps]:
    """Make each step of a query fail after ``seconds``; yields its :class:`_Steps`.

    PostgreSQL enforces it itself (``SET LOCAL statement_timeout`` covers the DECLARE and
    each FETCH of the named cursor). SQLite has no such setting: a progress handler, called
    every few thousand virtual machine steps, interrupts the query once the step's deadline
    has passed.
    """
    steps = _Steps(connection, seconds, sqlite_steps)
    try:
        yield steps
    except OperationalError as error:
        if seconds and _is_timeout(error, steps.dialect, steps.deadline):
            raise QueryTimeout(seconds) from error
        raise
    finally:
        steps.close()


def _is_timeout(error: OperationalError, dialect: str, deadline: float) -> bool:
    if dialect == "postgresql":
        return isinstance(error.orig, psycopg.errors.QueryCanceled)
    return "interrupted" in str(error.orig) and monotonic() > deadline
