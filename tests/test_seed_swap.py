"""The PostgreSQL load's swap, step by step, without a server: it retries a table kept busy
until SWAP_WAIT_SECONDS have passed, then gives up saying so (tests/test_postgresql.py
checks the same against a real server and real streams)."""

from __future__ import annotations

import psycopg
import pytest

from web import seeding


class BusyTable:
    """A cursor whose DROP of the stocks table fails for lack of its lock ``busy`` times."""

    def __init__(self, busy: int) -> None:
        self.busy = busy
        self.drops = 0

    def execute(self, statement: str) -> None:
        if statement.startswith("DROP TABLE"):
            self.drops += 1
            if self.busy:
                self.busy -= 1
                raise psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """seeding's clock, advanced by hand: one second per reading."""
    now = [1000.0]

    def tick() -> float:
        now[0] += 1.0
        return now[0]

    monkeypatch.setattr(seeding, "monotonic", tick)
    monkeypatch.setattr(seeding, "SWAP_WAIT_SECONDS", 10.0)
    return now


def test_the_swap_retries_while_streams_hold_the_table(clock):
    cursor = BusyTable(busy=3)
    seeding._drop_old_table(cursor)
    assert cursor.drops == 4


def test_the_swap_gives_up_once_the_wait_is_over(clock):
    cursor = BusyTable(busy=1_000)
    with pytest.raises(seeding.SeedError, match="busy for 10 s; nothing was changed"):
        seeding._drop_old_table(cursor)
    assert 5 <= cursor.drops <= 11, "about one attempt a second for ten seconds"
