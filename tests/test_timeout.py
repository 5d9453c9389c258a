"""STATEMENT_TIMEOUT: a query step that takes too long ends the stream with a note."""

from __future__ import annotations

import re
from time import perf_counter

import pytest
from sqlalchemy import exists, select, true

from web import create_app
from web.db import QueryTimeout, get_engine, stream_select
from web.models import STOCKS, stocks
from web.view import View

TIMEOUT = 0.3


def slow(statement):
    """The statement, made to scan billions of row triples before its first row: slow on
    SQLite and PostgreSQL alike (minutes), and never true."""
    a, b, c = stocks.alias("a"), stocks.alias("b"), stocks.alias("c")
    triples = a.join(b, true()).join(c, true())
    never = select(a.c.id).select_from(triples).where(a.c.price + b.c.price + c.c.price < 0)
    return statement.where(exists(never))


@pytest.fixture
def timed_app(database_url: str, monkeypatch):
    original = View.statement
    monkeypatch.setattr(View, "statement", lambda view: slow(original(view)))
    app = create_app({"DATABASE_URL": database_url, "STATEMENT_TIMEOUT": TIMEOUT})
    yield app
    get_engine(app).dispose()


def test_a_slow_query_ends_the_page_with_a_note(timed_app):
    page = timed_app.test_client().get("/stocks").get_data(as_text=True)
    assert page.rstrip().endswith("</html>")
    assert f"the database took more than {TIMEOUT:g} s to find the next rows" in page
    assert 'data-outcome="timed out"' in page
    assert get_engine(timed_app).pool.checkedout() == 0


def test_the_connection_is_usable_again_after_a_timeout(timed_app):
    timed_app.test_client().get("/stocks").get_data()
    engine = get_engine(timed_app)
    with engine.connect() as conn:  # the same pooled connection: no timeout left behind
        count = conn.execute(
            select(stocks.c.id).where(stocks.c.name.like("%no such%")).limit(1)
        ).all()
    assert count == []


def test_the_timeout_bounds_each_step_not_the_whole_stream(database_url, monkeypatch):
    """A reader slower than the timeout between steps is fine: the clock runs per step."""
    clock = [1000.0]
    monkeypatch.setattr("web.db.monotonic", lambda: clock[0])
    app = create_app({"DATABASE_URL": database_url})
    engine = get_engine(app)
    rows = 0
    for batch in stream_select(
        engine, slow_free(View.default(STOCKS).statement()), 50, 100, timeout=TIMEOUT
    ):
        rows += len(batch)
        clock[0] += TIMEOUT * 10  # the client took ten timeouts to read this batch
    assert rows > 1000
    engine.dispose()


def slow_free(statement):
    """A scan that makes the database step through many rows per fetch (so SQLite's
    progress handler runs), with every row matching."""
    return statement.where(stocks.c.name.like("%"))


def test_a_slow_step_raises_query_timeout(database_url):
    app = create_app({"DATABASE_URL": database_url})
    engine = get_engine(app)
    with pytest.raises(QueryTimeout):
        list(
            stream_select(engine, slow(View.default(STOCKS).statement()), 50, 100, timeout=TIMEOUT)
        )
    assert engine.pool.checkedout() == 0
    engine.dispose()


def test_a_slow_export_is_cut_short(timed_app):
    response = timed_app.test_client().get("/stocks.csv", buffered=False)
    with pytest.raises(QueryTimeout):
        b"".join(response.response)
    response.close()


def test_a_timed_out_page_says_how_long_it_streamed(timed_app):
    """At least the timeout, and no more than the request took."""
    started = perf_counter()
    page = timed_app.test_client().get("/stocks").get_data(as_text=True)
    took = perf_counter() - started
    [seconds] = re.findall(r"streamed in ([\d.]+) s", page)
    assert TIMEOUT - 0.005 <= float(seconds) <= took + 0.005
