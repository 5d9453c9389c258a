"""Each streaming setting changes what a reader gets: CHUNK_ROWS, FLUSH_SECONDS, MAX_ROWS."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import text

from web.db import get_engine

from .conftest import SEEDED_ROWS


def row_groups(page: str) -> list[int]:
    """The number of rows in each row group of a page, in order."""
    groups = re.findall(r'<tbody class="g">(.*?)</tbody>', page, re.S)
    return [group.count("<tr>") for group in groups]


def test_chunk_rows_sets_the_rows_per_row_group(app_with):
    """The first batch goes alone, then whole fetches gather until CHUNK_ROWS is reached;
    a long FLUSH_SECONDS keeps time out of it."""
    app = app_with(FIRST_BATCH_ROWS=50, FETCH_ROWS=100, CHUNK_ROWS=700, FLUSH_SECONDS=3600)
    page = app.test_client().get("/stocks").get_data(as_text=True)
    assert row_groups(page) == [50, 700, 700, 700, 700, 150]


def test_flush_seconds_zero_sends_every_fetch_as_its_own_group(app_with):
    app = app_with(FIRST_BATCH_ROWS=50, FETCH_ROWS=100, CHUNK_ROWS=10_000, FLUSH_SECONDS=0)
    page = app.test_client().get("/stocks").get_data(as_text=True)
    assert row_groups(page) == [50] + [100] * 29 + [50]


def remove_one_row(app: Flask) -> None:
    with get_engine(app).begin() as conn:
        conn.execute(text("DELETE FROM stocks WHERE id = (SELECT max(id) FROM stocks)"))


@pytest.mark.parametrize(
    ("table_rows", "max_rows", "limited"),
    [
        (SEEDED_ROWS, SEEDED_ROWS, False),
        (SEEDED_ROWS, SEEDED_ROWS - 1, True),
        (SEEDED_ROWS - 1, SEEDED_ROWS - 1, False),
        (SEEDED_ROWS - 1, SEEDED_ROWS - 2, True),
    ],
)
def test_max_rows_limits_the_page_and_says_so_only_when_rows_were_left_out(
    app_with, table_rows, max_rows, limited
):
    """A limit equal to the table's size leaves nothing out; one less does. Odd and even
    limits both, because the app asks the database for one row more than it shows."""
    assert SEEDED_ROWS % 2 == 0
    app = app_with(MAX_ROWS=max_rows)
    if table_rows < SEEDED_ROWS:
        remove_one_row(app)
    page = app.test_client().get("/stocks").get_data(as_text=True)
    shown = min(table_rows, max_rows)
    assert page.count("<tr><td>") == shown
    assert f'data-rows="{shown}"' in page
    assert f'data-outcome="{"limited" if limited else "completed"}"' in page
    # The notice is a row of the table, an alert cell where the rows end.
    notices = re.findall(r'<td colspan="\d+" role="alert">([^<]*)', page)
    if limited:
        [notice] = notices
        assert f"Showing the first {max_rows:,} rows" in notice
    else:
        assert notices == []
