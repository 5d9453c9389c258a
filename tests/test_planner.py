"""The planner reads a view's rows by other routes than its plain statement, never other rows.

Every plan (the head walking the sort index, the rest reading the matches; the head given
up when over its budget) must give exactly the rows of :meth:`View.statement`, in its order.
On SQLite the chosen routes are checked in the plans SQLite reports, and the full-text index
is checked against later writes.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import event, func, select, text
from werkzeug.datastructures import MultiDict

from web import planner, search_index
from web.db import Plan, count_within, get_engine, stream_select
from web.models import STOCKS, stocks
from web.view import View

FIRST_ROWS = 7  # small, so the head's batch and the rows after it both have rows
FOREVER = 60.0  # a head budget never used up: the head always serves the first batch
NO_TIME = 1e-9  # a head budget used up at the first check: the matches serve every row


def parse(query: str) -> View:
    return View.from_args(MultiDict(parse_qsl(query)), STOCKS, 100)


@pytest.fixture
def engine(app):
    return get_engine(app)


@pytest.fixture
def words(engine) -> dict[str, str]:
    """Search terms taken from the seeded names: the commonest word, and a substring of
    one name that no other contains."""
    with engine.connect() as conn:
        names = conn.scalars(select(stocks.c.name)).all()
    counts = Counter(word.lower() for name in names for word in name.split() if len(word) > 3)
    common = counts.most_common(1)[0][0]
    rare = next(
        piece
        for name in names
        for piece in [name[-6:].lower()]
        if sum(piece in other.lower() for other in names) == 1
    )
    return {"common": common, "rare": rare}


def plain_rows(engine, view: View, limit: int | None = None) -> list[tuple]:
    statement = view.statement() if limit is None else view.statement().limit(limit)
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(statement)]


def planned_rows(engine, view: View, seconds: float, limit: int | None = None) -> list[tuple]:
    chosen = planner.plan(engine, view).limited(limit)
    batches = stream_select(engine, chosen, FIRST_ROWS, 10, timeout=10, head_seconds=seconds)
    return [tuple(row) for batch in batches for row in batch]


VIEWS = [
    "",
    "sort=price&dir=desc",
    "sector=Energy",
    "sector=Energy&sort=price&dir=desc",
    "exchange=NYSE&exchange=LSE&sort=volume",
    "exchange=TSX&sector=Utilities&sort=change_pct&dir=desc",
    "price__gte=100&sort=name",
    "price__gte=100&sort=price",
    "price__gte=100&price__lt=120&sort=price&dir=desc",
    "price__gte=990&sort=symbol",  # few matches, spread over the sort order
    "market_cap__gte=1e9&sort=updated_at&dir=desc",
    "updated_at__lte=2026-11-30&sort=market_cap",
    "name__contains=the&sort=price",
    "name__startswith=a&sort=volume&dir=desc",
    "symbol__startswith=ab",
    "symbol__exact=AAPL",
    "q=ab",  # under 3 characters: no full-text index
    "q=zzzqqq",
    'q=a"b',
    "q=50%&sort=price",
    "q=a_b",
    "sector=Energy&q=in&sort=volume",
]


@pytest.mark.parametrize("query", VIEWS)
@pytest.mark.parametrize("seconds", [FOREVER, NO_TIME, 0.0], ids=["head", "over budget", "off"])
def test_every_plan_streams_exactly_the_rows_of_the_view(engine, query, seconds):
    view = parse(query)
    assert planned_rows(engine, view, seconds) == plain_rows(engine, view)


@pytest.mark.parametrize("kind", ["common", "rare"])
@pytest.mark.parametrize("sort", ["symbol", "price", "volume"])
@pytest.mark.parametrize("seconds", [FOREVER, NO_TIME], ids=["head", "over budget"])
def test_searches_through_the_index_give_exactly_the_matching_rows(
    engine, words, kind, sort, seconds
):
    for query in (f"q={words[kind]}&sort={sort}", f"name__contains={words[kind]}&sort={sort}"):
        view = parse(query)
        expected = plain_rows(engine, view)
        assert expected, query
        assert planned_rows(engine, view, seconds) == expected


@pytest.mark.parametrize("limit", [1, FIRST_ROWS - 1, FIRST_ROWS, FIRST_ROWS + 1, 40])
@pytest.mark.parametrize("seconds", [FOREVER, NO_TIME], ids=["head", "over budget"])
def test_the_row_cap_counts_the_head_and_the_rest_together(engine, limit, seconds):
    view = parse("sector=Energy&sort=price")
    assert planned_rows(engine, view, seconds, limit) == plain_rows(engine, view, limit)


@pytest.fixture
def sqlite_engine(engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's planner is steered; PostgreSQL's is asked (its own test is below)")
    return engine


@pytest.fixture
def postgresql_engine(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plans (SQLite's are steered, tested above)")
    return engine


def postgresql_plan(engine, statement, *disabled: str) -> str:
    """What PostgreSQL's EXPLAIN says of ``statement``, with the ``disabled`` kinds of scan
    (``seqscan``, ``indexscan``) turned off, to see which index can serve it."""
    compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        for kind in disabled:
            conn.exec_driver_sql(f"SET enable_{kind} = off")
        return " | ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}"))


def executed(engine) -> list[str]:
    """The SQL statements the engine runs from now on."""
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def note(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    return statements


def test_a_head_over_its_budget_gives_way_to_the_matches_from_the_first_row(sqlite_engine):
    engine = sqlite_engine
    view = parse("price__gte=990&sort=symbol")  # a walk of the whole table for 7 rows
    statements = executed(engine)
    rows = planned_rows(engine, view, NO_TIME)
    head, rest = statements[-2:]
    assert rows == plain_rows(engine, view)
    assert "LIMIT" in head and "OFFSET" not in rest  # the rest starts from the first row


class Ticking:
    """``web.db``'s clock, a millisecond on at each reading (the progress handler reads it
    every 1,000 SQLite steps): a budget of N ms runs out at the Nth reading."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.001
        return self.now


def test_a_head_out_of_time_sends_the_rows_it_found_then_the_rest_after_them(
    sqlite_engine, monkeypatch
):
    view = parse("price__gte=500&sort=symbol")  # matches far apart in the walk
    expected = plain_rows(sqlite_engine, view)
    monkeypatch.setattr("web.db.FIRST_BATCH_SECONDS", FOREVER)  # only the head's budget
    firsts = []
    for budget in range(2, 40):  # the budget runs out later and later in the walk
        monkeypatch.setattr("web.db.monotonic", Ticking())
        chosen = planner.plan(sqlite_engine, view)
        batches = stream_select(
            sqlite_engine, chosen, FIRST_ROWS, 10, timeout=10, head_seconds=budget / 1000
        )
        batches = [[tuple(row) for row in batch] for batch in batches]
        assert [row for batch in batches for row in batch] == expected
        firsts.append(len(batches[0]))
    assert any(0 < first < FIRST_ROWS for first in firsts), firsts  # some went out early


class Fetched:
    """Rows the database cursors have handed out, from now on."""

    def __init__(self, engine) -> None:
        self.rows = 0
        event.listen(engine, "after_cursor_execute", self._wrap)

    def _wrap(self, conn, cursor, statement, parameters, context, executemany):
        fetched, real = self, cursor

        class Counting:
            def fetchone(self):
                row = real.fetchone()
                fetched.rows += row is not None
                return row

            def fetchmany(self, size=None):
                rows = real.fetchmany() if size is None else real.fetchmany(size)
                fetched.rows += len(rows)
                return rows

            def __getattr__(self, name):
                return getattr(real, name)

        context.cursor = Counting()


@pytest.mark.parametrize("seconds", [FOREVER, 0.0], ids=["head", "no head"])
def test_a_first_batch_slow_to_fill_goes_out_with_the_rows_found(
    sqlite_engine, monkeypatch, seconds
):
    view = parse("price__gte=500&sort=symbol")
    expected = plain_rows(sqlite_engine, view)
    fetched = Fetched(sqlite_engine)
    firsts = []
    for late in range(2, 40):  # the first batch is due later and later
        monkeypatch.setattr("web.db.FIRST_BATCH_SECONDS", late / 1000)
        monkeypatch.setattr("web.db.monotonic", Ticking())
        chosen = planner.plan(sqlite_engine, view)
        stream = stream_select(
            sqlite_engine, chosen, FIRST_ROWS, 10, timeout=10, head_seconds=seconds
        )
        fetched.rows = 0
        batches = [[tuple(row) for row in next(stream)]]
        assert fetched.rows == len(batches[0]), "no row fetched before it is due"
        batches += [[tuple(row) for row in batch] for batch in stream]
        assert [row for batch in batches for row in batch] == expected
        assert all(batches), "no empty batch"
        firsts.append(len(batches[0]))
    assert any(0 < first < FIRST_ROWS for first in firsts), firsts


def test_a_head_that_fills_its_batch_hands_over_after_it(engine):
    statements = executed(engine)
    planned_rows(engine, parse("sector=Energy&sort=price"), FOREVER)
    head, rest = statements[-2:]
    assert "LIMIT" in head and "OFFSET" in rest  # the rest skips the rows the head sent


def test_the_head_and_the_rest_read_one_snapshot(engine):
    view = parse("sector=Energy&sort=price")
    before = plain_rows(engine, view)
    chosen = planner.plan(engine, view)
    batches = stream_select(engine, chosen, FIRST_ROWS, 10, timeout=10, head_seconds=FOREVER)
    rows = list(next(batches))
    assert len(rows) == FIRST_ROWS
    with engine.begin() as other:  # another connection, committed before the rest is read
        other.execute(stocks.delete().where(stocks.c.sector == "Energy"))
    rows += [row for batch in batches for row in batch]
    assert [tuple(row) for row in rows] == before
    assert plain_rows(engine, view) == []


def test_views_without_a_filter_or_with_one_on_the_sort_column_walk_the_sort_index(engine):
    for query in ("", "sort=price&dir=desc", "price__gte=100&price__lt=200&sort=price"):
        chosen = planner.plan(engine, parse(query))
        assert chosen.head is None, query
        assert str(chosen.rows) == str(parse(query).statement())


def sqlite_plan(engine, statement) -> str:
    compiled = statement.compile(engine, compile_kwargs={"literal_binds": True})
    sql = str(compiled).replace("LIMIT ?", "LIMIT -1")  # SQLite's "no limit" with an offset
    with engine.connect() as conn:
        return " | ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))


def test_sqlite_heads_walk_the_sort_index_and_rests_read_the_filters_index(sqlite_engine):
    chosen = planner.plan(sqlite_engine, parse("sector=Energy&sort=price&dir=desc"))
    head = sqlite_plan(sqlite_engine, chosen.head_statement(FIRST_ROWS))
    assert "ix_stocks_price_id" in head and "TEMP B-TREE" not in head
    rest = sqlite_plan(sqlite_engine, chosen.rest_statement(FIRST_ROWS))
    assert "ix_stocks_sector_id" in rest and "TEMP B-TREE FOR ORDER BY" in rest


def test_sqlite_searches_read_their_matches_through_the_full_text_index(sqlite_engine, words):
    for query in (f"q={words['rare']}&sort=price", f"name__contains={words['common']}"):
        rest = planner.plan(sqlite_engine, parse(query)).rest_statement(0)
        assert "VIRTUAL TABLE" in sqlite_plan(sqlite_engine, rest), query
    short = planner.plan(sqlite_engine, parse("q=ab")).rest_statement(0)
    assert "VIRTUAL TABLE" not in sqlite_plan(sqlite_engine, short)  # too short to look up


def test_the_search_index_follows_writes_made_after_the_seed(engine):
    view = parse("q=zyxwvut")
    assert planned_rows(engine, view, NO_TIME) == []
    with engine.begin() as conn:
        first = conn.scalar(select(func.min(stocks.c.id)))
        conn.execute(stocks.update().where(stocks.c.id == first).values(name="Zyxwvut Holdings"))
    assert [row[1] for row in planned_rows(engine, view, NO_TIME)] == ["Zyxwvut Holdings"]
    with engine.begin() as conn:
        conn.execute(stocks.delete().where(stocks.c.id == first))
    assert planned_rows(engine, view, NO_TIME) == []


@pytest.mark.parametrize("query", ["q=zyxwvut", "name__contains=zyxwvut"])
def test_rows_that_hold_a_terms_trigrams_apart_are_not_matches(engine, query):
    """The index knows which rows hold each trigram, not where: these rows hold every
    trigram of "zyxwvut", scattered in the name or split between symbol and name."""
    with engine.begin() as conn:
        first, second = conn.scalars(select(stocks.c.id).order_by(stocks.c.id).limit(2))
        conn.execute(stocks.update().where(stocks.c.id == first).values(name="Wvut Xwv Zyx Yxw"))
        conn.execute(
            stocks.update()
            .where(stocks.c.id == second)
            .values(symbol="ZYXW", name="Xwvut Partners")
        )
    if index := search_index.usable_index(engine, STOCKS):  # both are the index's candidates
        candidates = select(stocks.c.id).where(
            search_index.fts_candidates(STOCKS, index, "zyxwvut")
        )
        with engine.connect() as conn:
            assert set(conn.scalars(candidates)) == {first, second}
    for seconds in (FOREVER, NO_TIME):
        assert planned_rows(engine, parse(query), seconds) == []


def test_postgresql_plans_ask_its_planner_for_a_fast_start_then_the_whole(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's plans (SQLite's are steered, tested above)")
    chosen = planner.plan(engine, parse("sector=Energy&sort=price"))
    assert isinstance(chosen, Plan) and chosen.head is not None
    with engine.connect() as conn:
        indexes = conn.scalars(
            text("SELECT indexname FROM pg_indexes WHERE indexname LIKE :pattern"),
            {"pattern": f"%{search_index.indexed_columns(STOCKS)[0].key}_trgm"},
        ).all()
    assert indexes  # the seed built the trigram index the planner uses for searches


def test_postgresql_searches_can_read_their_matches_through_the_trigram_index(
    postgresql_engine, words
):
    engine = postgresql_engine
    for query in (f"q={words['rare']}", f"name__contains={words['rare']}&sort=price"):
        # The index, wherever it can serve:
        plan = postgresql_plan(engine, parse(query).statement(), "seqscan")
        assert "_trgm" in plan, (query, plan)  # an index on lower(name) served no ILIKE


@pytest.mark.parametrize("query", ["q=ab", "name__contains=ab&sort=price"])
def test_postgresql_keeps_terms_too_short_for_trigrams_off_the_index(postgresql_engine, query):
    engine = postgresql_engine
    chosen = planner.plan(engine, parse(query))
    # Only a bitmap scan left open: the trigram index's.
    plan = postgresql_plan(engine, chosen.rows, "seqscan", "indexscan")
    assert "_trgm" not in plan, plan  # it would read the whole index for no trigram
    # So is its count: through the index it read all of it, past its statement timeout.
    counted = postgresql_plan(engine, planner.count_statement(engine, parse(query)), "seqscan")
    assert "_trgm" not in counted, counted


def test_postgresql_asks_for_few_matches_without_a_limit(postgresql_engine, monkeypatch):
    engine = postgresql_engine
    view = parse("sector=Energy&sort=price")
    with engine.connect() as conn:
        energy = conn.scalar(planner.count_statement(engine, view))
    monkeypatch.setattr(planner, "POSTGRESQL_FEW_MATCHES", energy)  # no text searched
    few = planner.plan(engine, view, count_seconds=FOREVER)
    assert (few.how, few.head, few.whole) == ("the matches", None, True)
    statements = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    batches = stream_select(engine, few, FIRST_ROWS, 1_000)
    assert [tuple(row) for batch in batches for row in batch] == plain_rows(engine, view)
    # A cursor's query is planned for its first 10% of rows unless told otherwise.
    assert "SET LOCAL cursor_tuple_fraction = 1" in statements
    monkeypatch.setattr(planner, "POSTGRESQL_FEW_MATCHES", energy - 1)
    many = planner.plan(engine, view, count_seconds=FOREVER)
    assert many.head is not None  # more than that: LIMIT for the head, then the rest


def test_a_postgresql_count_expected_to_run_out_of_time_is_not_tried(engine, monkeypatch):
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's counts are remembered instead (tests/test_total.py)")
    statement = planner.count_statement(engine, parse("sector=Energy"))
    statements = executed(engine)
    assert count_within(engine, statement, FOREVER) is not None
    assert any("count(" in sql for sql in statements)
    monkeypatch.setattr("web.db.POSTGRESQL_COUNTS_A_SECOND", 1)  # a row a second
    statements.clear()
    assert count_within(engine, statement, 5.0) is None
    assert not any("count(" in sql for sql in statements), statements  # only EXPLAIN ran


def test_a_postgresql_count_is_judged_by_the_rows_it_reads_not_the_rows_it_finds(
    postgresql_engine, monkeypatch
):
    """exchange=TSX&sector=Energy at 10M rows: 54,618 matches, found among Energy's 909,358
    rows by a bitmap scan; counting them ran out of its budget before every first row."""
    engine = postgresql_engine
    statement = planner.count_statement(engine, parse("exchange=TSX&sector=Energy"))
    plan = {"Plan Rows": 10, "Plans": [{"Plan Rows": 40, "Plans": [{"Plan Rows": 1_000}]}]}
    monkeypatch.setattr("web.db._explained", lambda engine, statement, seconds: plan)
    monkeypatch.setattr("web.db.POSTGRESQL_COUNTS_A_SECOND", 100)  # 10 found, 1,000 read
    statements = executed(engine)
    assert count_within(engine, statement, 1.0) is None
    assert not any("count(" in sql for sql in statements), statements
    plan["Plans"][0]["Plans"][0]["Plan Rows"] = 90  # read within the budget: counted
    assert count_within(engine, statement, 2.0) is not None


def test_a_view_with_more_matches_than_it_may_sort_walks_the_sort_index_all_along(
    sqlite_engine, monkeypatch
):
    engine = sqlite_engine
    view = parse("sector=Energy&sort=price")
    with engine.connect() as conn:
        energy = conn.scalar(planner.count_statement(engine, view))
    monkeypatch.setattr(planner, "FEW_MATCHES", 0)  # so the head is tried under the limit
    monkeypatch.setattr(planner, "MATCHES_TO_SORT", energy - 1)
    walked = planner.plan(engine, view, count_seconds=FOREVER)
    assert (walked.how, walked.head) == ("sort index", None)
    assert "TEMP B-TREE" not in sqlite_plan(engine, walked.rest_statement(0))
    monkeypatch.setattr(planner, "MATCHES_TO_SORT", energy)
    sorted_after = planner.plan(engine, view, count_seconds=FOREVER)
    assert sorted_after.head is not None
    for chosen in (walked, sorted_after):
        batches = stream_select(engine, chosen, FIRST_ROWS, 10, head_seconds=FOREVER)
        assert [tuple(row) for batch in batches for row in batch] == plain_rows(engine, view)


def test_a_view_too_slow_to_count_walks_the_sort_index(sqlite_engine, monkeypatch):
    monkeypatch.setattr(planner, "count_within", lambda engine, statement, seconds: None)
    chosen = planner.plan(sqlite_engine, parse("sector=Energy"), count_seconds=FOREVER)
    assert (chosen.how, chosen.head) == ("sort index", None)


def test_a_search_too_slow_to_count_still_reads_its_matches_through_the_index(
    sqlite_engine, words, monkeypatch
):
    monkeypatch.setattr(planner, "count_within", lambda engine, statement, seconds: None)
    chosen = planner.plan(sqlite_engine, parse(f"q={words['common']}"), count_seconds=FOREVER)
    assert chosen.head is not None
    assert "VIRTUAL TABLE" in sqlite_plan(sqlite_engine, chosen.rest_statement(0))


def test_a_view_with_few_matches_sorts_them_at_once(sqlite_engine, monkeypatch):
    view = parse("sector=Energy&sort=price")
    with sqlite_engine.connect() as conn:
        energy = conn.scalar(planner.count_statement(sqlite_engine, view))
    monkeypatch.setattr(planner, "FEW_MATCHES", energy)
    chosen = planner.plan(sqlite_engine, view, count_seconds=FOREVER)
    assert (chosen.how, chosen.head) == ("the matches", None)
    batches = stream_select(sqlite_engine, chosen, FIRST_ROWS, 10)
    assert [tuple(row) for batch in batches for row in batch] == plain_rows(sqlite_engine, view)
    monkeypatch.setattr(planner, "FEW_MATCHES", energy - 1)
    assert planner.plan(sqlite_engine, view, count_seconds=FOREVER).head is not None
