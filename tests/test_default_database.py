"""Without DATABASE_URL the app serves an SQLite file in its instance folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from web import create_app
from web.db import get_engine
from web.seeding import seed


@pytest.fixture
def instance_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An instance folder of the test's own, not the checkout's ``instance/``."""
    path = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(path))
    return path


def test_without_database_url_the_app_serves_instance_streamtable_db(instance_path, monkeypatch):
    """No unit test otherwise starts the app on its default URL: a broken default would
    only show when someone runs it for the first time."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app({"TESTING": True, "DATABASE_URL": None})
    try:
        engine = get_engine(app)
        assert Path(make_url(str(engine.url)).database) == instance_path / "streamtable.db"
        seed(engine, 20, seed=3)
        page = app.test_client().get("/stocks").get_data(as_text=True)
        assert page.count("<tr><td>") == 20
        assert (instance_path / "streamtable.db").stat().st_size > 0
    finally:
        get_engine(app).dispose()
