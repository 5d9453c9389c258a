"""PostgreSQL as the app's database: named cursors, no leaks on disconnect, the server-side
safety net, index-ordered plans, the COPY load, and the same pages as on SQLite.

The rest of the suite also runs on PostgreSQL under ``scripts/with-postgres``; these tests
cover what only PostgreSQL has.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.pool import NullPool

from web import create_app, search_index, seeding, signals
from web.db import get_engine, make_engine
from web.models import STOCKS, Base, stocks
from web.seeding import SeedError, count_rows, generate_rows, seed
from web.view import View

from .conftest import POSTGRESQL_URL, SEEDED_ROWS, app_sessions, held_stream, needs_postgresql
from .harness import ROOT, wait_for

pytestmark = needs_postgresql

ABORTED_STREAMS = 100
WAIT_SECONDS = 10  # for the server to do something it was asked to; a bound, not a pause


def view_path(view: View) -> str:
    """The canonical address of ``view`` (any other form is redirected)."""
    return f"/stocks?{urlencode(view.args())}".removesuffix("?")


def test_streams_read_through_a_named_cursor(app, client, database_url):
    response, _ = held_stream(client)
    [(state, query)] = app_sessions(database_url)
    # Rows come FETCH by FETCH from a cursor the server holds; between two fetches the
    # session waits, idle, inside the stream's transaction.
    assert state == "idle in transaction"
    assert re.fullmatch(r'FETCH FORWARD \d+ FROM "c_\w+"', query), query
    response.close()
    assert app_sessions(database_url) == [("idle", "ROLLBACK")]


def test_aborted_streams_leave_no_query_transaction_or_checkout_behind(app, client, database_url):
    engine = get_engine(app)
    outcomes: list[str] = []

    def on_stream_ended(sender, report) -> None:
        outcomes.append(report.outcome)

    signals.stream_ended.connect(on_stream_ended, app)
    views = [
        view_path(View(STOCKS, key, descending))
        for key in STOCKS.sort_keys
        for descending in (False, True)
    ]
    try:
        for number in range(ABORTED_STREAMS):
            response, _ = held_stream(client, views[number % len(views)])
            assert engine.pool.checkedout() == 1, f"stream {number}: a connection leaked"
            response.close()  # what a WSGI server does when the client goes away
    finally:
        signals.stream_ended.disconnect(on_stream_ended, app)
    assert outcomes == ["aborted"] * ABORTED_STREAMS, "each stream was left midway"
    assert engine.pool.checkedout() == 0
    sessions = app_sessions(database_url)
    leftovers = [session for session in sessions if session[0] != "idle"]
    assert leftovers == [], f"{len(leftovers)} sessions still busy after the aborts"
    assert len(sessions) <= engine.pool.size()  # the pool's idle connections, nothing more


def test_app_connections_carry_the_safety_net(app):
    with get_engine(app).connect() as conn:
        assert conn.scalar(text("SHOW idle_in_transaction_session_timeout")) == "1min"
        assert conn.scalar(text("SHOW DateStyle")).startswith("ISO")
        assert conn.scalar(text("SHOW application_name")) == "streamtable"


def test_the_server_ends_a_transaction_left_open(database_url):
    # Options in the URL win over the app's own: here a timeout short enough to watch.
    quick = f"{database_url}?options=-c%20idle_in_transaction_session_timeout%3D200ms"
    engine = make_engine(quick)
    try:
        leaked = engine.connect()
        leaked.execute(text("SELECT 1"))  # begins a transaction, then forgets about it
        wait_for(
            lambda: not app_sessions(database_url),
            WAIT_SECONDS,
            "the server to end the idle transaction (it kept it open)",
        )
        leaked.invalidate()
    finally:
        engine.dispose()


def streamed_statement(app, client, path: str) -> tuple[str, dict]:
    """The SQL and parameters the app runs to stream ``path``."""
    seen: list[tuple[str, dict]] = []

    def on_execute(conn, cursor, statement, parameters, context, executemany) -> None:
        seen.append((statement, parameters))

    engine = get_engine(app)
    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        client.get(path).get_data()
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
    # The page counts its rows first (SELECT count(*)), then the stream sets its statement
    # timeout and DECLAREs its cursor for the one SELECT of its rows.
    selects = [(sql, args) for sql, args in seen if sql.startswith("SELECT")]
    [(statement, parameters)] = [(sql, args) for sql, args in selects if "count(" not in sql]
    return statement, parameters


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("key", STOCKS.sort_keys)
def test_every_sort_reads_its_index_without_sorting_the_table(app, client, key, descending):
    statement, parameters = streamed_statement(
        app, client, view_path(View(STOCKS, key, descending))
    )
    with get_engine(app).connect() as conn:
        # EXPLAIN of the DECLARE plans as for a cursor: for the first rows fast.
        plan = "\n".join(
            conn.exec_driver_sql(f"EXPLAIN DECLARE probe CURSOR FOR {statement}", parameters)
            .scalars()
            .all()
        )
    index = "ix_stocks_symbol" if key == "symbol" else f"ix_stocks_{key}_id"
    scan = "Index Scan Backward" if descending else "Index Scan"
    assert re.search(rf"{scan} using {index} on stocks\b", plan), plan
    # No sort of any kind: a plain Sort would read the whole table before the first row.
    assert "Sort" not in plan, plan


VIEWS_TO_COMPARE = [
    *(f"sort={key}&dir={direction}" for key in STOCKS.sort_keys for direction in ("asc", "desc")),
    "sector=Energy&sort=price",
    "exchange=LSE&sort=name&dir=desc",
    "q=acme",
    "q=zürich",
    "q=Ørsted",
    "q=o'brien",
    "q=<class a>",
    "q=ab&sort=updated_at",
]
VIEWS_MATCHING_NOTHING = [
    # Case folds ASCII letters only, on both: SQLite's lower(), PostgreSQL with the C ctype
    # (scripts/with-postgres). Under another ctype, PostgreSQL would find Zürich here.
    "q=ZÜRICH",
    # LIKE wildcards are escaped on both, so they match only themselves: no name has them.
    "q=%25",
    "q=_",
]


def test_views_give_the_same_rows_as_on_sqlite(database_url, new_database, tmp_path):
    sqlite_app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"})
    seed(get_engine(sqlite_app), SEEDED_ROWS, seed=1)  # the same rows as the PostgreSQL copy
    postgresql_app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    try:
        for args in VIEWS_TO_COMPARE + VIEWS_MATCHING_NOTHING:
            pages = [
                app.test_client()
                .get(f"/stocks.csv?{args}", follow_redirects=True)
                .get_data(as_text=True)
                for app in (sqlite_app, postgresql_app)
            ]
            assert pages[0] == pages[1], args
            rows = pages[0].count("\r\n") - 1
            assert rows > 0 or args in VIEWS_MATCHING_NOTHING, f"{args}: no rows to compare"
    finally:
        get_engine(sqlite_app).dispose()
        get_engine(postgresql_app).dispose()


# Loading with COPY: readers go on, the swap waits for them, the names stay the models'.


def test_readers_go_on_reading_the_old_rows_during_a_load(database_url, monkeypatch):
    engine = make_engine(database_url)
    seen_during_load: list[int] = []

    def rows_read_midway(rows, seed=0):
        blocks = generate_rows(rows, seed)
        yield next(blocks)
        with engine.connect() as conn:
            conn.execute(text("SET lock_timeout = '2s'"))  # blocked would mean an error
            seen_during_load.append(count_rows(engine))
        yield from blocks

    monkeypatch.setattr(seeding, "generate_rows", rows_read_midway)
    try:
        seed(engine, 25_000, seed=3, reset=True)
        assert seen_during_load == [SEEDED_ROWS]
        assert count_rows(engine) == 25_000
    finally:
        engine.dispose()


def waiting_for_a_lock(url: str) -> list[str]:
    """The statements of the sessions waiting for a lock on the database ``url``."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            statements = conn.scalars(
                text(
                    "SELECT query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            return statements.all()
    finally:
        engine.dispose()


@contextmanager
def load_in_background(app, rows: int = 500) -> Iterator[tuple[Engine, list, threading.Thread]]:
    """A seed of ``rows`` running on a thread of its own, over the app's database: yields
    its engine, the errors it raised (none, if it went well) and the thread."""
    loader = make_engine(get_engine(app).url.render_as_string(hide_password=False))
    errors: list[BaseException] = []

    def load() -> None:
        try:
            seed(loader, rows, seed=4, reset=True)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=load)
    thread.start()
    try:
        yield loader, errors, thread
    finally:
        thread.join(WAIT_SECONDS)
        loader.dispose()


def test_a_load_waits_for_running_streams_then_swaps(app, client, database_url):
    response, chunks = held_stream(client)
    with load_in_background(app) as (loader, errors, thread):
        try:
            wait_for(
                lambda: f"DROP TABLE IF EXISTS {stocks.name}" in waiting_for_a_lock(database_url),
                WAIT_SECONDS,
                "the load to reach the swap",
            )
            rest = b"".join(chunks)  # the held stream finishes on the old rows...
            assert f'data-rows="{SEEDED_ROWS}"'.encode() in rest
        finally:
            response.close()
        thread.join(WAIT_SECONDS)  # ...and then the load swaps its table in
        assert not thread.is_alive() and not errors
        assert count_rows(loader) == 500


def drop_attempts(url: str) -> set:
    """When each DROP of the stocks table now waiting for its lock started."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(
                conn.scalars(
                    text(
                        "SELECT query_start FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                        "AND query LIKE 'DROP TABLE%'"
                    )
                )
            )
    finally:
        engine.dispose()


def test_a_load_retries_the_swap_until_the_streams_let_go(app, client, database_url, monkeypatch):
    """Each attempt waits one short lock timeout (so new readers are not held up long);
    a stream outlasting one attempt must not make the load give up."""
    monkeypatch.setattr(seeding, "SWAP_LOCK_TIMEOUT", "100ms")
    response, chunks = held_stream(client)
    with load_in_background(app) as (loader, errors, thread):
        try:
            attempts: set = set()

            def retried() -> bool:  # the first attempt timed out, and the load tried again
                assert not errors, errors
                attempts.update(drop_attempts(database_url))
                return len(attempts) >= 2

            wait_for(retried, WAIT_SECONDS, "the load to retry the swap")
            b"".join(chunks)
        finally:
            response.close()
        thread.join(WAIT_SECONDS)
        assert not thread.is_alive() and not errors
        assert count_rows(loader) == 500


def test_a_load_gives_up_on_a_table_kept_busy_and_changes_nothing(app, client, monkeypatch):
    monkeypatch.setattr(seeding, "SWAP_WAIT_SECONDS", 1.0)
    response, chunks = held_stream(client)
    loader = make_engine(get_engine(app).url.render_as_string(hide_password=False))
    try:
        with pytest.raises(SeedError, match="busy"):
            seed(loader, 500, seed=4, reset=True)
        assert f'data-rows="{SEEDED_ROWS}"'.encode() in b"".join(chunks)
        response.close()
        assert count_rows(loader) == SEEDED_ROWS
        assert inspect(loader).get_table_names() == [stocks.name]
    finally:
        response.close()
        loader.dispose()


def schema_names(url: str) -> dict[str, list[str]]:
    """Names of the stocks table's indexes, constraints and sequence."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {
                "indexes": conn.scalars(
                    text("SELECT indexname FROM pg_indexes WHERE tablename = 'stocks' ORDER BY 1")
                ).all(),
                "constraints": conn.scalars(
                    text("SELECT conname FROM pg_constraint WHERE conrelid = 'stocks'::regclass")
                ).all(),
                "sequence": [conn.scalar(text("SELECT pg_get_serial_sequence('stocks', 'id')"))],
                "tables": sorted(inspect(conn).get_table_names()),
            }
    finally:
        engine.dispose()


def test_a_reloaded_table_has_the_names_create_all_gives(new_database):
    created = new_database()
    engine = create_engine(created, poolclass=NullPool)
    Base.metadata.create_all(engine)
    engine.dispose()
    seeded = new_database()
    engine = make_engine(seeded)
    try:
        trigram = [final for _, final in search_index.staged_index_names(STOCKS, "")]
        for rows in (100, 200):  # the first load, then a replacement
            seed(engine, rows, reset=True)
            names = schema_names(seeded)  # the model's, and the search index's beside them
            assert sorted(set(names["indexes"]) & set(trigram)) == sorted(trigram)
            names["indexes"] = [name for name in names["indexes"] if name not in trigram]
            assert names == schema_names(created)
        with engine.begin() as conn:  # the sequence continues after the loaded ids
            next_id = conn.scalar(text("SELECT nextval(pg_get_serial_sequence('stocks', 'id'))"))
        assert next_id == 201
    finally:
        engine.dispose()


def test_the_bench_runs_the_app_on_postgresql(tmp_path):
    rows = 2_000
    done = subprocess.run(
        [
            *(sys.executable, "-m", "bench", "--quick", "--skip-browser"),
            *("--sizes", str(rows), "--streams", "4", "--database", "postgresql"),
            *("--database-url", POSTGRESQL_URL, "--out", str(tmp_path / "results")),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    try:
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads((tmp_path / "results" / "latest.json").read_text())
        [row] = [r for r in report["throughput"] if r["variant"] == "streamtable"]
        assert row["complete"] and row["rows"] == rows, row
        assert row["first_row_ms"] is not None and row["peak_mb"] is not None
        assert all(r["order_ok"] for r in report["sort_orders"]["results"])
        assert report["concurrency"]["completed"] == 4
        assert report["machine"]["postgresql"]
    finally:
        admin = create_engine(POSTGRESQL_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "streamtable_bench_{rows}" WITH (FORCE)'))
        admin.dispose()
