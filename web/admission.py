"""How many streams a worker runs at once, and per client address: past either, a quick 503.

A stream holds a thread and a database connection for as long as its client takes to read,
so a worker's capacity is its threads (gunicorn.conf.py: 32) and the database's connection
budget, not its CPU. Measured before this module (issue 14): 100 connections that requested
``/stocks`` and never read held all 64 threads of the two workers, and every new visitor
hung for as long as they stayed; behind nginx, 72 of 200 honest readers waited 60 s in
line, got a 504, and gunicorn then ran their streams for nobody.

So a stream first takes a slot here. ``MAX_STREAMS`` slots per worker, kept below the
worker's threads so that a thread is always free to answer the request that finds them all
taken, at once, with ``503`` and ``Retry-After`` (the app's error page says the server is
busy); never a wait in a queue. ``STREAMS_PER_CLIENT`` bounds the slots one address holds,
so a hundred slow clients from a few addresses cannot take them all. Behind a proxy every
request comes from the proxy's address: leave it off there and let the proxy count
(deploy/nginx.conf: ``limit_conn``). The counts are per worker process, as are the threads.

A request can wait in gunicorn's queue for a thread while its client gives up; a stream
started then runs for nobody until its first write fails. Measured with 1,000 slow clients
reconnecting on PostgreSQL: 1,529 streams started, sent their head and were cut before
their first rows, each after a count and a cursor, and a new visitor's request waited
seconds behind them. So a client whose connection is already closed gets no slot.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Callable

from flask import Flask, current_app, request
from werkzeug.exceptions import ClientDisconnected, ServiceUnavailable

RETRY_AFTER_SECONDS = 2
"""What a turned-away client is told to wait: a 100k-row stream takes ~1.4 s (make bench),
so by then a slot has usually come free."""


class ServerBusy(ServiceUnavailable):
    """Every stream slot is taken, or the client's address holds its share: 503, retry."""

    def __init__(self, description: str) -> None:
        super().__init__(description, retry_after=RETRY_AFTER_SECONDS)


class Admission:
    """The stream slots of one worker: at most ``max_streams`` at once, and at most
    ``per_client`` (None: no limit) for one client address."""

    def __init__(self, max_streams: int, per_client: int | None) -> None:
        self.max_streams = max_streams
        self.per_client = per_client
        self._lock = threading.Lock()
        self._by_client: Counter[str] = Counter()
        self.running = 0

    def admit(self, client: str) -> Callable[[], None]:
        """Take a slot for a stream to ``client``, or raise :class:`ServerBusy`. Returns the
        function that gives the slot back; calling it twice gives back one slot."""
        with self._lock:
            if self.running >= self.max_streams:
                raise ServerBusy(
                    f"The server is streaming as many tables as it can ({self.max_streams} at "
                    f"once). Try again in {RETRY_AFTER_SECONDS} seconds."
                )
            if self.per_client is not None and self._by_client[client] >= self.per_client:
                raise ServerBusy(
                    f"Your address already has {self.per_client} tables streaming, the most "
                    f"it may. Try again once one has loaded."
                )
            self.running += 1
            self._by_client[client] += 1
        released = threading.Event()

        def release() -> None:
            with self._lock:
                if released.is_set():
                    return
                released.set()
                self.running -= 1
                self._by_client[client] -= 1
                if not self._by_client[client]:
                    del self._by_client[client]

        return release


def init_app(app: Flask) -> None:
    app.extensions["admission"] = Admission(
        app.config["MAX_STREAMS"], app.config["STREAMS_PER_CLIENT"]
    )


def admit_stream() -> Callable[[], None]:
    """A slot for the current request's stream (see :meth:`Admission.admit`); none for a
    client that has left already (400, which no one reads)."""
    if client_left(request.environ.get("gunicorn.socket")):
        raise ClientDisconnected()
    admission: Admission = current_app.extensions["admission"]
    return admission.admit(request.remote_addr or "")


def client_left(connection: socket.socket | None) -> bool:
    """Whether the client has closed its connection: a peek, without waiting, finds its
    end (or a reset). Bytes waiting, or none yet, mean it is still there."""
    if connection is None:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset, or shut down
        return True
