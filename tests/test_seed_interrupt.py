"""seed.py stopped mid-load (Ctrl-C, or killed outright) leaves the previous data intact."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, select, text

from web.models import stocks

from .harness import ROOT, running

LOAD_SECONDS = 60


def snapshot(url: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(stocks).order_by(stocks.c.id)).all()
    finally:
        engine.dispose()


def loading(url: str) -> bool:
    """Whether a load is well under way: rows are being written, not yet committed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        wal = Path(f"{parsed.database}-wal")
        return wal.exists() and wal.stat().st_size > 16 * 2**20
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            copied = conn.scalar(text("SELECT max(tuples_processed) FROM pg_stat_progress_copy"))
        return (copied or 0) > 200_000
    finally:
        engine.dispose()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "killed"])
def test_stopping_a_load_midway_keeps_the_previous_data(database_url, stop):
    before = snapshot(database_url)
    with running(
        [sys.executable, "seed.py", "--rows", "5000000", "--reset", "--database-url", database_url],
        ready=lambda: loading(database_url),
        what="the load to get under way",
        timeout=LOAD_SECONDS,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as load:
        load.send_signal(stop)
        _, stderr = load.communicate(timeout=LOAD_SECONDS)
    assert load.returncode != 0
    if stop == signal.SIGINT:
        assert stderr.strip().splitlines()[-1] == (
            "Error: interrupted; the table is as it was before"
        )
    assert snapshot(database_url) == before
