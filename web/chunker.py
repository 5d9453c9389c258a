"""Join rendered pieces into network-sized chunks, flushing by size and by time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from time import monotonic


def chunked(pieces: Iterable[str], max_bytes: int, max_seconds: float) -> Iterator[bytes]:
    """Yield UTF-8 chunks of about ``max_bytes`` (counted in characters, close enough).

    The first piece goes out alone and at once, so the first rows paint immediately. After
    that a chunk is flushed when it is big enough, or when ``max_seconds`` passed since the
    last flush, so a query that finds its rows slowly still shows them as they come.
    """
    buffer: list[str] = []
    size = 0
    flushed_at = 0.0  # the first piece is always overdue
    for piece in pieces:
        buffer.append(piece)
        size += len(piece)
        if size >= max_bytes or monotonic() - flushed_at >= max_seconds:
            yield "".join(buffer).encode()
            buffer.clear()
            size = 0
            flushed_at = monotonic()
    if buffer:
        yield "".join(buffer).encode()
