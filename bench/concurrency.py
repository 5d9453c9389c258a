"""Many whole-table streams at once against one worker: each holds a thread, not a copy.

The worker's peak memory must stay flat in the number of streams, and every stream must end
with its footer and every row.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Any

from .client import fetch
from .log import progress
from .server import Server
from .throughput import PATH

STREAMS = 20
TIMEOUT_SECONDS = 1200.0  # for all of them; a wedged stream ends the section, not the bench


def measure(server: Server, rows: int, streams: int = STREAMS) -> dict[str, Any]:
    """Start ``streams`` readers together; report completion, wall time and the worker peak."""
    progress(f"concurrency: {streams} streams of {rows:,} rows")
    started = perf_counter()
    with ThreadPoolExecutor(max_workers=streams) as pool:
        futures = [
            pool.submit(fetch, server.host, server.port, PATH, timeout=TIMEOUT_SECONDS)
            for _ in range(streams)
        ]
        results = [future.result() for future in futures]
    wall = perf_counter() - started
    complete = [r.complete and r.rows == rows and r.footer_rows == rows for r in results]
    first_rows = [r.first_row * 1000 for r in results if r.first_row is not None]
    summary = {
        "streams": streams,
        "rows": rows,
        "completed": sum(complete),
        "all_complete": all(complete),
        "wall_s": round(wall, 2),
        "rows_per_s_total": round(sum(r.rows for r in results) / wall),
        "slowest_first_row_ms": round(max(first_rows), 1) if first_rows else None,
        **server.memory(),
        "errors": sorted({r.error for r in results if r.error}),
        "incomplete_rows": [r.rows for r, ok in zip(results, complete, strict=True) if not ok],
        "server_error": None if all(complete) else server.last_error(),
    }
    progress(
        f"concurrency: {summary['completed']}/{streams} complete in {wall:.1f} s, "
        f"peak {summary['peak_mb']} MB"
    )
    return summary
