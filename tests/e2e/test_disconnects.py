"""Clients that leave mid-stream, over real HTTP to gunicorn: each stream ends as aborted and
gives its database connection back (on PostgreSQL: no session of the app is left running a
query or idle in a transaction)."""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from sqlalchemy.engine import make_url

from ..conftest import app_sessions
from .conftest import E2E_ROWS
from .servers import GateClient, open_stream

pytestmark = pytest.mark.e2e

# Distinct paths, so the server's log of ended streams tells them apart.
VIEWS = [
    "/stocks?sort=price",
    "/stocks?sort=name&dir=desc",
    "/stocks?sector=Energy",
    "/stocks?sort=volume&dir=desc&exchange=NYSE",
    "/stocks?q=a",
]


def test_clients_leaving_midway_end_their_streams_and_free_the_database(
    base_url: str, gate: GateClient, served_database_url: str | None
):
    mark = gate.mark()
    gate.hold()
    with ExitStack() as clients:
        for path in VIEWS:
            clients.enter_context(open_stream(base_url, path))
        gate.wait_until_waiting(len(VIEWS))  # every stream is open on the server, mid-query
    # Every client has left, with a reset.
    gate.release()  # the streams go on, write to a closed socket, and must end there

    ended = gate.wait_until_ended(len(VIEWS), since=mark)
    assert sorted((stream["path"], stream["outcome"]) for stream in ended) == sorted(
        (path, "aborted") for path in VIEWS
    )
    assert all(stream["rows"] < E2E_ROWS for stream in ended)
    # Only the suite's own server has a database the test can look into (None: --base-url).
    if served_database_url and make_url(served_database_url).get_backend_name() == "postgresql":
        # A stream's connection is given back before its end is logged: nothing may be busy.
        busy = [session for session in app_sessions(served_database_url) if session[0] != "idle"]
        assert busy == []
