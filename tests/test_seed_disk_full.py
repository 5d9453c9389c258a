"""A disk that fills up during a seed: one clear line, a failed exit, the old data intact.

The disk fills up by SQLite's own limit on the database's size (``PRAGMA max_page_count``,
set on every connection the load opens), which fails writes with the same error as a full
disk: SQLITE_FULL, "database or disk is full". SQLite rolls the transaction back by itself
then, which the load must not trip over.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event, select

import seed as seed_cli
from web.db import make_engine
from web.models import stocks
from web.seeding import SeedError, seed

SPARE_PAGES = 8
"""Pages the database may grow by: far fewer than 20,000 new rows need."""


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'full.db'}"


def all_rows(url: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(stocks).order_by(stocks.c.id)).all()
    finally:
        engine.dispose()


@pytest.fixture
def seeded_then_full(url: str) -> Iterator[list[tuple]]:
    """50 rows, then a disk with room for only a few more pages; yields the 50 rows."""
    engine = make_engine(url)
    seed(engine, 50, seed=1)
    with engine.connect() as conn:
        limit = conn.exec_driver_sql("PRAGMA page_count").scalar() + SPARE_PAGES
    engine.dispose()
    before = all_rows(url)

    def fill_up(dbapi_connection, connection_record) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {limit}")

    event.listen(Engine, "connect", fill_up)  # every engine: the CLI makes its own
    try:
        yield before
    finally:
        event.remove(Engine, "connect", fill_up)


def test_a_full_disk_fails_the_seed_with_its_own_words_and_keeps_the_data(url, seeded_then_full):
    engine = make_engine(url)
    try:
        with pytest.raises(SeedError) as raised:
            seed(engine, 20_000, seed=2, reset=True)
    finally:
        engine.dispose()
    assert str(raised.value) == (
        "database error: database or disk is full; the table is as it was before"
    )
    assert all_rows(url) == seeded_then_full


def test_the_cli_says_so_in_one_line_and_exits_non_zero(url, seeded_then_full):
    result = CliRunner().invoke(
        seed_cli.main, ["--rows", "20000", "--reset", "--database-url", url]
    )
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        "Error: database error: database or disk is full; the table is as it was before"
    )
    assert "Traceback" not in result.output and "cannot rollback" not in result.output
    assert all_rows(url) == seeded_then_full
