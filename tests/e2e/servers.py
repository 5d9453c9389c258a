"""The servers the e2e tests run against, started for a test, and the clients that talk to
them: gunicorn app servers serving the gated test app, nginx in front of them, the client of
their test-only controls (:class:`GateClient`), and a stream read until its first rows.

Each app server is ``gunicorn -c gunicorn.conf.py --workers 1`` serving
``tests.e2e.server:create_gated_app()`` on a free loopback port (the ``base_url`` fixture
starts one this way too), with its access log and its own log in files the test can read.
nginx runs deploy/nginx.conf, rendered as its header says, as a foreground process with a
temp prefix.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..harness import ROOT, free_port, running, wait_for

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
MIME_TYPES = Path("/etc/nginx/mime.types")
STREAM_TIMEOUT = 15
"""Seconds a client waits for each read of a stream: room for a loaded 2-core machine."""

# Where nginx writes by default comes from its build (Debian: /var/lib/nginx, /var/log/nginx),
# which needs root and outlives the test. These lines, added to the rendered http block, keep
# every file nginx writes under the test's prefix; nothing else in deploy/nginx.conf changes.
PREFIX_PATHS = """
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/temp/body;
    proxy_temp_path {prefix}/temp/proxy;
    fastcgi_temp_path {prefix}/temp/fastcgi;
    uwsgi_temp_path {prefix}/temp/uwsgi;
    scgi_temp_path {prefix}/temp/scgi;
"""


def serves_gate(url: str, path: str = "/_test/gate") -> bool:
    """Whether the gated app answers at ``url`` (directly, or through nginx); or any app
    that answers ``path``, e.g. ``/health``."""
    try:
        with urllib.request.urlopen(f"{url}{path}", timeout=1):
            return True
    # TimeoutError: the port already accepts while the worker still boots (a loaded machine).
    # HTTPError (a URLError): nginx is up, but answers 502 while no app server does.
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


StreamMark = dict[str, int]
"""How many streams each server (by base URL) had ended when :meth:`GateClient.mark` ran."""


class GateClient:
    """The test-only controls (tests/e2e/server.py) of one or several app servers, used as
    one: nginx may send a stream to any of them, so a test holds and releases them all,
    counts the waiting streams on all, and reads the streams ended on all."""

    def __init__(self, *base_urls: str) -> None:
        self.base_urls = list(base_urls)

    def _call(self, base_url: str, method: str, path: str) -> object:
        request = urllib.request.Request(f"{base_url}/_test{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def _call_each(self, method: str, path: str) -> list:
        return [self._call(base_url, method, path) for base_url in self.base_urls]

    def hold(self) -> None:
        """Stop every stream after its first chunk of rows, until :meth:`release`."""
        self._call_each("POST", "/gate/hold")

    def release(self) -> None:
        self._call_each("POST", "/gate/release")

    def waiting(self) -> int:
        return sum(status["waiting"] for status in self._call_each("GET", "/gate"))

    def wait_until_waiting(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` streams are held open at the gate (the servers say so)."""
        waiting = None

        def arrived() -> bool:
            nonlocal waiting
            waiting = self.waiting()
            return waiting == count

        wait_for(arrived, timeout, lambda: f"{count} streams held at the gate, not {waiting}")

    def fail_next_query_after(self, rows: int) -> None:
        """Make each server's next query fail once it has handed out ``rows`` rows
        (tests/faults.py)."""
        for armed in self._call_each("POST", f"/fault?after={rows}"):
            assert armed == {"armed": rows}

    def mark(self) -> StreamMark:
        """Where the servers' logs of ended streams stand now. Take it before the test acts
        and pass it as ``since``, so that a stream an earlier test left behind cannot count
        for this one."""
        return {url: len(ended) for url, ended in zip(self.base_urls, self._ended(), strict=True)}

    def _ended(self) -> list[list[dict]]:
        return self._call_each("GET", "/streams")

    def streams(self, *, since: StreamMark) -> list[dict]:
        """The streams the servers ended after ``since`` (path, rows, outcome, ...), in the
        order each server ended them."""
        return [
            stream
            for url, ended in zip(self.base_urls, self._ended(), strict=True)
            for stream in ended[since[url] :]
        ]

    def wait_until_ended(
        self, count: int, *, since: StreamMark, timeout: float = 15.0
    ) -> list[dict]:
        """Until ``count`` streams or more have ended after ``since``; returns them."""
        ended: list[dict] = []

        def enough() -> list[dict] | None:
            nonlocal ended
            ended = self.streams(since=since)
            return ended if len(ended) >= count else None

        return wait_for(enough, timeout, lambda: f"{count} streams to end; these did: {ended}")

    def wait_for_outcomes(
        self, expected: dict[str, str], *, since: StreamMark, timeout: float = 15.0
    ) -> dict[str, str]:
        """Until the servers have ended each stream in ``expected`` (path -> outcome) so,
        after ``since``. Returns the last outcome of each path ended since then."""
        seen: dict[str, str] = {}

        def all_seen() -> dict[str, str] | None:
            nonlocal seen
            seen = {stream["path"]: stream["outcome"] for stream in self.streams(since=since)}
            return seen if all(seen.get(path) == end for path, end in expected.items()) else None

        return wait_for(
            all_seen, timeout, lambda: f"stream outcomes {expected}; the servers saw {seen}"
        )


@dataclass
class AppServer:
    url: str
    process: subprocess.Popen
    log: Path
    access_log: Path

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    @property
    def gate(self) -> GateClient:
        return GateClient(self.url)

    def log_text(self) -> str:
        return self.log.read_text()

    def worker_pids(self) -> list[int]:
        """Every worker this server has started, in order (from gunicorn's own log)."""
        return [int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", self.log_text())]

    def requested_paths(self) -> list[str]:
        """The path of every request this server has answered (from its access log)."""
        return re.findall(r'"[A-Z]+ (\S+) HTTP/[\d.]+"', self.access_log.read_text())


@contextmanager
def app_server(
    database_url: str, directory: Path, env: dict[str, str] | None = None
) -> Iterator[AppServer]:
    """A gated app server over ``database_url``, once it answers; ``env`` overrides
    settings, e.g. ``{"GUNICORN_TIMEOUT": "2"}``. Its logs go to files in ``directory``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = directory / f"gunicorn-{port}.log"
    access_log = directory / f"gunicorn-{port}-access.log"
    settings = {"DATABASE_URL": database_url, "GUNICORN_ACCESSLOG": str(access_log)}
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        "--workers",
        "1",
        "--bind",
        url.removeprefix("http://"),
        "tests.e2e.server:create_gated_app()",
    ]
    with (
        log.open("w") as output,
        running(
            command,
            ready=lambda: serves_gate(url),
            what=f"the app server at {url} to answer (its log: {log})",
            cwd=ROOT,
            env={**os.environ, **settings, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        yield AppServer(url=url, process=process, log=log, access_log=access_log)


def nginx_path() -> str:
    path = os.environ.get("NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(path).exists():
        pytest.exit("No nginx found: run `make test`, which installs Debian's nginx.", 2)
    return path


def render_nginx_conf(listen: str, upstreams: Sequence[str], root: Path = ROOT) -> str:
    """deploy/nginx.conf with its placeholders filled in, exactly as its header says."""
    return (
        NGINX_CONF.read_text()
        .replace("__LISTEN__", listen)
        .replace("__UPSTREAMS__", " ".join(f"server {address};" for address in upstreams))
        .replace("__ROOT__", str(root))
    )


@dataclass
class Nginx:
    url: str
    process: subprocess.Popen
    prefix: Path

    @property
    def access_log(self) -> Path:
        return self.prefix / "access.log"


@contextmanager
def nginx(
    upstreams: Sequence[str], prefix: Path, ready_path: str = "/_test/gate"
) -> Iterator[Nginx]:
    """nginx on a free loopback port in front of ``upstreams`` (``host:port`` each), running
    deploy/nginx.conf rendered for them, with every file it writes under ``prefix``; ready
    once the app answers ``ready_path`` through it (bench.slow_clients runs it in front of
    the plain app, ``/health``)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    conf = render_nginx_conf(f"127.0.0.1:{port}", upstreams)
    local_paths = "http {" + PREFIX_PATHS.format(prefix=prefix)
    conf, found = re.subn(r"^http \{$", local_paths, conf, count=1, flags=re.MULTILINE)
    assert found, "deploy/nginx.conf has no line `http {` to add the test's paths to"
    (prefix / "temp").mkdir(parents=True, exist_ok=True)
    shutil.copy(MIME_TYPES, prefix / "mime.types")
    (prefix / "nginx.conf").write_text(conf)
    # Started by root, nginx would run its workers as "nobody", who cannot enter pytest's
    # private temp directories; started by anyone else, they run as that user anyway.
    user = "user root;" if os.geteuid() == 0 else ""
    command = [
        nginx_path(),
        "-p",
        str(prefix),
        "-c",
        str(prefix / "nginx.conf"),
        "-g",
        f"daemon off; pid {prefix}/nginx.pid; error_log {prefix}/error.log info; {user}",
    ]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True)
    if check.returncode:
        raise RuntimeError(f"nginx -t refused the config:\n{check.stderr}")
    what = f"nginx at {url} to answer (its log: {prefix}/error.log)"
    with running(command, ready=lambda: serves_gate(url, ready_path), what=what) as process:
        yield Nginx(url=url, process=process, prefix=prefix)


@dataclass
class OpenStream:
    """A response read up to its first rows: ``first`` is what was read of it."""

    response: http.client.HTTPResponse
    first: bytes


@contextmanager
def open_stream(url: str, path: str, source: str | None = None) -> Iterator[OpenStream]:
    """GET ``path`` from the server at ``url`` and read until its first rows arrived;
    from the loopback address ``source`` if given (127.0.0.2, ...), as another client.

    Leaving the block is the client leaving: the connection closes at once with a reset,
    as a browser's does when its tab is closed mid-download, whether or not the response
    was read to its end.
    """
    connection = http.client.HTTPConnection(
        url.removeprefix("http://"),
        timeout=STREAM_TIMEOUT,
        source_address=(source, 0) if source else None,
    )
    response = None
    try:
        connection.connect()
        # Linger on, for zero seconds: closing the socket then sends a reset, not a FIN.
        connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 200
        first = b""
        while b"<tr><td>" not in first:
            data = response.read1(1 << 16)  # waits for data, STREAM_TIMEOUT at most
            assert data, f"{path}: the response ended before its first rows"
            first += data
        yield OpenStream(response, first)
    finally:
        if response is not None:
            response.close()  # it shares the socket: both must close for the reset to go
        connection.close()
