"""The apps streamtable is measured against, served by gunicorn like the real one.

- ``floor_app``: the least work that still produces the same page: sqlite3, f-strings and
  ``html.escape``, ~64 KB writes. No app can be much faster in Python; streamtable should
  come close to it.
- ``create_classic_app()``: the textbook Flask way: an ORM query's ``.all()``, then a
  generator yielding one ``render_template`` per row under ``stream_with_context``.
- ``create_buffered_app()``: the same rows rendered by one template before the response
  starts, so nothing reaches the client until everything is rendered.
- ``create_handwritten_app()``: streamtable itself, but with the hand-written row renderer
  it had before the renderers were generated from the table spec: the generated one must
  keep its speed (>= 0.95x its rows/s in the same run).

Every variant reads ``DATABASE_URL`` (``sqlite:///path``) and serves ``GET /stocks``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from functools import partial
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask, Response, render_template, stream_with_context
from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from web import create_app, render
from web.db import make_engine
from web.models import STOCKS, Stock

COLUMNS = STOCKS.columns

TEMPLATES = Path(__file__).resolve().parent / "templates"
FLOOR_CHUNK_BYTES = 64 * 1024
FLOOR_GROUP_ROWS = 500  # rows per fetch and per row group, as the app groups its rows
HANDWRITTEN_KEYS = (
    "symbol",
    "name",
    "exchange",
    "sector",
    "price",
    "change_pct",
    "volume",
    "market_cap",
    "updated_at",
)
"""The columns the hand-written renderers (the floor's and :func:`handwritten_row_group`)
were written for: by design they know the table's shape, so a change of the spec's columns
leaves them behind (the bench then skips the handwritten variant, saying why)."""
FLOOR_SQL = f"SELECT {', '.join(HANDWRITTEN_KEYS)} FROM stocks ORDER BY symbol, id"
FLOOR_HEAD = (
    '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
    "<title>Stocks · floor baseline</title>\n</head>\n<body>\n<main>\n"
    '<div class="stocks" id="stocks">\n<div class="stocks-head"><table>\n<thead><tr>'
    + "".join(f'<th scope="col">{STOCKS.column(key).label}</th>' for key in HANDWRITTEN_KEYS)
    + "</tr></thead>\n</table></div>\n"
)
FLOOR_FOOT = (
    '</div>\n<footer class="stream-end" id="stream-end" data-rows="{rows}">\n'
    "{rows:,} rows\n</footer>\n</main>\n</body>\n</html>\n"
)

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("sqlite:///"):
        raise RuntimeError("the baselines need DATABASE_URL=sqlite:///path")
    return url


def _floor_rows(cursor: sqlite3.Cursor) -> Iterator[tuple[str, int]]:
    """Rendered row groups and their row counts, one group per fetch."""
    e, u = escape, partial(quote, safe="")
    while rows := cursor.fetchmany(FLOOR_GROUP_ROWS):
        html = "".join(
            [
                f"<tr><td><a href=stocks/{s if s.isalnum() else u(s)}>{e(s)}</a><td>{e(name)}"
                f"<td>{e(exchange)}<td>{e(sector)}<td>{price:,.2f}"
                f"<td{' class=d' if change < 0 else ''}>{change:+.2f}<td>{volume:,}"
                f"<td>{cap / 1e9:,.2f} bn<td>{e(updated)}"
                for s, name, exchange, sector, price, change, volume, cap, updated in rows
            ]
        )
        yield f'<div class="g"><table>{html}</table></div>', len(rows)


def _floor_body(path: str) -> Iterator[bytes]:
    connection = sqlite3.connect(path, check_same_thread=False)
    try:
        cursor = connection.execute(FLOOR_SQL)
        yield FLOOR_HEAD.encode()
        total = 0
        buffer: list[str] = []
        size = 0
        for html, count in _floor_rows(cursor):
            total += count
            buffer.append(html)
            size += len(html)
            if size >= FLOOR_CHUNK_BYTES:
                yield "".join(buffer).encode()
                buffer.clear()
                size = 0
        buffer.append(FLOOR_FOOT.format(rows=total))
        yield "".join(buffer).encode()
    finally:
        connection.close()


def floor_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """A bare WSGI app: the raw floor of streaming this table from Python."""
    if environ.get("PATH_INFO") != "/stocks":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    path = _database_url().removeprefix("sqlite:///")
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return _floor_body(path)


def _orm_app(name: str) -> tuple[Flask, Callable[[], list[Stock]]]:
    app = Flask(name, template_folder=str(TEMPLATES))
    engine = make_engine(_database_url())

    def all_stocks() -> list[Stock]:
        with Session(engine, expire_on_commit=False) as session:
            return list(session.scalars(select(Stock).order_by(Stock.symbol, Stock.id)).all())

    return app, all_stocks


def create_classic_app() -> Flask:
    """Flask as the tutorials stream: ``.all()``, then a template per row."""
    app, all_stocks = _orm_app("classic")

    @app.get("/stocks")
    def stocks() -> Response:
        rows = all_stocks()

        def generate() -> Iterator[str]:
            yield render_template("head.html", variant="classic", columns=COLUMNS)
            for stock in rows:
                yield render_template("row.html", stock=stock)
            yield render_template("foot.html", rows=len(rows))

        return Response(stream_with_context(generate()), content_type="text/html; charset=utf-8")

    return app


def create_buffered_app() -> Flask:
    """Flask without streaming: one ``render_template`` of the whole table."""
    app, all_stocks = _orm_app("buffered")

    @app.get("/stocks")
    def stocks() -> str:
        rows = all_stocks()
        return render_template(
            "buffered.html", variant="buffered", columns=COLUMNS, stocks=rows, rows=len(rows)
        )

    return app


def handwritten_row_group(rows: list[Row]) -> str:
    """The page's row renderer as it was written by hand for the nine stock columns."""
    e, u = render.escape_text, partial(quote, safe="")
    return "".join(
        [
            '<tbody class="g">',
            *[
                f"<tr><td><a href=stocks/{s if s.isalnum() else u(s)}>{e(s)}</a><td>{e(name)}"
                f"<td>{e(exchange)}<td>{e(sector)}<td>{price:,.2f}"
                f"<td{' class=d' if change < 0 else ''}>{change:+.2f}<td>{volume:,}"
                f"<td>{cap / 1e9:,.2f} bn<td>{e(updated)}"
                for s, name, exchange, sector, price, change, volume, cap, updated in rows
            ],
            "</tbody>",
        ]
    )


def handwritten_csv_rows(rows: list[Row]) -> str:
    """The CSV renderer as it was written by hand for the nine stock columns."""
    out = io.StringIO()
    c = render.defuse
    csv.writer(out).writerows(
        [
            (c(symbol), c(name), c(exchange), c(sector), price, change, volume, cap, updated)
            for symbol, name, exchange, sector, price, change, volume, cap, updated in rows
        ]
    )
    return out.getvalue()


def handwritten_ndjson_rows(rows: list[Row]) -> str:
    """The NDJSON renderer as it was written by hand for the nine stock columns."""
    dumps = json.dumps
    return "".join(
        [
            f'{{"symbol":{dumps(symbol)},"name":{dumps(name)},"exchange":{dumps(exchange)},'
            f'"sector":{dumps(sector)},"price":{price!r},"change_pct":{change!r},'
            f'"volume":{volume},"market_cap":{cap},'
            f'"updated_at":{dumps(updated.replace(" ", "T") + "Z")}}}\n'
            for symbol, name, exchange, sector, price, change, volume, cap, updated in rows
        ]
    )


def handwritten_unfit() -> str | None:
    """Why the handwritten variant cannot serve the table as the spec now has it, if so."""
    if STOCKS.keys != HANDWRITTEN_KEYS:
        return "skipped: the spec's columns changed since the renderer was written by hand"
    return None


def create_handwritten_app() -> Flask:
    """streamtable with :func:`handwritten_row_group` in place of the generated renderer."""
    app = create_app()
    generated = app.extensions[render.EXTENSION_KEY]
    app.extensions[render.EXTENSION_KEY] = replace(generated, html=handwritten_row_group)
    return app
