"""Stream the whole table from each variant and size: the main table of the report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from statistics import median
from typing import Any

from . import baselines
from .client import FetchResult, fetch
from .log import progress
from .server import Server

PATH = "/stocks"
STREAM_TIMEOUT = 1800.0


@dataclass(frozen=True)
class Variant:
    name: str
    app: str  # what gunicorn serves
    slow: bool  # ORM-bound: one run per size, and capped at 1M rows unless --full
    unfit: Callable[[], str | None] = lambda: None  # why it cannot run now, if it cannot


VARIANTS = (
    Variant("streamtable", "web:create_app()", slow=False),
    # The same table served as STREAMTABLE_TABLE serves any table: its spec reflected from
    # the database (web/reflect.py) rather than declared (web/models.py), at the same path.
    Variant("reflected", "web:create_app({'TABLE': 'stocks'})", slow=False),
    Variant("floor", "bench.baselines:floor_app", slow=False),
    Variant(
        "handwritten",
        "bench.baselines:create_handwritten_app()",
        slow=False,
        unfit=baselines.handwritten_unfit,
    ),
    Variant("classic", "bench.baselines:create_classic_app()", slow=True),
    Variant("buffered", "bench.baselines:create_buffered_app()", slow=True),
)
SLOW_CAP_ROWS = 1_000_000  # slow variants at this size or more need --full


def repeats(variant: Variant, rows: int) -> int:
    """Whole-table runs per size; the median run is reported. Small sizes are the noisiest."""
    if variant.slow:
        return 1
    return 5 if rows < SLOW_CAP_ROWS else 3


def summarize(result: FetchResult) -> dict[str, Any]:
    """The figures of one whole-table request, in the units the report prints."""
    total = result.total or float("nan")
    return {
        "status": result.status,
        "ttfb_ms": round(result.ttfb * 1000, 2) if result.ttfb is not None else None,
        "first_row_ms": round(result.first_row * 1000, 2) if result.first_row is not None else None,
        "total_s": round(result.total, 3),
        "rows": result.rows,
        "footer_rows": result.footer_rows,
        "complete": result.complete,
        "bytes": result.body_bytes,
        "wire_bytes": result.wire_bytes,
        "rows_per_s": round(result.rows / total),
        "mb_per_s": round(result.body_bytes / total / 1e6, 2),
        "content_encoding": result.headers.get("content-encoding"),
        "error": result.error,
    }


def measure(group: list[tuple[Variant, Server]], rows: int) -> list[dict[str, Any]]:
    """Stream the table from each (fresh) server in turn, round after round; report medians.

    Taking turns, rather than all of one variant then all of the next, spreads the noise of
    a shared machine evenly over the variants compared. Each worker's memory is read after
    the runs, before anything else uses its server.
    """
    runs: dict[str, list[dict[str, Any]]] = {variant.name: [] for variant, _ in group}
    failed: set[str] = set()
    for attempt in range(max(repeats(variant, rows) for variant, _ in group)):
        for variant, server in group:
            if variant.name in failed or attempt >= repeats(variant, rows):
                continue
            progress(f"{variant.name} @ {rows:,}: run {attempt + 1}/{repeats(variant, rows)}")
            result = fetch(server.host, server.port, PATH, timeout=STREAM_TIMEOUT)
            runs[variant.name].append(summarize(result))
            progress(
                f"  {result.rows:,} rows in {result.total:.2f} s"
                + ("" if result.complete else f", INCOMPLETE: {result.error or 'no footer'}")
            )
            if not result.complete:
                progress(f"  server log tail:\n{server.log_tail()}")
                failed.add(variant.name)
    rows_out = []
    for variant, server in group:
        mine = runs[variant.name]
        # A failed run is the news, not the median of the runs before it.
        chosen = mine[-1] if variant.name in failed else _medians(mine)
        rows_out.append(
            {
                "variant": variant.name,
                "rows_expected": rows,
                **chosen,
                "cold_ttfb_ms": mine[0]["ttfb_ms"],
                **server.memory(),
                "runs": mine,
                "skipped": None,
            }
        )
    return rows_out


MEDIAN_FIELDS = ("ttfb_ms", "first_row_ms", "total_s", "rows_per_s", "mb_per_s")


def _medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each timing field's own median, rather than the figures of one "median run".

    A fresh worker's first request (compiling templates, opening the connection) is slow to
    start but not slow to stream; one median run could mix that cold start into the figures.
    """
    middle = sorted(runs, key=lambda run: run["total_s"])[len(runs) // 2]
    return {
        **middle,
        **{field: median(run[field] for run in runs) for field in MEDIAN_FIELDS},
    }


def skipped(variant: Variant, rows: int, measured: dict[str, Any] | None) -> dict[str, Any]:
    """A row saying why a slow variant did not run, scaled from its largest measured run."""
    note = "skipped: slow at this size; --full runs it"
    if measured and measured.get("rows_per_s"):
        scale = rows / measured["rows_expected"]
        minutes = rows / measured["rows_per_s"] / 60
        heap = (measured.get("peak_anon_mb") or 0) * scale / 1024
        note = f"skipped: would take ~{minutes:.0f} min, ~{heap:.1f} GB heap; --full runs it"
    return {"variant": variant.name, "rows_expected": rows, "skipped": note}
