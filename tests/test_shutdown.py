"""Streams cut by the server's shutdown (web/shutdown.py) end as "shutdown", each logged
once: by itself when its thread gets to it, or by the cut when its thread is stuck.

The gunicorn side (a HUP or TERM, the old worker exiting after its grace) is in
tests/e2e/test_nginx.py; these drive the same functions in process.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import pytest

from web import shutdown

from .conftest import held_stream


@pytest.fixture(autouse=True)
def not_stopping() -> Iterator[None]:
    yield
    shutdown.stopping.clear()


def logged_outcomes(caplog: pytest.LogCaptureFixture) -> list[str]:
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stream {")]
    return [json.loads(line.removeprefix("stream "))["outcome"] for line in lines]


def test_a_stream_closed_while_the_worker_stops_ends_as_shutdown_not_aborted(client, caplog):
    response, _ = held_stream(client)
    with caplog.at_level(logging.INFO):
        shutdown.stopping.set()
        response.close()  # what the server does once the cut connection fails a write
    assert logged_outcomes(caplog) == ["shutdown"]


def test_a_stream_whose_thread_is_stuck_is_logged_by_the_cut_and_only_once(client, caplog):
    response, _ = held_stream(client)  # held: its thread never comes back to it in time
    with caplog.at_level(logging.INFO):
        assert shutdown.cut_running_streams(wait=0.05) == 1
        assert logged_outcomes(caplog) == ["shutdown"]
        response.close()
    assert logged_outcomes(caplog) == ["shutdown"]


def test_a_client_leaving_before_any_shutdown_is_still_aborted(client, caplog):
    response, _ = held_stream(client)
    with caplog.at_level(logging.INFO):
        response.close()
    assert logged_outcomes(caplog) == ["aborted"]
    assert shutdown.cut_running_streams(wait=0) == 0


def test_the_cut_shuts_down_the_connections_of_requests_in_flight():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        app = shutdown.track_connections(lambda environ, start_response: [b"x"])
        body = app({"gunicorn.socket": ours}, None)
        shutdown.cut_running_streams(wait=0)
        with pytest.raises(OSError):
            ours.sendall(b"more")  # what a stream blocked on a slow client gets
        body.close()
    assert not shutdown._sockets
