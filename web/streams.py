"""Run one stream: an output's opening, the rows chunk by chunk, its closing.

Every streamed response (the page, the htmx re-stream, the exports) goes through
:func:`stream`, so all of them cap their rows, release their connection, end on a failure
and report the same way. This module only orchestrates: what the bytes look like is the
output's business (:mod:`web.outputs`), where the rows come from the database's
(:mod:`web.db`).
"""

from __future__ import annotations

import enum
import json
import socket
from collections import Counter
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from operator import itemgetter
from time import perf_counter
from typing import Any, Protocol
from uuid import uuid4

from flask import Flask
from sqlalchemy import Engine, Row

from . import shutdown, signals, stalls
from .chunker import chunked
from .db import DatabaseMissing, Plan, QueryTimeout, stream_select
from .spec import Aggregate, TableSpec
from .values import is_finite_number


class Outcome(enum.StrEnum):
    STREAMING = "streaming"  # not ended yet
    COMPLETED = "completed"
    LIMITED = "limited"  # MAX_ROWS reached, more rows left out
    TIMED_OUT = "timed out"  # the database took longer than STATEMENT_TIMEOUT for a step
    FAILED = "failed"  # the database or a renderer failed mid-stream (see Failure)
    ABORTED = "aborted"  # the client left
    STALLED = "stalled"  # the client stopped reading: cut after SEND_TIMEOUT (web.stalls)
    SHUTDOWN = "shutdown"  # cut by the server stopping (web.shutdown)


class Failure(enum.StrEnum):
    """What failed, when a stream's outcome is FAILED: the reader is told which, and a
    rendering fault (the app's) is never reported as the database's."""

    DATABASE = "database"
    MISSING_DATABASE = "missing database"  # the SQLite file is not there (web.db)
    RENDERING = "rendering"


class RenderingFailed(Exception):
    """Raised from a chunk of rows the app could not render; the cause is the error."""


@dataclass(frozen=True)
class StreamSettings:
    first_rows: int
    fetch_rows: int
    chunk_rows: int  # rows per chunk sent
    flush_seconds: float
    max_rows: int | None  # the most rows one response streams; None: no cap (exports)
    statement_timeout: float | None  # seconds per query step; None: no limit
    sort_walk_seconds: float  # for a plan's head (web/planner.py)
    send_timeout: float | None  # seconds one chunk may take to reach the client; None: any

    @classmethod
    def from_config(cls, config: dict, capped: bool = True) -> StreamSettings:
        return cls(
            first_rows=config["FIRST_BATCH_ROWS"],
            fetch_rows=config["FETCH_ROWS"],
            chunk_rows=config["CHUNK_ROWS"],
            flush_seconds=config["FLUSH_SECONDS"],
            max_rows=config["MAX_ROWS"] if capped else None,
            statement_timeout=config["STATEMENT_TIMEOUT"],
            sort_walk_seconds=config["SORT_WALK_SECONDS"],
            send_timeout=config["SEND_TIMEOUT"],
        )


@dataclass(frozen=True)
class Source:
    """Everything a stream needs from the request, read inside it: the body then runs
    without the request context, and may be closed on another thread after a disconnect."""

    app: Flask
    path: str  # the canonical URL of the view, for the log
    engine: Engine
    plan: Plan  # the view's rows, and how to read them (web/planner.py)
    table: TableSpec
    settings: StreamSettings
    started: float  # perf_counter() when the request arrived
    connection: socket.socket | None = None  # the client's, from gunicorn, for web.stalls


class Tally:
    """The rows passing through, counted; the footer's figures and the facets' counts (rows
    per value of each facetable column), in the same pass: no second query. Counting costs
    ``Counter.update`` over a ``map`` per chunk and facet, both in C."""

    def __init__(self, table: TableSpec, totals: bool) -> None:
        self.rows = 0
        self._summaries = table.summaries if totals else ()
        self._sums = [0] * len(self._summaries)
        self._counts = [0] * len(self._summaries)
        facets = table.facets if totals else ()
        self.facets = {column.key: Counter() for _, column in facets}  # key -> value -> rows
        self._facet_values = [(self.facets[c.key], itemgetter(i)) for i, c in facets]

    def add(self, batch: Sequence[Row]) -> None:
        self.rows += len(batch)
        for counter, value in self._facet_values:
            counter.update(map(value, batch))
        for i, (position, _) in enumerate(self._summaries):
            values = [row[position] for row in batch]
            try:
                total = sum(values)
            except TypeError:  # a NULL, or text the storage held in a number column
                total = None
            if not is_finite_number(total):
                # Only finite numbers count, as SQL's avg() skips NULL: one NaN would make
                # the footer say "average price nan". Ordinary chunks pay for one sum.
                values = [v for v in values if is_finite_number(v)]
                total = sum(values)
            self._sums[i] += total
            self._counts[i] += len(values)

    def figures(self) -> list[tuple[str, str]]:
        """(label, formatted value) of each summarised column, for the footer."""
        figures = []
        for (_, column), total, count in zip(
            self._summaries, self._sums, self._counts, strict=True
        ):
            summary = column.summary
            value = total if summary.aggregate is Aggregate.TOTAL else None
            if summary.aggregate is Aggregate.AVERAGE and count:
                value = total / count
            figures.append((summary.label, summary.text(value)))
        return figures


class RowCap:
    """The most rows one response streams, in one place: the query asks for one row more
    than the cap, and the stream passes on at most the cap and notes whether more came."""

    def __init__(self, max_rows: int | None) -> None:
        self.max_rows = max_rows
        self.exceeded = False

    def limit(self, plan: Plan) -> Plan:
        return plan.limited(None if self.max_rows is None else self.max_rows + 1)

    def apply(self, batches: Iterable[Sequence[Row]]) -> Iterator[Sequence[Row]]:
        if self.max_rows is None:
            yield from batches
            return
        left = self.max_rows
        for batch in batches:
            if len(batch) > left:
                self.exceeded = True
                if left:
                    yield batch[:left]
                return
            left -= len(batch)
            yield batch


@dataclass(frozen=True)
class Ending:
    """How a stream ended, for the output's closing (templates/stocks/_notice.html words
    each outcome): the rows and figures, the time, and what stopped it early."""

    table: TableSpec
    summary: Tally
    seconds: float
    outcome: Outcome = Outcome.COMPLETED
    max_rows: int | None = None  # the cap, when it was reached
    timeout_seconds: float | None = None  # the step's bound, when it timed out
    reference: str | None = None  # of the logged error, when it failed
    failure: Failure | None = None  # what failed, when it failed

    @property
    def early(self) -> bool:
        """The rows stopped before the view's end: the reader needs a notice."""
        return self.outcome is not Outcome.COMPLETED


class Output(Protocol):
    """What :func:`stream` asks of an output; :mod:`web.outputs` holds the app's."""

    ends_cleanly: bool  # a failure mid-stream gets a closing (True) or cuts the transfer
    shows_totals: bool  # the closing shows the footer's figures: add them up on the way

    def opening(self) -> bytes: ...

    def rows(self, rows: Sequence[Row]) -> bytes: ...

    def progress(self, tally: Tally) -> bytes:
        """What to send after a chunk besides its rows (the facets so far), often nothing."""
        ...

    def closing(self, end: Ending) -> bytes: ...


@dataclass
class StreamReport:
    """What one stream did; sent with :data:`web.signals.stream_ended` and logged."""

    path: str
    rows: int = 0
    bytes: int = 0
    first_rows_seconds: float | None = None  # from the request to the first chunk of rows
    seconds: float = 0.0
    outcome: Outcome = Outcome.STREAMING
    reference: str | None = None  # of the logged error, when it failed
    failure: Failure | None = None  # what failed, when it failed
    error: BaseException | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The JSON-able fields (the error itself is logged with its traceback instead)."""
        line = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "error"}
        line["outcome"] = str(self.outcome)
        line["failure"] = None if self.failure is None else str(self.failure)
        return line


def log_report(sender: Flask, report: StreamReport) -> None:
    """The one place streams are logged: a warning or an error with its traceback when a
    stream ended badly, then one structured (JSON) line per stream, however it ended."""
    if report.outcome is Outcome.TIMED_OUT:
        sender.logger.warning("stream of %s timed out after %d rows", report.path, report.rows)
    elif report.outcome is Outcome.FAILED:
        sender.logger.error(
            "stream of %s failed after %d rows: %s error (reference %s)",
            report.path,
            report.rows,
            report.failure,
            report.reference,
            exc_info=report.error,
        )
    line = report.as_dict()
    line["aborted"] = report.outcome is Outcome.ABORTED
    sender.logger.info("stream %s", json.dumps(line))


def _failure(error: Exception) -> Failure:
    if isinstance(error, RenderingFailed):
        return Failure.RENDERING
    if isinstance(error, DatabaseMissing):
        return Failure.MISSING_DATABASE
    return Failure.DATABASE


def stream(source: Source, output: Output) -> Iterator[bytes]:
    """The opening at once (before the query runs), each chunk of rows, then the closing.

    Closing the generator (the client left) or an error ends the query and releases its
    connection here and now, not at garbage collection. If the database fails or takes too
    long after rows went out, the output decides what the reader gets (see
    :attr:`Output.ends_cleanly`): a closing that says so, or a transfer cut short. A client
    that takes longer than ``SEND_TIMEOUT`` to take a chunk is cut (:mod:`web.stalls`).
    """
    watch = stalls.Watch(source.connection, source.settings.send_timeout)
    return stalls.sent_in_time(_stream(source, output, watch), watch)


def _stream(source: Source, output: Output, watch: stalls.Watch) -> Generator[bytes]:
    settings = source.settings
    cap = RowCap(settings.max_rows)
    batches = stream_select(
        source.engine,
        cap.limit(source.plan),
        settings.first_rows,
        settings.fetch_rows,
        settings.statement_timeout,
        settings.sort_walk_seconds,
    )
    summary = Tally(source.table, totals=output.shows_totals)
    report = StreamReport(source.path)
    running = shutdown.stream_started(lambda: _log_as_cut(source, report))

    def ending(outcome: Outcome, **details: Any) -> Ending:
        elapsed = perf_counter() - source.started
        return Ending(source.table, summary, elapsed, outcome, **details)

    try:
        report.bytes += len(opening := output.opening())
        yield opening
        for chunk in chunked(cap.apply(batches), settings.chunk_rows, settings.flush_seconds):
            try:  # the app's own work on the rows: its faults are not the database's
                summary.add(chunk)
                data = output.rows(chunk) + output.progress(summary)
            except Exception as error:
                summary.rows = report.rows  # the rows sent: this chunk never went out
                raise RenderingFailed(f"after {summary.rows} rows") from error
            if report.first_rows_seconds is None:
                report.first_rows_seconds = perf_counter() - source.started
            report.rows, report.bytes = summary.rows, report.bytes + len(data)
            yield data
            signals.rows_sent.send(source.app, rows=summary.rows)
        if cap.exceeded:
            end = ending(Outcome.LIMITED, max_rows=cap.max_rows)
        else:
            end = ending(Outcome.COMPLETED)
        report.bytes += len(closing := output.closing(end))
        report.outcome = end.outcome
        yield closing
    except GeneratorExit:  # the server closed the stream: its client left, or it stops
        if watch.cut:
            report.outcome = Outcome.STALLED
        elif shutdown.stopping.is_set():
            report.outcome = Outcome.SHUTDOWN
        else:
            report.outcome = Outcome.ABORTED
        raise
    except QueryTimeout as timeout:
        report.outcome = Outcome.TIMED_OUT
        if not output.ends_cleanly:
            raise
        yield output.closing(ending(Outcome.TIMED_OUT, timeout_seconds=timeout.seconds))
    except Exception as error:
        report.outcome, report.error = Outcome.FAILED, error
        report.failure = _failure(error)
        report.reference = uuid4().hex[:8]
        if not output.ends_cleanly:
            raise
        end = ending(Outcome.FAILED, reference=report.reference, failure=report.failure)
        yield output.closing(end)
    finally:
        batches.close()
        if shutdown.stream_ended(running):  # else the shutdown has logged it already
            report.seconds = perf_counter() - source.started
            signals.stream_ended.send(source.app, report=report)


def _log_as_cut(source: Source, report: StreamReport) -> None:
    """Report a stream the server's shutdown cut, for it: its thread is stuck elsewhere."""
    report.outcome = Outcome.SHUTDOWN
    report.seconds = perf_counter() - source.started
    signals.stream_ended.send(source.app, report=report)
