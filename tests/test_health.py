"""``GET /health``: 200 while the database answers, 503 with a reason when it does not, so a
load balancer sees an outage that a page (a 200 with an error row) cannot show."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from web import create_app
from web.db import get_engine


def test_a_server_whose_database_answers_is_healthy(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"
    assert response.content_type == "text/plain; charset=utf-8"
    assert response.cache_control.no_store


@pytest.fixture
def unhealthy(tmp_path):
    """Make an app over a database URL; disposed after the test."""
    made = []

    def make(url: str):
        made.append(create_app({"TESTING": True, "DATABASE_URL": url}))
        return made[-1]

    yield make
    for app in made:
        get_engine(app).dispose()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("sqlite:///{tmp}/never-seeded.db", "the database is missing"),
        ("postgresql+psycopg://u@127.0.0.1:9/db", "the database failed"),
    ],
    ids=["sqlite-file-missing", "postgresql-refuses"],
)
def test_a_database_that_is_not_there_is_a_503_with_its_reason(
    unhealthy, tmp_path, caplog, url, reason
):
    app = unhealthy(url.format(tmp=tmp_path))
    with caplog.at_level(logging.WARNING):
        response = app.test_client().get("/health")
    assert response.status_code == 503
    body = response.get_data(as_text=True)
    assert body.startswith(f"unavailable: {reason} (error reference ")
    reference = body.rsplit(" ", 1)[1].rstrip(")\n")
    (record,) = [r for r in caplog.records if "health check failed" in r.getMessage()]
    assert reference in record.getMessage() and record.exc_info is None
    assert str(tmp_path) not in body, "paths and hosts stay in the log"
    assert not (tmp_path / "never-seeded.db").exists()


def test_a_database_without_the_table_is_a_503(app, client):
    with get_engine(app).begin() as conn:
        conn.execute(text("DROP TABLE stocks"))
    response = client.get("/health")
    assert response.status_code == 503
    assert response.get_data(as_text=True).startswith("unavailable: the database failed")


def test_the_page_of_a_database_that_refuses_still_streams_its_notice(unhealthy):
    """No 500 from the early total: the page's stream says the database failed."""
    app = unhealthy("postgresql+psycopg://u@127.0.0.1:9/db")
    response = app.test_client().get("/stocks")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "the database failed after 0 rows" in page and 'data-outcome="failed"' in page
