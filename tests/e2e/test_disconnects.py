"""Clients that leave mid-stream, over real HTTP to gunicorn: each stream ends as aborted and
gives its database connection back (on PostgreSQL: no session of the app is left running a
query or idle in a transaction)."""

from __future__ import annotations

import socket
import struct
import time
from urllib.parse import urlsplit

import pytest
from sqlalchemy.engine import make_url

from ..conftest import app_sessions
from .conftest import E2E_ROWS

pytestmark = pytest.mark.e2e

# Distinct paths, so the server's log of ended streams tells them apart.
VIEWS = [
    "/stocks?sort=price",
    "/stocks?sort=name&dir=desc",
    "/stocks?sector=Energy",
    "/stocks?sort=volume&dir=desc&exchange=NYSE",
    "/stocks?q=a",
]
WAIT_SECONDS = 15


def open_stream(base_url: str, path: str) -> socket.socket:
    """A raw HTTP request for ``path``, read until its first rows arrived."""
    address = urlsplit(base_url)
    sock = socket.create_connection((address.hostname, address.port), timeout=WAIT_SECONDS)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {address.netloc}\r\n\r\n".encode())
    received = b""
    while b"<tr><td>" not in received:  # each recv is bounded by the socket's timeout
        data = sock.recv(65536)
        assert data, f"{path}: the server closed the stream before any rows"
        received += data
    return sock


def leave(sock: socket.socket) -> None:
    """Close at once with a reset, as a browser does when its tab is closed mid-download."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_clients_leaving_midway_end_their_streams_and_free_the_database(
    base_url: str, gate, request: pytest.FixtureRequest
):
    if request.config.getoption("--base-url"):
        pytest.skip("the server given with --base-url serves a database this test cannot see")
    database_url = request.getfixturevalue("server_database_url")
    ended_before = len(gate.streams())
    gate.hold()
    sockets = [open_stream(base_url, path) for path in VIEWS]
    gate.wait_until_waiting(len(VIEWS))  # every stream is open on the server, mid-query
    for sock in sockets:
        leave(sock)
    gate.release()  # the streams go on, write to a closed socket, and must end there

    deadline = time.monotonic() + WAIT_SECONDS
    while len(ended := gate.streams()[ended_before:]) < len(VIEWS):
        assert time.monotonic() < deadline, f"only these streams ended: {ended}"
        time.sleep(0.05)  # polling the server's state: there is no event to wait on
    assert sorted((stream["path"], stream["outcome"]) for stream in ended) == sorted(
        (path, "aborted") for path in VIEWS
    )
    assert all(stream["rows"] < E2E_ROWS for stream in ended)
    if make_url(database_url).get_backend_name() == "postgresql":
        # A stream's connection is given back before its end is logged: nothing may be busy.
        busy = [session for session in app_sessions(database_url) if session[0] != "idle"]
        assert busy == []
