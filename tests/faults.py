"""A database that goes away mid-stream, for tests: the next SELECT on an engine gets a
cursor that fails once it has handed out a number of rows, as a dropped connection would.

One injector for both kinds of test: the unit tests arm it on their app's engine
(``failing_after`` in tests/test_faults.py), the gated e2e server arms it when a test asks
over HTTP (``POST /_test/fault`` in tests/e2e/server.py). The production app never has it.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError


class DatabaseGone(Exception):
    """Stands in for a dropped connection, raised by the DBAPI cursor mid-stream."""


class FailingCursor:
    """A DBAPI cursor that fails once it has handed out ``after`` rows; everything but
    ``fetchmany`` and ``fetchone`` (what a stream reads with: SQLite's first batch comes a
    row at a time) goes to the real cursor."""

    def __init__(self, cursor: Any, statement: str, parameters: Any, after: int) -> None:
        self._cursor = cursor
        self._statement, self._parameters = statement, parameters
        self._left = after

    def fetchmany(self, size: int | None = None) -> list:
        if self._left <= 0:
            raise OperationalError(
                self._statement, self._parameters, DatabaseGone("connection lost")
            )
        rows = self._cursor.fetchmany() if size is None else self._cursor.fetchmany(size)
        self._left -= len(rows)
        return rows

    def fetchone(self) -> Any:
        (row,) = self.fetchmany(1) or [None]
        return row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class FaultInjector:
    """Makes the next SELECT run on ``engine`` fail after a number of rows.

    Only a stream's SELECT takes the fault (on PostgreSQL a stream first sets its timeout;
    a page first counts its rows), and only
    the next one: the page that fails is the one the test asked for, and the pages after it
    work again. Arming is locked, as a gunicorn worker streams on many threads.
    """

    def __init__(self, engine: Engine) -> None:
        self._lock = threading.Lock()
        self._armed: int | None = None
        event.listen(engine, "after_cursor_execute", self._on_cursor_execute)

    def fail_next_select_after(self, rows: int) -> None:
        with self._lock:
            self._armed = rows

    def _on_cursor_execute(self, conn, cursor, statement, parameters, context, executemany):
        # A stream's rows: a SELECT of rows, not of one count (the page's early total, its
        # estimate, the planner's lookups).
        sql = statement.lstrip().upper()
        if not sql.startswith("SELECT") or re.match(r"SELECT (COUNT|MAX)\(", sql):
            return
        with self._lock:
            after, self._armed = self._armed, None
        if after is not None:
            context.cursor = FailingCursor(cursor, statement, parameters, after)
