"""A client that stops reading (web/stalls.py): once a chunk has waited SEND_TIMEOUT to be
sent, the watchdog shuts the client's connection down, and the stream ends "stalled" with
its database connection back in the pool. tests/e2e/test_slow_clients.py does the same to a
real gunicorn with a client that never reads."""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator

import pytest

from web import stalls
from web.db import get_engine

from .conftest import held_stream
from .harness import wait_for

BOUND_SECONDS = 5.0  # the watchdog's own bound is SEND_TIMEOUT + CHECK_SECONDS; room to spare


@pytest.fixture
def connection() -> Iterator[tuple[socket.socket, socket.socket]]:
    """The server's end of a client connection, and the client's."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        yield ours, theirs


def shut_down(theirs: socket.socket) -> bool:
    """The client's end sees the connection closed (EOF)."""
    theirs.settimeout(0.05)
    try:
        return theirs.recv(1) == b""
    except TimeoutError:
        return False


def test_a_send_past_its_timeout_shuts_the_connection(connection):
    ours, theirs = connection
    watch = stalls.Watch(ours, seconds=0.0)
    watch.sending()
    wait_for(lambda: shut_down(theirs), BOUND_SECONDS, "the watchdog to shut the connection")
    assert watch.cut


def test_a_send_that_finished_in_time_is_left_alone(connection):
    ours, theirs = connection
    watch = stalls.Watch(ours, seconds=0.0)
    watch.sending()
    watch.sent()
    assert stalls.cut_overdue() == 0
    assert not watch.cut and not shut_down(theirs)


def test_no_timeout_means_no_watch(connection):
    ours, _ = connection
    watch = stalls.Watch(ours, seconds=None)
    watch.sending()
    assert stalls.cut_overdue() == 0 and not watch.cut


def test_a_stream_its_client_stopped_reading_ends_stalled_and_releases_its_connection(
    app_with, connection, caplog
):
    ours, theirs = connection
    app = app_with(SEND_TIMEOUT=0.05)
    response, _ = held_stream(app.test_client(), environ_base={"gunicorn.socket": ours})
    # The client reads no further: the stream waits at its next chunk until the cut.
    wait_for(lambda: shut_down(theirs), BOUND_SECONDS, "the stalled stream to be cut")
    with caplog.at_level(logging.INFO):
        response.close()  # what gunicorn does once the shut connection fails its write
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stream {")]
    assert [json.loads(line.removeprefix("stream "))["outcome"] for line in lines] == ["stalled"]
    assert get_engine(app).pool.checkedout() == 0
