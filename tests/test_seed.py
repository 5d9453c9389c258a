"""seed.py and the functions behind it: deterministic, atomic, and strict about input.

They run on the database engine under test (see conftest.py); PostgreSQL's own loading
behaviour (readers during a load, the swap) is in test_postgresql.py.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy import String, cast, func, inspect, select
from sqlalchemy.engine import make_url

from web import search_index, seeding
from web.db import make_engine
from web.models import STOCKS, stocks
from web.seeding import SeedError, count_rows, generate_rows, seed

from .harness import ROOT


def all_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(select(stocks).order_by(stocks.c.id)).all()


@pytest.fixture
def engine(new_database):
    engine = make_engine(new_database())
    yield engine
    engine.dispose()


def test_same_seed_gives_the_same_rows():
    assert list(generate_rows(25_000, seed=3)) == list(generate_rows(25_000, seed=3))


def test_another_seed_gives_other_rows():
    assert list(generate_rows(100, seed=3)) != list(generate_rows(100, seed=4))


def test_symbols_are_unique_and_rows_are_complete(engine):
    seed(engine, 20_000, seed=5)
    with engine.connect() as conn:
        distinct = conn.scalar(select(func.count(stocks.c.symbol.distinct())))
        nulls = conn.scalar(
            select(func.count()).where(stocks.c.name.is_(None) | stocks.c.updated_at.is_(None))
        )
    assert distinct == 20_000
    assert nulls == 0


def test_names_exercise_escaping():
    names = {row[2] for block in generate_rows(20_000, seed=0) for row in block}
    for needle in ("&", "<", '"', "'"):
        assert any(needle in name for name in names), needle
    assert any(not name.isascii() for name in names)


def test_timestamps_read_back_as_the_generated_text(engine):
    seed(engine, 10, seed=0)
    generated = next(generate_rows(10, seed=0))[0][-1]
    with engine.connect() as conn:
        # The view reads the timestamp as text; both databases must print it the same way.
        as_text = conn.scalar(select(cast(stocks.c.updated_at, String)).where(stocks.c.id == 1))
        parsed = conn.scalar(select(stocks.c.updated_at).where(stocks.c.id == 1))
    assert as_text == generated == parsed.isoformat(" ")


def test_refuses_a_non_empty_table_without_reset(engine):
    seed(engine, 50, seed=1)
    before = all_rows(engine)
    with pytest.raises(SeedError, match="--reset"):
        seed(engine, 80, seed=2)
    assert all_rows(engine) == before


def journal_mode(engine) -> str:
    """The file's own journal mode, as a plain connection finds it (the app's connections
    set WAL themselves: web/db.py)."""
    connection = sqlite3.connect(engine.url.database)
    try:
        return connection.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        connection.close()


def test_a_first_load_is_written_once_and_leaves_the_file_in_wal(engine, monkeypatch):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's journal: PostgreSQL has its own")
    modes = []
    real = seeding.replace_rows

    def seen(engine, blocks, progress=lambda rows, stage: None):
        def watched():
            for block in blocks:
                modes.append(journal_mode(engine))
                yield block

        return real(engine, watched(), progress)

    monkeypatch.setattr(seeding, "replace_rows", seen)
    seed(engine, 20, seed=1)
    assert journal_mode(engine) == "wal"
    seed(engine, 30, seed=2, reset=True)
    assert modes == ["delete", "wal"]  # a reseed keeps WAL: readers read the old rows


def test_reset_replaces_the_rows(engine):
    seed(engine, 50, seed=1)
    result = seed(engine, 80, seed=2, reset=True)
    assert (result.rows, result.replaced) == (80, 50)
    assert count_rows(engine) == 80
    assert all_rows(engine)[0][1] == next(generate_rows(80, seed=2))[0][1]


def data_tables(engine) -> list[str]:
    """The tables in the database, less SQLite's full-text index and its shadow tables."""
    fts = search_index.fts_name(STOCKS)
    tables = inspect(engine).get_table_names()
    return [t for t in tables if t != fts and not t.startswith(f"{fts}_")]


def test_indexes_keep_the_model_names_across_reloads(engine):
    for rows in (30, 40):
        seed(engine, rows, reset=True)
        found = {index["name"] for index in inspect(engine).get_indexes(stocks.name)}
        trigram = {final for _, final in search_index.staged_index_names(STOCKS, "")}
        assert found - trigram == {index.name for index in stocks.indexes}
        assert found & trigram == (trigram if engine.dialect.name == "postgresql" else set())
        assert data_tables(engine) == [stocks.name]


@pytest.mark.parametrize("failure", [RuntimeError("disk on fire"), KeyboardInterrupt()])
def test_a_failed_load_leaves_the_previous_data(engine, monkeypatch, failure):
    seed(engine, 50, seed=1)
    before = all_rows(engine)

    def failing_rows(rows, seed=0):
        yield from generate_rows(20_000, seed)  # two blocks written...
        raise failure  # ...then the load dies

    monkeypatch.setattr(seeding, "generate_rows", failing_rows)
    with pytest.raises(type(failure)):
        seed(engine, 30_000, seed=2, reset=True)
    assert all_rows(engine) == before
    assert data_tables(engine) == [stocks.name]  # nothing half-built left


def test_negative_rows_are_refused(engine):
    with pytest.raises(SeedError):
        seed(engine, -1)


def run_seed(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "seed.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def count_rows_at(url: str) -> int:
    engine = make_engine(url)
    try:
        return count_rows(engine)
    finally:
        engine.dispose()


def test_cli_seeds_and_reports(new_database):
    url = new_database()
    done = run_seed("--rows", "1200", "--seed", "9", "--database-url", url)
    assert done.returncode == 0, done.stderr
    assert "Seeded 1,200 stocks" in done.stdout
    password = make_url(url).password
    assert not password or password not in done.stdout + done.stderr
    assert count_rows_at(url) == 1200


def test_cli_on_a_non_empty_table_says_what_it_would_do(new_database):
    url = new_database()
    run_seed("--rows", "100", "--database-url", url)
    refused = run_seed("--rows", "300", "--database-url", url)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "Error: the stocks table already has 100 rows; "
        "pass --reset to replace them with 300 new rows"
    )
    kept = run_seed("--rows", "300", "--database-url", url, "--if-empty")
    assert kept.returncode == 0
    assert count_rows_at(url) == 100


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rows", "-5"], "is not in the range"),
        (["--rows", "many"], "is not a valid integer"),
        (["--database-url", "not a url"], "Could not parse"),
        (["--database-url", "sqlite:////nonexistent/dir/x.db"], "unable to open database file"),
        (["--database-url", "postgresql+psycopg://u@127.0.0.1:9/db"], "database error"),
        (["--database-url", "mysql://u@127.0.0.1:9/db"], "database"),
    ],
)
def test_cli_bad_arguments_give_one_line_and_fail(args, message):
    done = run_seed("--rows", "10", *args) if args[0] != "--rows" else run_seed(*args)
    assert done.returncode != 0
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ")
    assert message in lines[0]
