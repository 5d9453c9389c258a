"""One gunicorn server per measurement, with the repo's production settings and one worker.

A fresh server per variant and size keeps one run's memory peak and caches out of the next.
The worker is the master's only child; its ``VmHWM`` is the peak resident memory of the
process that did the work. ``VmHWM`` also counts file pages mapped into the process (the
app once memory-mapped its SQLite file, and its peak grew with the table), so a sampler
also tracks the peak of ``RssAnon``: the heap, which a leak or a buffered table would grow.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from .client import fetch
from .machine import ROOT

STARTUP_SECONDS = 60
SAMPLE_SECONDS = 0.1
STOP_SECONDS = 40  # above gunicorn.conf.py's graceful_timeout of 30 s
READY_PATH = "/__bench_ready"  # any answer, even a 404, means the worker took the request


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def peak_mb(pid: int) -> float | None:
    """A process's peak resident memory (``VmHWM``) in MB, None once it is gone."""
    kb = _status_kb(pid, "VmHWM")
    return round(kb / 1024, 1) if kb is not None else None


class MemorySampler(threading.Thread):
    """Peak ``RssAnon`` and ``RssFile`` of one process; the kernel keeps no peak for them."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_anon_kb = 0
        self.peak_file_kb = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            anon = _status_kb(self.pid, "RssAnon")
            if anon is None:
                return  # the process is gone
            self.peak_anon_kb = max(self.peak_anon_kb, anon)
            self.peak_file_kb = max(self.peak_file_kb, _status_kb(self.pid, "RssFile") or 0)
            self._stop_event.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


class Server:
    """``gunicorn -c gunicorn.conf.py --workers 1`` serving ``app`` over ``database_url``.

    ``workers=None`` keeps the production setting (``WEB_CONCURRENCY``, default 2); the
    memory figures then follow the first worker only, see :meth:`worker_pids` for all.
    ``env`` overrides settings, e.g. ``{"STREAMTABLE_STREAMS_PER_CLIENT": "2"}``.
    """

    def __init__(
        self,
        app: str,
        database_url: str,
        log_path: Path,
        workers: int | None = 1,
        env: dict[str, str] | None = None,
    ) -> None:
        self.app = app
        self.env = env or {}
        self.database_url = database_url
        self.log_path = log_path
        self.workers = workers
        self.host = "127.0.0.1"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.sampler: MemorySampler | None = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "GUNICORN_ACCESSLOG": "",
            **self.env,
        }
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "gunicorn.conf.py",
            *(["--workers", str(self.workers)] if self.workers else []),
            "--bind",
            f"{self.host}:{self.port}",
            self.app,
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited at startup:\n{self.log_tail()}")
            answer = fetch(self.host, self.port, READY_PATH, timeout=5, read_timeout=5)
            pid = self.worker_pid()
            if answer.status and pid is not None:
                self.sampler = MemorySampler(pid)
                self.sampler.start()
                return
            time.sleep(0.1)  # a starting server has no event to wait on
        raise RuntimeError(f"gunicorn did not serve within {STARTUP_SECONDS} s:\n{self.log_tail()}")

    def worker_pid(self) -> int | None:
        """The master's child: with ``--workers 1`` there is exactly one."""
        pids = self.worker_pids()
        return pids[0] if pids else None

    def worker_pids(self) -> list[int]:
        """The master's children: its workers."""
        if self.process is None:
            return []
        master = self.process.pid
        try:
            return [
                int(pid)
                for pid in Path(f"/proc/{master}/task/{master}/children").read_text().split()
            ]
        except OSError:
            return []

    def peak_mb(self) -> float | None:
        """The worker's peak resident set (``VmHWM``) in MB since it started."""
        pid = self.worker_pid()
        return peak_mb(pid) if pid else None

    def memory(self) -> dict[str, float | None]:
        """``VmHWM``, and the sampled peaks of heap (anon) and mapped-file pages, in MB."""
        sampler = self.sampler
        return {
            "peak_mb": self.peak_mb(),
            "peak_anon_mb": round(sampler.peak_anon_kb / 1024, 1) if sampler else None,
            "peak_file_mb": round(sampler.peak_file_kb / 1024, 1) if sampler else None,
        }

    def streams_ended(self) -> int:
        return len(ended_streams(self.log_path))

    def wait_for_streams(self, count: int, timeout: float = 30.0) -> bool:
        """Wait until ``count`` streams have logged their end (a client that left after the
        first row ends its stream at the server's next write); False if they did not."""
        deadline = time.monotonic() + timeout
        while self.streams_ended() < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def last_error(self) -> str | None:
        """The last exception line the server logged: why a stream was cut short."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return None
        found = [line for line in lines if "Error:" in line or "Exception:" in line]
        return found[-1].strip()[:300] if found else None

    def stop(self) -> None:
        if self.sampler is not None:
            self.sampler.stop()
            self.sampler = None
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


_STREAM_LINE = re.compile(r"stream (\{.*\})$")


def ended_streams(log_path: Path) -> list[dict[str, Any]]:
    """The app's one-line-per-stream log (web/streams.py), from the server's log."""
    ended = []
    for line in log_path.read_text(errors="replace").splitlines():
        if match := _STREAM_LINE.search(line):
            ended.append(json.loads(match[1]))
    return ended
