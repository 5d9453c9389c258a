"""Ending a worker's streams when the server stops it, each with its one log line.

gunicorn's threaded worker stops on SIGTERM (and the old workers on SIGHUP, which the master
sends them SIGTERM for): it stops accepting, gives running requests
``GUNICORN_GRACEFUL_TIMEOUT``, then leaves its main loop. Measured on gunicorn 27, two
things went wrong with a stream still running then. Its thread kept the process alive
(Python waits for threads at exit) while the worker sent no more heartbeats, so after a
SIGHUP the old worker lingered until the master killed it for ``GUNICORN_TIMEOUT`` (``WORKER
TIMEOUT``); after a SIGTERM the master killed it at the end of the grace. Either way the
stream never logged its line.

So gunicorn.conf.py calls :func:`cut_later` when a worker is told to stop: just before the
grace ends (:data:`CUT_MARGIN_SECONDS`), :func:`cut_running_streams` shuts down every client
connection still open, so a stream blocked writing to a slow client fails at once and ends
as ``shutdown``, logging its line; one that does not end within :data:`CUT_WAIT_SECONDS`
(its thread stuck in a query, say) is logged as ``shutdown`` for it. Once the worker has
left its loop, :func:`exit_when_threads_done` exits the process even if such a thread is
still busy. Outside gunicorn none of this runs.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import Any

from werkzeug.wsgi import ClosingIterator

CUT_MARGIN_SECONDS = 0.5
"""How long before the end of the grace running streams are cut: the master kills a
SIGTERM'd worker right at its end, and the cut needs a moment. Measured with two streams
held at the test gate (so logged by the cut, after :data:`CUT_WAIT_SECONDS`): after a HUP
with a 2 s grace, the clients saw the end 1.56 s and the two lines were logged 1.82 s
after the signal, and the old worker exited at 2 s."""

CUT_WAIT_SECONDS = 0.25
"""How long a cut stream has to end by itself and log its own line."""

EXIT_WAIT_SECONDS = 1.0
"""How long an exiting worker waits for its threads before it exits without them."""

stopping = threading.Event()
"""Set once the worker cuts its streams: a stream closed then ended by shutdown, not by
its client leaving."""

_lock = threading.Lock()
_streams: dict[int, Callable[[], None]] = {}  # running stream -> log it as cut
_sockets: set[socket.socket] = set()  # client connections of the requests in flight
_ids = itertools.count()


def stream_started(log_as_cut: Callable[[], None]) -> int:
    """Note a running stream; ``log_as_cut`` logs it as ended by shutdown, should it not
    end by itself in time. Returns the token for :func:`stream_ended`."""
    token = next(_ids)
    with _lock:
        _streams[token] = log_as_cut
    return token


def stream_ended(token: int) -> bool:
    """Note the stream's end. False: the shutdown has already logged it, do not again."""
    with _lock:
        return _streams.pop(token, None) is not None


def track_connections(wsgi_app: Callable) -> Callable:
    """WSGI middleware: the client connection of each request in flight, from gunicorn's
    ``environ["gunicorn.socket"]``, for :func:`cut_running_streams` to shut down."""

    def app(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        connection = environ.get("gunicorn.socket")
        body = wsgi_app(environ, start_response)
        if connection is None:
            return body
        with _lock:
            _sockets.add(connection)
        return ClosingIterator(body, lambda: _forget(connection))

    return app


def _forget(connection: socket.socket) -> None:
    with _lock:
        _sockets.discard(connection)


def cut_running_streams(wait: float = CUT_WAIT_SECONDS) -> int:
    """Shut down every client connection in flight and give the streams ``wait`` seconds to
    end by themselves; log the ones still running as cut. Returns how many were running."""
    stopping.set()
    with _lock:
        running, connections = len(_streams), list(_sockets)
    for connection in connections:
        with suppress(OSError):  # closed meanwhile
            connection.shutdown(socket.SHUT_RDWR)  # a blocked send fails at once
    deadline = time.monotonic() + wait
    while _streams and time.monotonic() < deadline:
        time.sleep(0.01)  # the streams' own threads end them; nothing to wait on but this
    with _lock:
        left = list(_streams.values())
        _streams.clear()
    for log_as_cut in left:
        log_as_cut()
    return running


def cut_later(delay: float) -> None:
    """Run :func:`cut_running_streams` in ``delay`` seconds, on a thread of its own."""
    timer = threading.Timer(max(delay, 0.0), cut_running_streams)
    timer.daemon = True
    timer.start()


def exit_when_threads_done(wait: float = EXIT_WAIT_SECONDS) -> None:
    """Cut what still runs, wait ``wait`` seconds for the other threads, then exit now if
    one is still busy (Python would wait for it at exit, however long it takes)."""
    cut_running_streams()
    deadline = time.monotonic() + wait
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    for thread in others:
        if not thread.daemon:
            thread.join(max(deadline - time.monotonic(), 0.0))
    if any(thread.is_alive() and not thread.daemon for thread in others):
        logging.shutdown()  # flush every log line first
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
