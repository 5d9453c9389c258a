"""Compose a streamed response body: an opening, the rows chunk by chunk, a closing.

Every streamed response (the page, the htmx re-stream, the exports) goes through
:func:`stream`, so all of them release their connection the same way and report the same
signals.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from time import perf_counter
from uuid import uuid4

from flask import Flask
from sqlalchemy import Engine, Row, Select

from . import signals
from .chunker import chunked
from .db import QueryTimeout, stream_select
from .view import SORT_KEYS

_PRICE = SORT_KEYS.index("price")
_MARKET_CAP = SORT_KEYS.index("market_cap")


@dataclass(frozen=True)
class StreamSettings:
    first_rows: int
    fetch_rows: int
    chunk_rows: int
    flush_seconds: float
    max_rows: int | None  # None: no limit (exports)
    statement_timeout: float | None  # seconds per query step; None: no limit

    @classmethod
    def from_config(cls, config: dict) -> StreamSettings:
        return cls(
            first_rows=config["FIRST_BATCH_ROWS"],
            fetch_rows=config["FETCH_ROWS"],
            chunk_rows=config["CHUNK_ROWS"],
            flush_seconds=config["FLUSH_SECONDS"],
            max_rows=config["MAX_ROWS"],
            statement_timeout=config["STATEMENT_TIMEOUT"],
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


class RowLimit:
    """Passes at most ``max_rows`` rows on (all, if None), and notes whether there were more."""

    def __init__(self, batches: Iterable[Sequence[Row]], max_rows: int | None) -> None:
        self.max_rows = max_rows
        self.exceeded = False
        self._batches = batches

    def __iter__(self) -> Iterator[Sequence[Row]]:
        if self.max_rows is None:
            yield from self._batches
            return
        left = self.max_rows
        for batch in self._batches:
            if len(batch) > left:
                self.exceeded = True
                if left:
                    yield batch[:left]
                return
            left -= len(batch)
            yield batch


@dataclass(frozen=True)
class Ending:
    """How a stream ends, for the closing markup: its summary, and why it stopped early."""

    summary: Summary
    seconds: float
    outcome: str = "completed"  # or "limited" (MAX_ROWS), "timed out" or "failed"
    notice: str | None = None  # for the reader, when the outcome is not "completed"


@dataclass
class StreamReport:
    """What one stream did; sent with :data:`web.signals.stream_ended` and logged."""

    path: str
    rows: int = 0
    bytes: int = 0
    first_rows_seconds: float | None = None  # from the request to the first chunk of rows
    seconds: float = 0.0
    outcome: str = "streaming"  # then "completed", "limited", "timed out", "aborted", "failed"
    reference: str | None = None  # of the logged error, when it failed


def log_report(sender: Flask, report: StreamReport) -> None:
    """One structured (JSON) log line per stream: what it showed, how fast, how it ended."""
    line = asdict(report)
    line["aborted"] = report.outcome == "aborted"
    sender.logger.info("stream %s", json.dumps(line))


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
    closing: Callable[[Ending], bytes],
    end_cleanly_on_failure: bool = True,
) -> Iterator[bytes]:
    """The opening at once (before the query runs), each chunk of rows, then the closing.

    Runs outside the request context: everything it needs is passed in. Closing the
    generator (the client left) or an error ends the query and releases its connection
    here and now, not at garbage collection.

    If the database fails after rows went out, the error is logged with the request and
    the reader gets a closing that says so (a well-formed end, an error row), or, with
    ``end_cleanly_on_failure=False`` (exports: a CSV has no place for it), a transfer cut
    short that the client sees as incomplete.
    """
    if settings.max_rows is not None:
        statement = statement.limit(settings.max_rows + 1)  # one more: was anything left out?
    batches = stream_select(
        engine, statement, settings.first_rows, settings.fetch_rows, settings.statement_timeout
    )
    limit = RowLimit(batches, settings.max_rows)
    summary = Summary(limit)
    report = StreamReport(path)
    try:
        report.bytes += len(opening)
        yield opening
        for chunk in chunked(summary, settings.chunk_rows, settings.flush_seconds):
            data = render(chunk)
            if report.first_rows_seconds is None:
                report.first_rows_seconds = perf_counter() - started
            report.rows, report.bytes = summary.rows, report.bytes + len(data)
            yield data
            signals.rows_sent.send(app, rows=summary.rows)
        outcome, notice = "completed", None
        if limit.exceeded:
            outcome = "limited"
            notice = (
                f"Showing the first {settings.max_rows:,} rows, the most one page shows: "
                "narrow the view to see the rest."
            )
        ending = closing(Ending(summary, perf_counter() - started, outcome, notice))
        report.bytes += len(ending)
        report.outcome = outcome
        yield ending
    except GeneratorExit:
        report.outcome = "aborted"
        raise
    except QueryTimeout as timeout:
        report.outcome = "timed out"
        app.logger.warning("stream of %s timed out after %d rows", path, summary.rows)
        if not end_cleanly_on_failure:
            raise
        notice = (
            f"The table stops here: the database took more than {timeout.seconds:g} s to find "
            "the next rows. Narrow the view (a filter, a longer search) to see more."
        )
        yield closing(Ending(summary, perf_counter() - started, "timed out", notice))
    except Exception:
        report.outcome = "failed"
        report.reference = uuid4().hex[:8]
        app.logger.exception(
            "stream of %s failed after %d rows (reference %s)",
            path,
            summary.rows,
            report.reference,
        )
        if not end_cleanly_on_failure:
            raise
        notice = (
            f"The table stopped early: the database failed after {summary.rows:,} rows. "
            f"Reload to try again (error reference {report.reference})."
        )
        yield closing(Ending(summary, perf_counter() - started, "failed", notice))
    finally:
        batches.close()
        report.seconds = perf_counter() - started
        signals.stream_ended.send(app, report=report)
