"""Fixtures shared by the unit tests: a seeded database, the app, its client and CLI runner.

The suite runs on SQLite, or on PostgreSQL when ``STREAMTABLE_TEST_DATABASE_URL`` names a
database whose role may create databases (``scripts/with-postgres`` starts a throwaway
server and sets it; ``make test`` runs the suite both ways). Either way each test gets a
database of its own: a copy of an SQLite file, or a PostgreSQL database created from a
template that is seeded once per session.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from web import create_app
from web.db import get_engine, make_engine
from web.models import STOCKS
from web.seeding import seed

SEEDED_ROWS = 3_000

POSTGRESQL_URL = os.environ.get("STREAMTABLE_TEST_DATABASE_URL") or None
needs_postgresql = pytest.mark.skipif(
    POSTGRESQL_URL is None,
    reason="needs STREAMTABLE_TEST_DATABASE_URL (a PostgreSQL server); `make test` provides it",
)


def app_sessions(url: str) -> list[tuple[str, str]]:
    """(state, last query) of each session the app has open on the PostgreSQL database
    ``url``, seen from a connection of its own: "idle" when pooled, "active" while running a
    query, "idle in transaction" between two fetches of a stream."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT state, query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = 'streamtable'"
                )
            )
            return [(state, query) for state, query in rows]
    finally:
        engine.dispose()


class Databases(Protocol):
    """Makes throwaway databases of the engine under test, returned as URLs."""

    def create(self, template: str | None = None) -> str:
        """A new database: empty, or a copy of ``template`` (a URL from ``create``)."""

    def drop(self, url: str) -> None: ...

    def close(self) -> None: ...


class SQLiteDatabases:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._names = itertools.count()

    def create(self, template: str | None = None) -> str:
        path = self.directory / f"db{next(self._names)}.db"
        if template:
            shutil.copyfile(make_url(template).database, path)
        return f"sqlite:///{path}"

    def drop(self, url: str) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(make_url(url).database + suffix).unlink(missing_ok=True)

    def close(self) -> None:
        pass


class PostgreSQLDatabases:
    """Databases on the server ``url`` points at, named after this process so that two
    runs on one server do not collide; every one made is dropped by :meth:`close`."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self._admin = create_engine(self.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self._names = (f"streamtable_test_{os.getpid()}_{n}" for n in itertools.count())
        self._made: set[str] = set()

    def create(self, template: str | None = None) -> str:
        name = next(self._names)
        statement = f'CREATE DATABASE "{name}"'
        if template:
            # FILE_COPY copies the files: 30 ms a database here, against 105 ms for WAL_LOG.
            statement += f' TEMPLATE "{make_url(template).database}" STRATEGY FILE_COPY'
        with self._admin.connect() as conn:
            conn.execute(text(statement))
        self._made.add(name)
        return self.url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        with self._admin.connect() as conn:
            # FORCE: a test that failed half-way may leave a connection open.
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._made.discard(name)

    def close(self) -> None:
        for name in list(self._made):
            self.drop(self.url.set(database=name).render_as_string(hide_password=False))
        self._admin.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    made = (
        PostgreSQLDatabases(POSTGRESQL_URL)
        if POSTGRESQL_URL
        else SQLiteDatabases(tmp_path_factory.mktemp("databases"))
    )
    yield made
    made.close()


@pytest.fixture
def new_database(databases: Databases) -> Iterator[Callable[..., str]]:
    """Call it for a fresh database URL (empty, or a copy of ``template``); dropped after
    the test."""
    made: list[str] = []

    def create(template: str | None = None) -> str:
        made.append(databases.create(template))
        return made[-1]

    yield create
    for url in made:
        databases.drop(url)


@pytest.fixture(autouse=True)
def filled_first_batch(monkeypatch) -> None:
    """The first batch waits until it is full, so pages and their row groups are the same
    however loaded the machine: on SQLite it goes out after ``FIRST_BATCH_SECONDS`` with
    the rows found by then, which a loaded machine reached before 50 rows. The tests of
    that deadline (tests/test_planner.py) set it themselves; the browser tests' servers
    run with it as it is."""
    monkeypatch.setattr("web.db.FIRST_BATCH_SECONDS", 60.0)


@pytest.fixture(scope="session")
def seeded_database(databases: Databases) -> str:
    """A database seeded once per session; tests get copies of it."""
    url = databases.create()
    engine = make_engine(url)
    seed(engine, SEEDED_ROWS, seed=1)
    engine.dispose()  # PostgreSQL copies a template only while no one is connected to it
    return url


@pytest.fixture
def database_url(seeded_database: str, new_database: Callable[..., str]) -> str:
    return new_database(template=seeded_database)


@pytest.fixture
def app(database_url: str):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    yield app
    get_engine(app).dispose()


@pytest.fixture
def app_with(database_url: str) -> Iterator[Callable[..., Flask]]:
    """Call with settings to get an app over the test's database that uses them; each is
    disposed after the test."""
    made: list[Flask] = []

    def make(**settings) -> Flask:
        made.append(create_app({"TESTING": True, "DATABASE_URL": database_url, **settings}))
        return made[-1]

    yield make
    for app in made:
        get_engine(app).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def held_stream(client: FlaskClient, path: str = "/stocks", **request) -> tuple[Response, Iterator]:
    """A response with its head and first rows read, the rest not: a stream held open, as
    a WSGI server holds it for a slow client. Returns the response and its remaining chunks;
    ``response.close()`` is what a WSGI server does when the client goes away."""
    response = client.get(path, buffered=False, **request)
    chunks = iter(response.response)
    head, first_rows = next(chunks), next(chunks)
    assert b"<tr><td>" not in head and first_rows
    return response, chunks


def leave_mid_stream(app: Flask, client: FlaskClient, path: str, **request) -> tuple[int, int]:
    """Read the head and first rows of ``path``, then leave (see :func:`held_stream`).
    Returns the connections checked out of the app's pool while streaming, and after
    leaving."""
    response, _ = held_stream(client, path, **request)
    streaming = get_engine(app).pool.checkedout()
    response.close()
    return streaming, get_engine(app).pool.checkedout()


def table_cells(html: str) -> list[dict[str, str]]:
    """The rows of rendered row groups, each as {column key: cell text}, in the spec's order."""
    rows = re.findall(r"<tr>(.*?)(?=<tr>|</tbody>|</table>)", html, flags=re.DOTALL)
    cells = [re.split(r"<td(?: class=\w+)?>", row)[1:] for row in rows]
    # A cell's text: the symbol's link to its row page is markup around it.
    return [
        dict(zip(STOCKS.keys, [re.sub(r"<a [^>]*>|</a>", "", cell) for cell in row], strict=True))
        for row in cells
    ]
