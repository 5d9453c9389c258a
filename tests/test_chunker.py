"""chunked: the first batch at once, then CHUNK_ROWS at a time, or sooner once
FLUSH_SECONDS passed since the last chunk (a slow query still shows rows as they come)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from web.chunker import chunked

CLOCK = "web.chunker.monotonic"  # the clock chunked reads; the tests replace it


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(CLOCK, fake)
    return fake


def slow_source(clock: FakeClock, timed_batches: list[tuple[float, list[int]]]) -> Iterator:
    """Yields each batch once the clock reads its time, as a cursor finding rows slowly."""
    for at, batch in timed_batches:
        clock.now = at
        yield batch


def received(clock: FakeClock, chunks: Iterator[list[int]]) -> list[tuple[float, list[int]]]:
    """Each chunk with the time it came out."""
    return [(clock.now, list(chunk)) for chunk in chunks]


def test_a_small_chunk_goes_out_early_once_flush_seconds_passed(clock):
    """Times are exact binary fractions, so "passed" is tested at its boundary too."""
    source = slow_source(
        clock, [(0.0, [1]), (0.125, [2]), (0.25, [3]), (0.375, [4]), (2.0, [5]), (2.1, [6])]
    )
    assert received(clock, chunked(source, 500, 0.25)) == [
        (0.0, [1]),  # the first batch, alone and at once
        (0.25, [2, 3]),  # 0.25 s after the last chunk, though far from 500 rows
        (2.0, [4, 5]),  # as soon as a batch arrives after a long wait
        (2.1, [6]),  # the rest at the end
    ]


def test_a_fast_source_fills_chunks_of_chunk_rows(clock):
    batches = [[n] * 100 for n in range(12)]  # the clock never moves: no flush by time
    sizes = [len(chunk) for chunk in chunked(iter(batches), 500, 0.25)]
    assert sizes == [100, 500, 500, 100]


def test_nothing_comes_out_of_nothing(clock):
    assert list(chunked(iter([]), 500, 0.25)) == []
