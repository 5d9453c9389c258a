"""GET /stocks: one document, streamed in chunks from a server-side cursor."""

from __future__ import annotations

import re
import sqlite3
import tracemalloc
from datetime import datetime

import psycopg
import pytest
from sqlalchemy import event, insert

from web import create_app
from web.db import get_engine
from web.models import stocks
from web.seeding import seed

from .conftest import SEEDED_ROWS


class Counts:
    """Rows handed out by the app's cursors, and cursors closed, since the fixture began."""

    fetched = 0
    closed = 0


class CountingCursor(sqlite3.Cursor):
    """An SQLite cursor (SQLite steps through its result as it is fetched) that counts."""

    def fetchmany(self, size=None):
        rows = super().fetchmany(size) if size is not None else super().fetchmany()
        Counts.fetched += len(rows)
        return rows

    def fetchone(self):  # the first batch is fetched a row at a time; a count's one value
        row = super().fetchone()  # is not a row of the table
        Counts.fetched += row is not None and len(row) > 1
        return row

    def close(self):
        Counts.closed += 1
        super().close()


class CountingConnection(sqlite3.Connection):
    def cursor(self, factory=CountingCursor):
        return super().cursor(factory)


class CountingServerCursor(psycopg.ServerCursor):
    """A PostgreSQL named cursor that counts. Only server-side cursors are counted, so a
    query that ran client-side (the whole result read at once) would count no rows."""

    def fetchmany(self, size=0):
        rows = super().fetchmany(size)
        Counts.fetched += len(rows)
        return rows

    def close(self):
        if not self.closed:
            Counts.closed += 1
        super().close()


@pytest.fixture
def counting(app):
    """Route the app's cursors through the counting classes above; yields the counts."""
    Counts.fetched = Counts.closed = 0
    engine = get_engine(app)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "do_connect")
        def use_counting_connection(dialect, record, cargs, cparams):
            cparams["factory"] = CountingConnection

    else:

        @event.listens_for(engine, "connect")
        def use_counting_cursor(dbapi_connection, record):
            dbapi_connection.server_cursor_factory = CountingServerCursor

    engine.dispose()  # connections made from now on count
    return Counts


def stream(client, path="/stocks"):
    """The response and an iterator over its body chunks, read as a server would."""
    response = client.get(path, buffered=False)
    return response, iter(response.response)


def test_root_leads_to_the_table(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/stocks"


def test_page_is_one_document_with_head_rows_and_foot(client):
    response = client.get("/stocks")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert response.headers["X-Accel-Buffering"] == "no"
    page = response.get_data(as_text=True)
    assert page.startswith("<!doctype html>")
    assert page.rstrip().endswith("</html>")
    assert page.count("<tr><td>") == SEEDED_ROWS
    assert f'data-rows="{SEEDED_ROWS}"' in page
    assert f"{SEEDED_ROWS:,} stocks" in page


def test_rows_come_in_the_default_order(client):
    page = client.get("/stocks").get_data(as_text=True)
    symbols = re.findall(r"<tr><td>([^<]*)<td>", page)
    assert symbols == sorted(symbols)


def test_rows_come_in_several_chunks_head_first(client):
    _, chunks = stream(client)
    chunks = list(chunks)
    assert b"<tr><td>" not in chunks[0], "the head goes out before the query runs"
    row_chunks = [chunk for chunk in chunks if b"<tr><td>" in chunk]
    assert len(row_chunks) >= 4
    assert b"stream-end" in chunks[-1]


def test_first_rows_are_sent_before_the_cursor_is_exhausted(app, client, counting):
    _, chunks = stream(client)
    next(chunks)  # head
    first_rows = next(chunks)
    assert first_rows.count(b"<tr>") == app.config["FIRST_BATCH_ROWS"]
    assert 0 < counting.fetched < SEEDED_ROWS
    rest = b"".join(chunks)
    assert counting.fetched == SEEDED_ROWS
    assert b"stream-end" in rest


def test_leaving_mid_stream_closes_the_cursor_and_releases_the_connection(app, client, counting):
    engine = get_engine(app)
    response, chunks = stream(client)
    next(chunks)
    next(chunks)
    assert engine.pool.checkedout() == 1
    response.close()  # what a WSGI server does when the client goes away
    assert engine.pool.checkedout() == 0
    assert counting.closed >= 1
    assert counting.fetched < SEEDED_ROWS


def test_finishing_releases_the_connection(app, client):
    client.get("/stocks").get_data()
    assert get_engine(app).pool.checkedout() == 0


def test_more_streams_at_once_than_the_pool_keeps_all_start(app, client):
    # gunicorn gives a worker 32 threads; the pool keeps 5 connections and must not make a
    # 16th stream wait (SQLAlchemy's default pool failed it after 30 s).
    engine = get_engine(app)
    open_streams = []
    try:
        for _ in range(20):
            response, chunks = stream(client)
            next(chunks)
            assert b"<tr><td>" in next(chunks)
            open_streams.append(response)
        assert engine.pool.checkedout() == 20
    finally:
        for response in open_streams:
            response.close()
    assert engine.pool.checkedout() == 0


def test_hostile_names_render_as_text(app, client):
    hostile = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "Q&A 'Ünïcode'"]
    with get_engine(app).begin() as conn:
        conn.execute(
            insert(stocks),
            [
                dict(
                    id=100_000 + i,
                    symbol=f"ZZ{i}",
                    name=name,
                    exchange="NYSE&<",
                    sector="<b>Energy</b>",
                    price=1.0,
                    change_pct=0.0,
                    volume=1,
                    market_cap=1,
                    updated_at=datetime(2026, 1, 2, 3, 4, 5),
                )
                for i, name in enumerate(hostile)
            ],
        )
    page = client.get("/stocks").get_data(as_text=True)
    assert "<script>alert" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "Q&amp;A &#39;Ünïcode&#39;" in page
    assert "NYSE&amp;&lt;" in page


def peak_memory_streaming(database_url: str, rows: int) -> int:
    """Peak bytes Python allocated while one /stocks response streamed ``rows`` rows."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    seed(get_engine(app), rows, seed=2)
    client = app.test_client()
    client.get("/stocks").get_data()  # warm up: templates, pool, statement cache
    tracemalloc.start()
    try:
        _, chunks = stream(client)
        received = sum(len(chunk) for chunk in chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        get_engine(app).dispose()
    assert received > rows * 100
    return peak


def test_memory_does_not_grow_with_the_number_of_rows(new_database):
    small = peak_memory_streaming(new_database(), 2_000)
    large = peak_memory_streaming(new_database(), 40_000)
    # 38,000 more rows are ~5 MB more HTML; a stream that held them would grow by that.
    assert large - small < 512 * 1024, (small, large)
