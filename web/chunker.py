"""Gather the cursor's small batches into network-sized chunks, by size and by time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from time import monotonic
from typing import TypeVar

Row = TypeVar("Row")


def chunked(
    batches: Iterable[Sequence[Row]], chunk_rows: int, flush_seconds: float
) -> Iterator[list[Row]]:
    """Yield lists of rows: the first batch alone and at once, then ``chunk_rows`` at a time.

    A chunk also goes out early once ``flush_seconds`` passed since the last one, so a query
    that finds its rows slowly (a rare search term) still shows them as they come. Every
    chunk is rendered whole (a complete row group, a complete multipart part), so chunk
    boundaries never split markup.
    """
    chunk: list[Row] = []
    flushed_at = float("-inf")  # the first batch is always due
    for batch in batches:
        chunk.extend(batch)
        if len(chunk) >= chunk_rows or monotonic() - flushed_at >= flush_seconds:
            yield chunk
            chunk = []
            flushed_at = monotonic()
    if chunk:
        yield chunk
