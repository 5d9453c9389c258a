"""``GET /health``: whether this app server can serve its table, for load balancers.

A database outage does not change a page's status: a stream's 200 goes out before its
query runs, and the failure shows as an error row at the end. So a load balancer, a
process supervisor or nginx (deploy/nginx.conf) asks here instead: 200 ``ok`` when a
query on the table answers within :data:`TIMEOUT_SECONDS`, else 503 with a one-line
reason and a reference to the logged error. Never cached.
"""

from __future__ import annotations

from uuid import uuid4

from flask import Blueprint, Response, current_app

from .db import DatabaseMissing, QueryTimeout, get_engine, probe
from .served import served_table

TIMEOUT_SECONDS = 2.0
"""Longer than any healthy answer (a one-row query: ~1 ms on SQLite, ~3 ms on PostgreSQL
over loopback here), shorter than the 5 s a load balancer's check usually waits."""

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> Response:
    try:
        probe(get_engine(), served_table().table, TIMEOUT_SECONDS)
    except Exception as error:
        reference = uuid4().hex[:8]
        # One line, no traceback: a load balancer asks every few seconds while it lasts.
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        current_app.logger.warning("health check failed: %s (reference %s)", reason, reference)
        return _plain(f"unavailable: {_reason(error)} (error reference {reference})\n", 503)
    return _plain("ok\n", 200)


def _reason(error: Exception) -> str:
    """For whoever reads the check; the details (paths, hosts) stay in the log."""
    if isinstance(error, DatabaseMissing):
        return "the database is missing"
    if isinstance(error, QueryTimeout):
        return f"the database took more than {TIMEOUT_SECONDS:g} s to answer"
    return "the database failed"


def _plain(text: str, status: int) -> Response:
    response = Response(text, status=status, content_type="text/plain; charset=utf-8")
    response.cache_control.no_store = True
    return response
