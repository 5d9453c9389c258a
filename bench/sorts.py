"""Time to the first row for every sort order: each should be served from its index.

A status of 400 means the app does not take the parameters yet. A 200 whose first row is not
the first in the asked order means the parameters were ignored; both are reported, not timed
as if they worked.
"""

from __future__ import annotations

import time
from statistics import median
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import text

from web.db import make_engine
from web.models import STOCKS

from .client import fetch
from .log import progress
from .server import Server

SAMPLES = 3  # the first is cold (index pages not yet touched), the median is reported
PAUSE_SECONDS = 0.05  # lets the server notice the previous, abandoned stream first
REDIRECTS = (301, 302, 303, 307, 308)


def _query(database_url: str, sql: str, **parameters: Any) -> Any:
    """One value from the database (the keys are the app's own column names)."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql), parameters).scalar()
    finally:
        engine.dispose()


def _first_in_order(database_url: str, key: str, descending: bool) -> Any:
    """The sort value the first row must carry; comparing values, not symbols, allows ties."""
    order = "DESC" if descending else "ASC"
    return _query(database_url, f'SELECT "{key}" FROM stocks ORDER BY "{key}" {order} LIMIT 1')


def _value_of(database_url: str, key: str, symbol: str) -> Any:
    return _query(database_url, f'SELECT "{key}" FROM stocks WHERE symbol = :symbol', symbol=symbol)


def measure(server: Server, database_url: str, rows: int) -> dict[str, Any]:
    """First-row latency for each column and direction, ``SAMPLES`` requests each."""
    results: list[dict[str, Any]] = []
    for column in STOCKS.columns:
        for direction in ("asc", "desc"):
            path = f"/stocks?sort={column.key}&dir={direction}"
            samples: list[float] = []
            entry: dict[str, Any] = {"key": column.key, "dir": direction}
            for _ in range(SAMPLES):
                time.sleep(PAUSE_SECONDS)
                result = fetch(server.host, server.port, path, stop_after_first_row=True)
                entry["status"] = result.status
                if result.status in REDIRECTS and "location" in result.headers:
                    # The canonical URL of this view (defaults dropped): time that page, as
                    # the app's own links point there.
                    target = urlsplit(result.headers["location"])
                    entry["redirect"] = target.path + (f"?{target.query}" if target.query else "")
                    time.sleep(PAUSE_SECONDS)
                    result = fetch(
                        server.host, server.port, entry["redirect"], stop_after_first_row=True
                    )
                    entry["status"] = result.status
                if result.status == 400:
                    entry["note"] = "n/a (not supported yet)"
                    break
                if result.status != 200 or result.first_row is None:
                    entry["note"] = f"error: status {result.status}, {result.error or 'no rows'}"
                    break
                samples.append(result.first_row * 1000)
                entry["first_symbol"] = result.first_symbol
            if samples:
                expected = _first_in_order(database_url, column.key, direction == "desc")
                got = _value_of(database_url, column.key, entry.get("first_symbol") or "")
                entry["order_ok"] = got == expected
                if not entry["order_ok"]:
                    entry["note"] = "ignored? first row is not first in this order"
                elif "redirect" in entry:
                    entry["note"] = f"redirected to {entry['redirect']}"
                entry["cold_ms"] = round(samples[0], 2)
                entry["first_row_ms"] = round(median(samples), 2)
                entry["max_ms"] = round(max(samples), 2)
            results.append(entry)
            shown = entry.get("first_row_ms", entry.get("note"))
            progress(f"sort {column.key} {direction}: {shown}")
    return {"rows": rows, "samples": SAMPLES, "results": results}
