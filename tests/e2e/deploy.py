"""The production deployment, started for a test: gunicorn app servers and nginx in front.

Each app server is ``gunicorn -c gunicorn.conf.py --workers 1`` serving
``tests.e2e.server:create_gated_app()`` on a free loopback port (the ``base_url`` fixture
starts one this way too), with its access log and its own log in files the test can read. nginx runs
deploy/nginx.conf, rendered as its header says, as a foreground process with a temp prefix.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import ROOT, GateClient, free_port, wait_until_serving

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
MIME_TYPES = Path("/etc/nginx/mime.types")

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


def wait_for(condition: Callable[[], object], timeout: float, what: str) -> object:
    """Poll ``condition`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout} s, still waiting for {what}")
        time.sleep(0.02)  # polling a log or a server's state: there is no event to wait on
    return result


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
    """A gated app server over ``database_url``; ``env`` overrides settings, e.g.
    ``{"GUNICORN_TIMEOUT": "2"}``. Its logs go to files in ``directory``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = directory / f"gunicorn-{port}.log"
    access_log = directory / f"gunicorn-{port}-access.log"
    settings = {"DATABASE_URL": database_url, "GUNICORN_ACCESSLOG": str(access_log)}
    with log.open("w") as output:
        process = subprocess.Popen(
            [
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
            ],
            cwd=ROOT,
            env={**os.environ, **settings, **(env or {})},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = AppServer(url=url, process=process, log=log, access_log=access_log)
    try:
        wait_until_serving(server.url, server.process)
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=60)


class Gates(GateClient):
    """The gates of several app servers, used as one: nginx may send a stream to any of
    them, so a test holds and releases all and counts the waiting streams on all."""

    def __init__(self, servers: Sequence[AppServer]) -> None:
        self.clients = [server.gate for server in servers]

    def hold(self) -> None:
        for client in self.clients:
            client.hold()

    def release(self) -> None:
        for client in self.clients:
            client.release()

    def waiting(self) -> int:
        return sum(client.waiting() for client in self.clients)

    def streams(self) -> list[dict]:
        return [stream for client in self.clients for stream in client.streams()]


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
def nginx(upstreams: Sequence[str], prefix: Path) -> Iterator[Nginx]:
    """nginx on a free loopback port in front of ``upstreams`` (``host:port`` each), running
    deploy/nginx.conf rendered for them, with every file it writes under ``prefix``."""
    port = free_port()
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
    process = subprocess.Popen(command)
    server = Nginx(url=f"http://127.0.0.1:{port}", process=process, prefix=prefix)
    try:
        wait_until_serving(server.url, process)
        yield server
    finally:
        process.terminate()
        process.wait(timeout=30)
