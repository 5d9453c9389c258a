"""A stream that fails, or reaches its limit, still ends well-formed and says so."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from web import create_app
from web.db import get_engine

from .conftest import SEEDED_ROWS, held_stream
from .faults import FaultInjector
from .test_htmx import parse_parts


@pytest.fixture
def failing_after(app: Flask) -> Callable[[int], None]:
    """Call it with a number of rows: the app's next query fails once it has handed out
    that many (tests/faults.py, the injector the e2e server uses too)."""
    return FaultInjector(get_engine(app)).fail_next_select_after


def test_a_database_failure_mid_stream_ends_the_page_cleanly(app, client, failing_after, caplog):
    failing_after(1000)
    with caplog.at_level(logging.ERROR):
        page = client.get("/stocks").get_data(as_text=True)
    assert page.rstrip().endswith("</html>"), "a well-formed end"
    assert 0 < page.count("<tr><td>") < SEEDED_ROWS
    assert 'role="alert">The table stopped early: the database failed after' in page
    assert 'data-outcome="failed"' in page
    [record] = [r for r in caplog.records if "failed after" in r.getMessage()]
    assert "/stocks" in record.getMessage() and record.exc_info
    reference = record.getMessage().rsplit("reference ", 1)[1].rstrip(")")
    assert f"error reference {reference}" in page
    assert get_engine(app).pool.checkedout() == 0


def test_a_failure_mid_restream_ends_with_a_notice_part(client, failing_after):
    failing_after(1000)
    response = client.get("/stocks", headers={"HX-Request": "true"})
    parts = parse_parts(response.get_data(), response.headers["Content-Type"])
    summary, facets = parts[-2], parts[-1]
    notice = parts[-3]
    assert notice["HX-Target"] == "#rows" and facets["HX-Target"] == "#facets"
    assert "The table stopped early" in notice.get_payload(decode=True).decode()
    assert 'data-outcome="failed"' in summary.get_payload(decode=True).decode()


def test_a_failing_export_is_cut_short_not_passed_off_as_complete(app, client, failing_after):
    failing_after(1000)
    response = client.get("/stocks.csv", buffered=False)
    with pytest.raises(OperationalError):
        b"".join(response.response)
    response.close()
    assert get_engine(app).pool.checkedout() == 0


def test_the_row_limit_ends_the_page_with_a_note(database_url):
    app = create_app({"DATABASE_URL": database_url, "MAX_ROWS": 1234})
    page = app.test_client().get("/stocks").get_data(as_text=True)
    assert page.count("<tr><td>") == 1234
    assert "Showing the first 1,234 rows" in page
    assert 'data-outcome="limited"' in page and 'data-rows="1234"' in page
    exported = app.test_client().get("/stocks.csv").get_data(as_text=True)
    assert exported.count("\r\n") == SEEDED_ROWS + 1, "exports are not limited"
    get_engine(app).dispose()


def test_a_view_within_the_limit_is_complete(database_url):
    app = create_app({"DATABASE_URL": database_url, "MAX_ROWS": SEEDED_ROWS})
    page = app.test_client().get("/stocks").get_data(as_text=True)
    assert 'data-outcome="completed"' in page and "Showing the first" not in page
    get_engine(app).dispose()


def test_every_stream_logs_one_structured_line(app, client, caplog):
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        client.get("/stocks?sector=Energy&sort=price").get_data()
        response, _ = held_stream(client, "/stocks")
        response.close()
    lines = [
        json.loads(r.getMessage().removeprefix("stream "))
        for r in caplog.records
        if r.getMessage().startswith("stream {")
    ]
    completed, aborted = lines
    assert completed["path"] == "/stocks?sort=price&sector=Energy"
    assert completed["outcome"] == "completed" and completed["aborted"] is False
    assert 0 < completed["rows"] < SEEDED_ROWS and completed["bytes"] > completed["rows"] * 100
    assert 0 < completed["first_rows_seconds"] <= completed["seconds"]
    assert aborted["path"] == "/stocks" and aborted["aborted"] is True
    assert aborted["rows"] == 50


def test_a_json_document_cut_short_is_not_valid_json(app, client, failing_after):
    failing_after(1000)
    response = client.get("/stocks.json", buffered=False)
    received = []
    with pytest.raises(OperationalError):
        for chunk in response.response:
            received.append(chunk)
    response.close()
    body = b"".join(received)
    assert body.count(b'"symbol":') >= 1000, "rows went out before the failure"
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
