"""The view's total before its rows: exact within the budget, else an estimate marked so."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event, func, select, true
from werkzeug.datastructures import MultiDict

from web import counting, planner
from web.db import _counts_of, count_within, get_engine
from web.models import STOCKS, stocks
from web.view import View


def view_of(query: dict) -> View:
    return View.from_args(MultiDict(query), STOCKS, 100)


def count(app, view: View) -> int:
    with get_engine(app).connect() as conn:
        condition = view.statement().whereclause
        statement = select(func.count()).select_from(stocks)
        return conn.scalar(statement.where(true() if condition is None else condition))


@pytest.mark.parametrize("query", [{}, {"sector": "Energy"}, {"q": "solar", "price__gte": "50"}])
def test_a_quick_count_is_exact_and_in_the_markup_before_the_rows(app, client, query):
    page = client.get("/stocks", query_string=query).get_data(as_text=True)
    expected = count(app, view_of(query))
    assert f'id="total" class="total" data-total="{expected}" data-exact="true"' in page
    assert page.index('id="total"') < page.index("<tr><td>")


def test_a_count_past_its_budget_gives_an_estimate_marked_as_one(app_with, monkeypatch):
    # The count is made to run out (below); a budget of seconds, not 50 ms, keeps the
    # estimate's own queries clear of a busy machine's pauses.
    app = app_with(COUNT_SECONDS=5.0)
    client = app.test_client()
    real = counting.scalar_within
    real_count = counting.count_within
    calls = []

    def no_count(engine, statement, seconds):  # the view's count, out of time; not the sample's
        calls.append(seconds)
        return None if len(calls) == 1 else real_count(engine, statement, seconds)

    def estimating(engine, statement, seconds):
        calls.append(seconds)
        return real(engine, statement, seconds)

    monkeypatch.setattr(counting, "count_within", no_count)
    monkeypatch.setattr(counting, "scalar_within", estimating)
    view = view_of({"exchange": "NYSE"})
    with app.app_context():
        total = counting.early_total(get_engine(app), view, 5.0)
    assert not total.exact and total.rows is not None
    exact = count(app, view)
    if get_engine(app).dialect.name == "sqlite":  # the sample holds every seeded row
        assert total.rows == exact
    else:  # the planner's estimate
        assert 0.5 * exact <= total.rows <= 2 * exact, (total.rows, exact)
    assert sum(calls[:2]) <= 5.0 + 1e-9, "the count and the estimate share one budget"

    calls.clear()
    page = client.get("/stocks?exchange=NYSE").get_data(as_text=True)
    assert 'data-exact="false"' in page and "an estimate" in page
    assert f'data-rows="{exact}"' in page, "the footer has the exact count"


def test_no_budget_no_early_total(app_with):
    app = app_with(COUNT_SECONDS=0)
    page = app.test_client().get("/stocks").get_data(as_text=True)
    assert 'id="total" class="total">' in page and "data-total" not in page.split("<main>")[0]


def test_a_sample_smaller_than_its_filter_needs_gives_no_estimate(app):
    view = view_of({"symbol__exact": "NO-SUCH"})
    with app.app_context():
        assert counting._sampled_estimate(get_engine(app), view, 1.0) is None


def test_a_remembered_count_is_counted_again_once_the_data_changes(app):
    engine = get_engine(app)
    view = view_of({"sector": "Energy"})
    with app.app_context():
        before = counting.early_total(engine, view, 5.0)
        assert counting.early_total(engine, view, 5.0) == before  # remembered
        with engine.begin() as conn:  # another connection of the pool, or another process
            conn.execute(
                stocks.delete().where(
                    stocks.c.id.in_(select(stocks.c.id).where(stocks.c.sector == "Energy").limit(3))
                )
            )
        for _ in range(3):  # whichever pooled connection counts
            assert counting.early_total(engine, view, 5.0).rows == before.rows - 3


def counted(engine) -> list[str]:
    """The COUNT statements the engine runs from now on."""
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def note(conn, cursor, statement, parameters, context, executemany):
        if "count(" in statement.lower():
            statements.append(statement)

    return statements


def test_a_count_made_on_one_connection_is_remembered_for_the_others(app):
    engine = get_engine(app)
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's counts are not remembered: its planner estimates them")
    view = view_of({"sector": "Energy"})
    statement = planner.count_statement(engine, view)
    first = count_within(engine, statement, 5.0)
    statements = counted(engine)
    with engine.connect(), engine.connect():  # the pool's last-used connections are busy
        assert count_within(engine, statement, 5.0) == first
    assert statements == []


def test_a_count_under_way_when_the_data_changes_is_not_remembered(app):
    engine = get_engine(app)
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's counts are not remembered: its planner estimates them")
    counts, key = _counts_of(engine), ("SELECT count(*) FROM stocks", "[]")
    with engine.connect() as counting_one, engine.connect() as other:
        generation = counts.seen(counting_one)  # it starts counting
        counts.seen(other)
        other.execute(stocks.delete().where(stocks.c.id == 1))
        other.commit()
        counts.seen(counting_one)  # sees the change before it is done
        counts.put(key, generation, 41, 5.0)
    assert counts.get(key, 5.0) == (False, None)


def test_a_database_file_gone_while_counting_still_gives_the_count(app, monkeypatch):
    engine = get_engine(app)
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's counts are not remembered: its planner estimates them")
    counts = _counts_of(engine)
    counts.watcher = None  # opened anew for the next count, and the file is gone by then

    def gone(path, opened):
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(counts, "_watch", gone)
    statement = planner.count_statement(engine, view_of({"sector": "Energy"}))
    assert count_within(engine, statement, 5.0) == count(app, view_of({"sector": "Energy"}))


def test_a_postgresql_page_counts_its_view_once(app, client):
    engine = get_engine(app)
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's counts are remembered for every request (the tests above)")
    client.get("/stocks?sector=Energy&sort=price").get_data()  # warm: nothing is kept after
    statements = counted(engine)
    page = client.get("/stocks?sector=Energy&sort=price").get_data(as_text=True)
    assert 'data-exact="true"' in page  # the early total, and the plan, had the count
    assert len([sql for sql in statements if sql.lstrip().startswith("SELECT count(")]) == 1
