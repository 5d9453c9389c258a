"""Compose a streamed response body: an opening, the rows chunk by chunk, a closing.

Every streamed response (the page, the htmx re-stream, the exports) goes through
:func:`stream`, so all of them release their connection the same way and report the same
signals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from time import perf_counter

from flask import Flask
from sqlalchemy import Engine, Row, Select

from . import signals
from .chunker import chunked
from .db import stream_select
from .view import SORT_KEYS

_PRICE = SORT_KEYS.index("price")
_MARKET_CAP = SORT_KEYS.index("market_cap")


@dataclass(frozen=True)
class StreamSettings:
    first_rows: int
    fetch_rows: int
    chunk_rows: int
    flush_seconds: float

    @classmethod
    def from_config(cls, config: dict) -> StreamSettings:
        return cls(
            first_rows=config["FIRST_BATCH_ROWS"],
            fetch_rows=config["FETCH_ROWS"],
            chunk_rows=config["CHUNK_ROWS"],
            flush_seconds=config["FLUSH_SECONDS"],
        )


class Summary:
    """Counts and totals of the rows passing through, computed in the same pass."""

    def __init__(self, batches: Iterable[Sequence[Row]]) -> None:
        self.rows = 0
        self.price_total = 0.0
        self.market_cap_total = 0
        self._batches = batches

    def __iter__(self) -> Iterator[Sequence[Row]]:
        for batch in self._batches:
            self.rows += len(batch)
            self.price_total += sum([row[_PRICE] for row in batch])
            self.market_cap_total += sum([row[_MARKET_CAP] for row in batch])
            yield batch

    @property
    def average_price(self) -> float | None:
        return self.price_total / self.rows if self.rows else None


@dataclass
class StreamReport:
    """What one stream did; sent with :data:`web.signals.stream_ended`."""

    path: str
    rows: int = 0
    bytes: int = 0
    first_rows_seconds: float | None = None  # from the request to the first chunk of rows
    seconds: float = 0.0
    outcome: str = "streaming"  # then "completed", "aborted" (client left) or "failed"


def stream(
    *,
    app: Flask,
    path: str,
    engine: Engine,
    statement: Select,
    settings: StreamSettings,
    started: float,
    opening: bytes,
    render: Callable[[list[Row]], bytes],
    closing: Callable[[Summary, float], bytes],
) -> Iterator[bytes]:
    """The opening at once (before the query runs), each chunk of rows, then the closing.

    Runs outside the request context: everything it needs is passed in. Closing the
    generator (the client left) or an error ends the query and releases its connection
    here and now, not at garbage collection.
    """
    batches = stream_select(engine, statement, settings.first_rows, settings.fetch_rows)
    summary = Summary(batches)
    report = StreamReport(path)
    try:
        yield opening
        report.bytes += len(opening)
        for chunk in chunked(summary, settings.chunk_rows, settings.flush_seconds):
            data = render(chunk)
            if report.first_rows_seconds is None:
                report.first_rows_seconds = perf_counter() - started
            yield data
            report.rows, report.bytes = summary.rows, report.bytes + len(data)
            signals.rows_sent.send(app, rows=summary.rows)
        closing_bytes = closing(summary, perf_counter() - started)
        yield closing_bytes
        report.bytes += len(closing_bytes)
        report.outcome = "completed"
    except GeneratorExit:
        report.outcome = "aborted"
        raise
    except Exception:
        report.outcome = "failed"
        raise
    finally:
        batches.close()
        report.seconds = perf_counter() - started
        signals.stream_ended.send(app, report=report)
