"""Fixtures shared by the unit tests: a seeded database, the app, its client and CLI runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from web import create_app
from web.db import get_engine
from web.seeding import seed

SEEDED_ROWS = 3_000


@pytest.fixture(scope="session")
def seeded_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file seeded once per session; tests get copies of it."""
    path = tmp_path_factory.mktemp("seeded") / "stocks.db"
    engine = create_engine(f"sqlite:///{path}")
    seed(engine, SEEDED_ROWS, seed=1)
    engine.dispose()
    return path


@pytest.fixture
def database_url(seeded_file: Path, tmp_path: Path) -> str:
    copy = tmp_path / "stocks.db"
    shutil.copyfile(seeded_file, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def app(database_url: str):
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    yield app
    get_engine(app).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
