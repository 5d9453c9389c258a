"""Filtered, searched and exported views of the largest table: first row, total, rows/s.

The matrix (:data:`FILTERS` and :data:`SEARCHES`, each by :data:`SORTS`) is every kind of
view web/planner.py plans for: no filter, enums, ranges (one that keeps many rows, one that
keeps few), a search for a common word, a rarer one, a rare one, one that matches nothing,
and one too short for the trigram index. Its first row is the median of
:data:`FIRST_ROW_REPEATS` requests that leave after it; its total, one whole request.
Exports stream the whole table as CSV and NDJSON through the same machinery.

``make bench`` runs it on the 1M-row file it seeds; the matrix alone, on a database of
yours (seeded by ``seed.py``), SQLite or PostgreSQL::

    python -m bench.views --database-url sqlite:////tmp/stocks-1m.db
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path
from typing import Any

from .client import fetch
from .log import progress
from .report import matrix_table
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

SORTS = ["", "sort=price&dir=desc", "sort=volume"]
FILTERS = [
    "",
    "sector=Energy",  # 9% of the rows
    "exchange=TSX&sector=Energy",  # 0.5%
    "price__gte=100&price__lte=200",  # 14%, a range of another column than the sort's
    "price__gte=990",  # 0.1%: too few for the sort index's walk to find 50 in time
    "sector=Utilities&change_pct__lt=0",
    "name__contains=robotics",
]
SEARCHES = {
    "common": "q=robotics",  # 2.5% of the rows (at 1M: 24,952)
    "fewer": "q=solar+inc",  # 0.16%
    "rare": "q=zyx",  # symbols starting with it: ~60 at 1M
    "none": "q=xyzzy",
    "2 characters": "q=ab",  # under the trigram index's 3: a walk of the table
}
FIRST_ROW_REPEATS = 3
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
    return {"rows": rows, "pages": pages, "exports": exports, "matrix": matrix(server)}


def first_row(server: Server, path: str) -> float | None:
    """Seconds to ``path``'s first row; then waits for its stream to end, so the next
    request meets an idle server. A client that leaves after the first row leaves its
    stream running until the server's next write fails, and back to back the two shared
    the cores (q=robotics at 1M rows: 46 ms to a first row, against 25 ms idle)."""
    before = server.streams_ended()
    first = fetch(server.host, server.port, path, stop_after_first_row=True).first_row
    server.wait_for_streams(before + 1)
    return first


def matrix(server: Server) -> list[dict[str, Any]]:
    """First row (median) and whole view of each cell: filter or search, by sort."""
    cells = [(query, "filter") for query in FILTERS]
    cells += [(query, f"search: {kind}") for kind, query in SEARCHES.items()]
    measured = []
    for query, kind in cells:
        for order in SORTS:
            path = "/stocks?" + "&".join(part for part in (query, order) if part)
            firsts = [first_row(server, path) for _ in range(FIRST_ROW_REPEATS)]
            whole = fetch(server.host, server.port, path, timeout=TIMEOUT_SECONDS)
            timed = [f for f in firsts if f is not None]
            measured.append(
                {
                    "kind": kind,
                    "view": query or "(all rows)",
                    "sort": order.replace("sort=", "").replace("&dir=", " ") or "symbol",
                    "first_row_ms": round(statistics.median(timed) * 1000, 1) if timed else None,
                    "whole_s": round(whole.total, 3),
                    "rows": whole.footer_rows,
                    "complete": whole.footer,
                }
            )
            cell = measured[-1]
            progress(f"matrix {path}: {cell['first_row_ms']} ms, {cell['rows']} rows")
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.views", description=__doc__)
    parser.add_argument("--database-url", required=True, help="a database seed.py filled")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as folder,
        Server("web:create_app()", args.database_url, Path(folder) / "server.log") as server,
    ):
        fetch(server.host, server.port, "/stocks", stop_after_first_row=True)  # warm up
        print(matrix_table(matrix(server)))


if __name__ == "__main__":
    main()
