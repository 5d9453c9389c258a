"""Waiting on other processes, for tests: poll a condition, start a process and wait until
it is ready, pick a free port.

The suite drives real processes (gunicorn, nginx, seed.py) whose state it can only observe
from outside: a port that answers, a log line, a file's size. None of them signals the test,
so every wait here is a bounded poll, and every wait in the suite goes through
:func:`wait_for`.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parents[1]
"""The checkout: where gunicorn.conf.py, seed.py and deploy/ are."""

STARTUP_SECONDS = 30
"""How long a process may take to be ready: generous, for a loaded 2-core machine."""

POLL_SECONDS = 0.02

T = TypeVar("T")


def wait_for(condition: Callable[[], T], timeout: float, what: str | Callable[[], str]) -> T:
    """Poll ``condition`` until it returns something true, and return that; fail after
    ``timeout`` seconds, saying ``what`` was awaited (a callable: said as things stand
    then, e.g. with the last state seen)."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"after {timeout} s, still waiting for {said}")
        time.sleep(POLL_SECONDS)  # another process's state: there is no event to wait on
    return result


def free_port() -> int:
    """A loopback port nothing listens on now, for a server the test is about to start."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(
    command: Sequence[str],
    ready: Callable[[], object],
    what: str,
    timeout: float = STARTUP_SECONDS,
    **popen: Any,
) -> Iterator[subprocess.Popen]:
    """``command`` started (``popen`` goes to :class:`subprocess.Popen`) and polled until
    ``ready()`` is true; stopped when the block ends, whether or not it is still running.
    ``what`` names what is awaited, for the message if it never comes.

    A process that exits before it is ready fails the wait at once, with its output when
    that was piped, rather than after ``timeout``.
    """
    process = subprocess.Popen(command, **popen)

    def started() -> object:
        if process.poll() is not None:
            piped = subprocess.PIPE in (popen.get("stdout"), popen.get("stderr"))
            output = "".join(str(part) for part in process.communicate() if part) if piped else ""
            raise AssertionError(
                f"{what}: the process exited with {process.returncode} before it was ready\n"
                + output
            )
        return ready()

    try:
        wait_for(started, timeout, what)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_python(arguments: Sequence[str], timeout: float) -> subprocess.CompletedProcess:
    """Run this interpreter from the project's root, as a user runs ``python -m bench``;
    its output captured, its exit status left to the test."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
