"""An SQLite file deleted while the app runs: an error that the page and the log name, never
a new empty database; and once the file is back, the app reads it, not the one it lost.

Only a seed creates the file (seed.py, ``make run``); see web/db.py.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from web.db import get_engine

from .conftest import SEEDED_ROWS


@pytest.fixture
def path(app) -> Path:
    if get_engine(app).dialect.name != "sqlite":
        pytest.skip("a PostgreSQL database is not a file the app could delete or create")
    return Path(make_url(str(get_engine(app).url)).database)


def delete(path: Path) -> Path:
    """Move the database (and its WAL files) aside, as an operator's ``rm`` would; returns
    where the main file went, to restore it from, as from a backup."""
    backup = path.with_suffix(".backup")
    shutil.copyfile(path, backup)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return backup


def test_a_deleted_database_is_an_error_the_page_and_log_name_not_a_new_file(
    app, client, path, caplog
):
    assert client.get("/stocks").get_data(as_text=True).count("<tr><td>") == SEEDED_ROWS
    assert get_engine(app).pool.checkedin() >= 1, "a pooled connection to the old file"
    delete(path)

    with caplog.at_level(logging.ERROR):
        page = client.get("/stocks").get_data(as_text=True)
    assert "The table cannot be shown: its database is missing" in page
    assert "<tr><td>" not in page and 'data-outcome="failed"' in page
    (record,) = [r for r in caplog.records if "failed after" in r.getMessage()]
    assert "missing database error" in record.getMessage()
    assert f"no database file at {path}" in str(record.exc_info[1])
    assert not path.exists(), "the app made an empty database in its place"


def test_a_new_connection_never_creates_the_missing_file(app, client, path):
    get_engine(app).dispose()  # no pooled connection: the next request opens a new one
    delete(path)
    assert "database is missing" in client.get("/stocks").get_data(as_text=True)
    assert not path.exists(), "the app made an empty database in its place"


def test_once_the_file_is_restored_the_pool_reads_it_again(app, client, path):
    client.get("/stocks").get_data()
    backup = delete(path)
    assert "database is missing" in client.get("/stocks").get_data(as_text=True)

    shutil.copyfile(backup, path)  # a new file at the path: restored from the backup
    page = client.get("/stocks").get_data(as_text=True)
    assert page.count("<tr><td>") == SEEDED_ROWS and 'data-outcome="completed"' in page


def test_a_replaced_file_is_read_not_the_one_pooled_connections_opened(app, client, path):
    client.get("/stocks").get_data()
    assert get_engine(app).pool.checkedin() >= 1, "a pooled connection to the old file"
    copy = path.with_suffix(".copy")
    shutil.copyfile(path, copy)
    with sqlite3.connect(copy) as db:  # the restored copy differs: one stock fewer
        db.execute("DELETE FROM stocks WHERE id = (SELECT min(id) FROM stocks)")
    db.close()
    delete(path)
    copy.rename(path)

    page = client.get("/stocks").get_data(as_text=True)
    assert page.count("<tr><td>") == SEEDED_ROWS - 1
    # The count remembered from the old file is forgotten with it.
    assert f'data-total="{SEEDED_ROWS - 1}" data-exact="true"' in page
