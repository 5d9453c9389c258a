"""The stock table page: one HTML document streamed as head, row groups, foot."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from time import perf_counter

from flask import Blueprint, Flask, Response, current_app, redirect, render_template, url_for
from jinja2 import Template
from sqlalchemy import Engine, Row, Select

from . import signals
from .chunker import chunked
from .db import get_engine, stream_select
from .render import html_row_groups
from .view import COLUMNS, View

bp = Blueprint("stocks", __name__)


@dataclass(frozen=True)
class StreamSettings:
    first_rows: int
    fetch_rows: int
    group_rows: int
    chunk_bytes: int
    flush_seconds: float

    @classmethod
    def from_config(cls, config) -> StreamSettings:
        return cls(
            first_rows=config["FIRST_BATCH_ROWS"],
            fetch_rows=config["FETCH_ROWS"],
            group_rows=config["ROW_GROUP_ROWS"],
            chunk_bytes=config["CHUNK_BYTES"],
            flush_seconds=config["FLUSH_SECONDS"],
        )


class Tally:
    """Counts the rows of the batches passing through it, for the page's foot."""

    def __init__(self, batches: Iterable[Sequence[Row]]) -> None:
        self.rows = 0
        self._batches = batches

    def __iter__(self) -> Iterator[Sequence[Row]]:
        for batch in self._batches:
            self.rows += len(batch)
            yield batch


def index() -> Response:
    return redirect(url_for("stocks.table"))


@bp.get("/stocks")
def table() -> Response:
    started = perf_counter()
    view = View()
    # Everything the stream needs is read here, inside the request: the generator runs
    # without the request context and may be closed on another thread after a disconnect.
    body = stream_page(
        app=current_app._get_current_object(),
        head=render_template("stocks/head.html", columns=COLUMNS, view=view),
        foot=current_app.jinja_env.get_template("stocks/foot.html"),
        engine=get_engine(),
        statement=view.statement(),
        settings=StreamSettings.from_config(current_app.config),
        started=started,
    )
    response = Response(body, content_type="text/html; charset=utf-8")
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass the stream through
    return response


def stream_page(
    app: Flask,
    head: str,
    foot: Template,
    engine: Engine,
    statement: Select,
    settings: StreamSettings,
    started: float,
) -> Iterator[bytes]:
    """Head at once, then the rows in chunks as the cursor yields them, then the foot.

    The foot carries the row count and doubles as the end marker: a page without it was
    cut short.
    """
    batches = stream_select(engine, statement, settings.first_rows, settings.fetch_rows)
    tally = Tally(batches)
    completed = False
    try:
        yield head.encode()
        pieces = html_row_groups(tally, settings.group_rows)
        for chunk in chunked(pieces, settings.chunk_bytes, settings.flush_seconds):
            yield chunk
            signals.rows_sent.send(app, rows=tally.rows)
        yield foot.render(rows=tally.rows, seconds=perf_counter() - started).encode()
        completed = True
    finally:
        batches.close()  # ends the query and releases the connection now, not at GC time
        signals.stream_ended.send(
            app, rows=tally.rows, seconds=perf_counter() - started, completed=completed
        )
