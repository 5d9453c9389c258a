"""Filtered, searched and exported views of the largest table: first row, total, rows/s.

A filter or a search walks the sort order's index and skips rows that do not match, so its
first row comes as soon as the first match is found; a word that matches nothing costs a
full scan. Exports stream the whole table as CSV and NDJSON through the same machinery.
"""

from __future__ import annotations

from typing import Any

from .client import fetch
from .log import progress
from .server import Server

PAGES = [
    "/stocks?sort=price&dir=desc",
    "/stocks?sort=price&sector=Energy",
    "/stocks?sort=price&dir=desc&exchange=TSX&sector=Energy",
    "/stocks?sort=volume&q=acme",
    "/stocks?q=solar+inc",
    "/stocks?q=xyzzy",
    # Issue 10's kinds of view: a numeric range, several values of an enum, a text filter,
    # two filters with a sort, a column choice.
    "/stocks?price__gte=100&price__lte=200",
    "/stocks?exchange=NYSE&exchange=NASDAQ",
    "/stocks?name__contains=robotics",
    "/stocks?sort=volume&dir=desc&sector=Utilities&change_pct__lt=0",
    "/stocks?cols=symbol,name,price",
]
EXPORTS = ["/stocks.csv", "/stocks.ndjson", "/stocks.json"]
TIMEOUT_SECONDS = 600.0


def measure(server: Server, rows: int) -> dict[str, Any]:
    """Each view once (identity encoding), after one warm-up request of the table."""
    fetch(server.host, server.port, "/stocks", stop_after_first_row=True)
    pages = []
    for path in PAGES:
        result = fetch(server.host, server.port, path, timeout=TIMEOUT_SECONDS)
        pages.append(
            {
                "path": path,
                "status": result.status,
                "first_row_ms": round(result.first_row * 1000, 1) if result.first_row else None,
                "total_s": round(result.total, 3),
                "rows": result.footer_rows,
                "complete": result.footer,
            }
        )
        progress(f"view {path}: {pages[-1]['first_row_ms']} ms, {result.footer_rows} rows")
    exports = []
    for path in EXPORTS:
        result = fetch(server.host, server.port, path, timeout=TIMEOUT_SECONDS)
        exports.append(
            {
                "path": path,
                "status": result.status,
                "total_s": round(result.total, 2),
                "mb": round(result.body_bytes / 1e6, 1),
                "rows_per_s": round(rows / result.total) if result.ended else None,
                "complete": result.ended,
            }
        )
        progress(f"export {path}: {exports[-1]['rows_per_s']} rows/s")
    return {"rows": rows, "pages": pages, "exports": exports}
