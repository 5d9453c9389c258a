"""seed.py stopped mid-load (Ctrl-C, or killed outright) leaves the previous data intact."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, select, text

from web.models import stocks

ROOT = Path(__file__).resolve().parent.parent
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
    load = subprocess.Popen(
        [sys.executable, "seed.py", "--rows", "5000000", "--reset", "--database-url", database_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + LOAD_SECONDS
        while not loading(database_url):
            assert load.poll() is None, load.communicate()
            assert time.monotonic() < deadline, "the load never got under way"
            time.sleep(0.05)  # watching another process's progress: no event to wait on
        load.send_signal(stop)
        _, stderr = load.communicate(timeout=LOAD_SECONDS)
    finally:
        load.kill()
        load.wait()
    assert load.returncode != 0
    if stop == signal.SIGINT:
        assert stderr.strip().splitlines()[-1] == (
            "Error: interrupted; the table is as it was before"
        )
    assert snapshot(database_url) == before
