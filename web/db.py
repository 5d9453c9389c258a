"""The database engine and the one way rows leave it: :func:`stream_select`.

SQLite (a file in the instance folder) is the default; ``DATABASE_URL=postgresql+psycopg://``
selects PostgreSQL, where ``stream_select`` reads through a named (server-side) cursor.
docs/postgresql.md says how to set it up and which server-side limits to add.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from time import monotonic

import psycopg
from flask import Flask, current_app
from sqlalchemy import Connection, Engine, Executable, Row, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

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

STREAM_POOL = {"pool_size": 5, "max_overflow": -1}
"""A stream holds its connection from its first row to its last, so the pool must never
make one wait: the server's threads (32 a gunicorn worker) bound how many are open at once,
and 5 stay open when idle. SQLAlchemy's default (5, overflow 10, 30 s wait) failed the 16th
of 20 concurrent 1M-row streams, on SQLite and PostgreSQL alike."""


def default_database_url(instance_path: str) -> str:
    return f"sqlite:///{Path(instance_path) / 'streamtable.db'}"


def make_engine(url: str) -> Engine:
    """An engine tuned for streaming reads; used by the app and by seed.py alike.

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
        return engine
    if parsed.get_backend_name() != "postgresql":
        return create_engine(parsed)
    settings = " ".join(f"-c {name}={value}" for name, value in POSTGRESQL_OPTIONS.items())
    connect_args = {
        "options": " ".join(filter(None, [settings, parsed.query.get("options")])),
        "application_name": parsed.query.get("application_name", "streamtable"),
    }
    return create_engine(parsed, connect_args=connect_args, pool_pre_ping=True, **STREAM_POOL)


def _tune_sqlite(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers stream while seed.py replaces the table; readers keep their snapshot.
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA busy_timeout = 5000")
    # Each stream holds a connection, so its page cache is paid once per concurrent stream:
    # 256 KiB (not the 2 MB default) keeps 32 streams in a worker under ~150 MB, and the
    # operating system caches the file anyway (measured: no change in rows/s at 1M rows).
    cursor.execute("PRAGMA cache_size = -256")
    # No mmap_size: mapping the file cut sorted reads by ~25%, but every page a stream
    # touched then counted in the worker's resident memory, which grew with the table
    # (+113 MB from 10k to 1M rows) though the heap stayed flat.
    cursor.close()


def init_app(app: Flask) -> None:
    url = app.config["DATABASE_URL"]
    if not url:
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        url = default_database_url(app.instance_path)
    app.extensions[EXTENSION_KEY] = make_engine(url)


def get_engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions[EXTENSION_KEY]


class QueryTimeout(Exception):
    """The database took longer than the statement timeout to produce the next rows."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no rows for {seconds:g} s")
        self.seconds = seconds


def stream_select(
    engine: Engine,
    statement: Executable,
    first_rows: int,
    fetch_rows: int,
    timeout: float | None = None,
) -> Iterator[Sequence[Row]]:
    """Yield the statement's rows in lists, ``first_rows`` first, then ``fetch_rows`` at a time.

    The rows come from a server-side cursor, so memory stays flat however many rows there
    are. The connection is opened and released here, in the generator itself: closing the
    generator (the client went away) or an error ends the query and returns the connection
    to the pool at once, whichever thread does it.

    ``timeout`` bounds each step (the query's start, each fetch), not the whole stream: a
    client reading a million rows slowly is fine, a search scanning for minutes is not.
    Past it, :class:`QueryTimeout` is raised and the database stops working on the query.
    """
    with engine.connect() as connection, _statement_timeout(connection, timeout) as step:
        options = {"stream_results": True, "yield_per": fetch_rows}
        step()
        with connection.execution_options(**options).execute(statement) as result:
            step()
            rows = result.fetchmany(first_rows)
            while rows:
                yield rows
                step()
                rows = result.fetchmany(fetch_rows)


def scalar_within(engine: Engine, statement: Executable, seconds: float) -> object | None:
    """The statement's one value, or None when the database needs longer than ``seconds``
    (it then stops working on it): for figures worth having only when they come quickly."""
    try:
        with (
            engine.connect() as connection,
            # Checked 20x as often as a stream's steps: a budget of milliseconds, not seconds.
            _statement_timeout(connection, seconds, sqlite_steps=1_000) as step,
        ):
            step()
            return connection.execute(statement).scalar()
    except QueryTimeout:
        return None


@contextmanager
def _statement_timeout(
    connection: Connection, seconds: float | None, sqlite_steps: int = 20_000
) -> Iterator[Callable]:
    """Make each step of a query fail after ``seconds``; yields "a step starts now".

    PostgreSQL enforces it itself (``SET LOCAL statement_timeout`` covers the DECLARE and
    each FETCH of the named cursor). SQLite has no such setting: a progress handler, called
    every few thousand virtual machine steps, interrupts the query once the step's deadline
    has passed.
    """
    if not seconds:
        yield lambda: None
        return
    dialect = connection.dialect.name
    deadline = [float("inf")]

    def step() -> None:
        deadline[0] = monotonic() + seconds

    if dialect == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {int(seconds * 1000)}")
    elif dialect == "sqlite":
        sqlite = connection.connection.driver_connection
        sqlite.set_progress_handler(lambda: monotonic() > deadline[0], sqlite_steps)
    try:
        yield step
    except OperationalError as error:
        if _is_timeout(error, dialect, deadline[0]):
            raise QueryTimeout(seconds) from error
        raise
    finally:
        if dialect == "sqlite":
            sqlite.set_progress_handler(None, 0)


def _is_timeout(error: OperationalError, dialect: str, deadline: float) -> bool:
    if dialect == "postgresql":
        return isinstance(error.orig, psycopg.errors.QueryCanceled)
    return "interrupted" in str(error.orig) and monotonic() > deadline
