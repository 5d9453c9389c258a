"""After a reseed while streams read the old data, SQLite's write-ahead log is truncated once
the last of those streams ends: it does not stay at the size of the whole load."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from web import db
from web.db import get_engine, make_engine
from web.seeding import seed

from .conftest import held_stream

THRESHOLD = 2**20
"""WAL_TRUNCATE_BYTES for the test: a 20,000-row reseed writes ~6 MB of log."""


@pytest.fixture
def wal(app, monkeypatch) -> Path:
    if get_engine(app).dialect.name != "sqlite":
        pytest.skip("PostgreSQL has no write-ahead log file next to the database")
    monkeypatch.setattr(db, "WAL_TRUNCATE_BYTES", THRESHOLD)
    return Path(make_url(str(get_engine(app).url)).database + "-wal")


def test_the_log_of_a_reseed_is_truncated_when_the_last_old_reader_leaves(
    app, client, database_url, wal
):
    reading, _ = held_stream(client)  # a stream on the old data, holding its snapshot
    writer = make_engine(database_url)
    try:
        seed(writer, 20_000, seed=4, reset=True)
    finally:
        writer.dispose()
    assert wal.stat().st_size > THRESHOLD, "the reseed went through the log"

    client.get("/stocks?q=A").get_data()  # a new stream ends: the old one still reads
    assert wal.stat().st_size > THRESHOLD

    reading.close()  # the last reader of the old data leaves
    assert wal.stat().st_size == 0
    page = client.get("/stocks?q=A").get_data(as_text=True)
    assert 'data-outcome="completed"' in page
