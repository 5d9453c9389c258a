"""Cutting a stream whose client stopped reading, so its thread and connection come back.

gunicorn's threaded worker writes each chunk with a blocking ``sendall`` and no timeout: a
client that stops reading (or reads a few bytes a second) holds the stream's thread, its
database connection and its slot (:mod:`web.admission`) for as long as it likes. Measured
in issue 14: readers trickling 32 KB/s each held all 64 threads for a whole 130 s test.

So while a stream waits for the server to send its chunk (suspended at its ``yield``), a
watchdog thread, one per worker, gives it ``SEND_TIMEOUT`` seconds; past that it shuts the
client's connection down (``environ["gunicorn.socket"]``), the blocked ``sendall`` fails
at once, gunicorn closes the stream, and it ends ``stalled`` and releases its connection.
A chunk is at most ~64 KB, so this is also a floor on a reader's speed (64 KB in
``SEND_TIMEOUT``). A socket timeout would do the same with no thread, but gunicorn logs a
traceback for every timed-out write; a shut connection fails quietly (EPIPE).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Generator, Iterator
from contextlib import suppress
from time import monotonic, sleep

CHECK_SECONDS = 0.25
"""How often the watchdog looks: a stalled stream is cut at most this long after its
``SEND_TIMEOUT``."""

SEND_BUFFER_BYTES = 256 * 1024
"""The kernel's send buffer for a stream's client connection (Linux doubles it for its own
bookkeeping). Left to itself it grows to 4 MB: a client that never read took ~18,000 rows
(2.8 MB of page) before its stream blocked, rendered again at each reconnect."""

_lock = threading.Lock()
_sending: dict[Watch, float] = {}  # watch -> when its send must have finished
_watchdog: threading.Thread | None = None


class Watch:
    """One stream's client connection and how long a send may take; ``cut`` says whether
    the watchdog shut the connection for a send that took longer."""

    def __init__(self, connection: socket.socket | None, seconds: float | None) -> None:
        self.connection = connection
        self.seconds = seconds
        self.cut = False
        if connection is not None and seconds is not None:
            with suppress(OSError):
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)

    def sending(self) -> None:
        if self.connection is None or self.seconds is None:
            return
        with _lock:
            _sending[self] = monotonic() + self.seconds
        _start_watchdog()

    def sent(self) -> None:
        with _lock:
            _sending.pop(self, None)


def sent_in_time(chunks: Generator[bytes], watch: Watch) -> Iterator[bytes]:
    """``chunks`` passed on, each given ``watch.seconds`` to be sent; closing this closes
    ``chunks`` at once (its query ends and its connection goes back to the pool)."""
    try:
        for chunk in chunks:
            watch.sending()
            yield chunk
            watch.sent()
    finally:
        watch.sent()
        chunks.close()


def cut_overdue(now: float | None = None) -> int:
    """Shut down the connection of every send past its deadline; returns how many."""
    now = monotonic() if now is None else now
    with _lock:
        overdue = [watch for watch, deadline in _sending.items() if deadline <= now]
        for watch in overdue:
            del _sending[watch]
            watch.cut = True
    for watch in overdue:
        with suppress(OSError):  # the client closed it meanwhile
            watch.connection.shutdown(socket.SHUT_RDWR)
    return len(overdue)


def _watch_forever() -> None:
    while True:  # a daemon thread for the worker's life: it ends with the process
        sleep(CHECK_SECONDS)  # a clock to watch, not an event to wait on
        cut_overdue()


def _start_watchdog() -> None:
    """Started by the first stream that sends, so in the worker, after gunicorn forked it."""
    global _watchdog
    with _lock:
        if _watchdog is None or not _watchdog.is_alive():
            _watchdog = threading.Thread(target=_watch_forever, name="send-watchdog", daemon=True)
            _watchdog.start()
