"""A large SQLite seed's search index, built in a second process (web/search_build.py): the
same index as one filled in the load's own transaction, and nothing left behind when the
load or the builder fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from web import search_build, search_index, seeding
from web.db import make_engine
from web.models import STOCKS, stocks
from web.seeding import SeedError, generate_rows, seed

from .conftest import POSTGRESQL_URL

pytestmark = pytest.mark.skipif(
    POSTGRESQL_URL is not None,
    reason="SQLite's search index, tested in the SQLite run (PostgreSQL builds its own)",
)

ROWS = 25_000
"""Three blocks of the seed: the builder starts after the first (BESIDE_ROWS below)."""

TERMS = ("obo", "Robotics", "zür", "& Co", "<Cl", "qqq")


@pytest.fixture
def url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'stocks.db'}"


@pytest.fixture
def started(monkeypatch) -> list[subprocess.Popen]:
    """The builders started by loads in this test (after the first 10,000-row block)."""
    monkeypatch.setattr(search_build, "BESIDE_ROWS", 10_000)
    builders = []
    popen = subprocess.Popen

    def record(*args, **kwargs):
        builders.append(popen(*args, **kwargs))
        return builders[-1]

    monkeypatch.setattr(search_build.subprocess, "Popen", record)
    return builders


def matches(url: str) -> dict[str, list[int]]:
    """The rows the index gives for each of TERMS, after FTS5's own check of the index
    against the table (it fails on a missing or wrong entry)."""
    engine = make_engine(url)
    fts = search_index.fts_name(STOCKS)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"INSERT INTO {fts}({fts}, rank) VALUES('integrity-check', 1)")
            index = search_index.usable_index(engine, STOCKS)
            found = select(stocks.c.id).order_by(stocks.c.id)
            return {
                term: conn.scalars(
                    found.where(search_index.fts_candidates(STOCKS, index, term))
                ).all()
                for term in TERMS
            }
    finally:
        engine.dispose()


def scratch_files(url: str) -> list[str]:
    """The builder's files left beside the database."""
    folder = Path(make_engine(url).url.database).parent
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".search-"))


def test_a_large_seed_builds_the_same_index_beside_it(url, tmp_path, monkeypatch, started):
    seed(make_engine(url), ROWS, seed=4)
    assert len(started) == 1 and started[0].returncode == 0
    beside = matches(url)
    assert all(beside[term] for term in TERMS[:-1])

    alone = f"sqlite:///{tmp_path / 'alone.db'}"
    monkeypatch.setattr(search_build, "BESIDE_ROWS", ROWS + 1)  # filled in its transaction
    seed(make_engine(alone), ROWS, seed=4)
    assert len(started) == 1
    assert matches(alone) == beside
    assert scratch_files(url) == []


def test_a_seed_that_fails_while_the_builder_runs_leaves_the_old_data(url, monkeypatch, started):
    engine = make_engine(url)
    seed(engine, 50, seed=1)
    with engine.connect() as conn:
        before = conn.execute(select(stocks).order_by(stocks.c.id)).all()
    index_before = matches(url)

    def failing_rows(rows, seed=0):
        yield from generate_rows(20_000, seed)  # the builder has started...
        raise RuntimeError("disk on fire")  # ...then the load dies

    monkeypatch.setattr(seeding, "generate_rows", failing_rows)
    with pytest.raises(RuntimeError):
        seed(engine, ROWS, seed=2, reset=True)
    assert len(started) == 1 and started[0].poll() is not None  # stopped, not left running
    with engine.connect() as conn:
        assert conn.execute(select(stocks).order_by(stocks.c.id)).all() == before
    assert matches(url) == index_before
    assert scratch_files(url) == []


def test_a_builder_that_fails_fails_the_seed_with_its_reason(url, monkeypatch, started):
    engine = make_engine(url)
    seed(engine, 50, seed=1)
    real = search_build.search_index.sqlite_create_statements

    def broken(spec, content=None, name=None):
        statements = real(spec, content, name)
        if name:  # the builder's table: a tokenizer FTS5 does not have
            statements[-1] = statements[-1].replace("'trigram'", "'nonesuch'")
        return statements

    monkeypatch.setattr(search_build.search_index, "sqlite_create_statements", broken)
    with pytest.raises(SeedError, match="nonesuch"):
        seed(engine, ROWS, seed=2, reset=True)
    assert seeding.count_rows(engine) == 50
    assert scratch_files(url) == []
