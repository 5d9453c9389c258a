"""The view's total, early: "N of TOTAL" while the rows stream.

Counted before the rows, within ``COUNT_SECONDS`` (50 ms by default): long enough for the
whole table and for filters an index serves, too short to delay the first row noticeably.
A count that needs longer (a search scans the table) is stopped and replaced by an
estimate, marked as one; the footer always has the exact figure, counted by the stream.

Estimates: PostgreSQL's planner says how many rows it expects (``EXPLAIN``). SQLite keeps
no such figure for a filter, so it counts the view's rows among the first
:data:`SAMPLE_ROWS` ids and scales that up to the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, func, literal_column, select

from . import planner
from .db import count_within, postgresql_estimate, scalar_within
from .view import View

COUNT_SHARE = 0.6
"""The share of ``COUNT_SECONDS`` the count gets; the estimate, if needed, the rest."""

SAMPLE_ROWS = 5_000
"""Rows SQLite samples for an estimate: a two-hundredth of a 1M-row table's scan (q=robotics:
count and estimate together took 36 ms of a 50 ms budget), and enough that a filter keeping
1 row in 100 is seen ~50 times."""

MIN_SAMPLED = 10
"""Matches a sample needs before it is scaled up; fewer say too little to estimate."""


@dataclass(frozen=True)
class Total:
    rows: int | None = None  # None: not known before the rows (the footer will say)
    exact: bool = False


def early_total(engine: Engine, view: View, seconds: float) -> Total:
    """The view's row count if it comes within ``seconds``, else an estimate, or nothing."""
    if seconds <= 0:
        return Total()
    # A search counts through its index; the planner counts the same (one count a page).
    count = count_within(engine, planner.count_statement(engine, view), seconds * COUNT_SHARE)
    if count is not None:
        return Total(count, exact=True)
    if engine.dialect.name == "postgresql":
        estimate = postgresql_estimate(engine, planner.count_statement(engine, view), seconds * 0.3)
    else:
        estimate = _sampled_estimate(engine, view, seconds * 0.3)
    return Total(estimate) if estimate is not None else Total()


def _sampled_estimate(engine: Engine, view: View, seconds: float) -> int | None:
    table = view.spec.table
    # A reflected table samples by SQLite's own row number; a WITHOUT ROWID table has
    # none, and the query's error means no estimate.
    row_id = literal_column("_rowid_") if view.spec.reflected else table.c.id
    top = scalar_within(engine, select(func.max(row_id)).select_from(table), seconds)
    if not top:
        return None
    conditions = [row_id <= SAMPLE_ROWS, *view.conditions()]
    sample = select(func.count()).select_from(table).where(*conditions)
    matches = count_within(engine, sample, seconds)  # remembered, as the count is
    if matches is None or matches < MIN_SAMPLED:
        return None
    return round(matches * top / min(top, SAMPLE_ROWS))
