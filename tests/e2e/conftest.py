"""A real server (gunicorn, the production settings) and Debian's Chromium.

The suite starts its own server on a free loopback port, over a freshly seeded database.
Given ``--base-url URL`` it uses that server instead, which must serve
``tests.e2e.server:create_gated_app()`` (see the README).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import expect

from web.db import make_engine
from web.seeding import seed

ROOT = Path(__file__).resolve().parents[2]
E2E_ROWS = 5_000
STARTUP_SECONDS = 30

# Assertions wait for their condition; 15 s leaves room for a loaded 2-core CI machine.
expect.set_options(timeout=15_000)


def chromium_path() -> str:
    path = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not path:
        pytest.exit("No Chromium found: run `make test`, which installs Debian's chromium.", 2)
    return path


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {
        **browser_type_launch_args,
        "executable_path": chromium_path(),
        "args": ["--disable-gpu", "--disable-quic"],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the test server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_test/gate", timeout=1):
                return
        # TimeoutError: the port already accepts while the worker still boots (a loaded machine).
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)  # polling a starting server: there is no event to wait on
    raise RuntimeError(f"the test server did not answer within {STARTUP_SECONDS} s")


@pytest.fixture(scope="session")
def server_database_url(databases) -> str:
    """The database the suite's own server serves: SQLite, or PostgreSQL when the suite
    runs on it (see tests/conftest.py)."""
    url = databases.create()
    engine = make_engine(url)
    seed(engine, E2E_ROWS, seed=11)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def base_url(
    pytestconfig: pytest.Config,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
):
    given = pytestconfig.getoption("--base-url")
    if given:
        yield given.rstrip("/")
        return
    from .deploy import app_server  # deploy.py builds on this module's helpers

    database_url = request.getfixturevalue("server_database_url")
    with app_server(database_url, tmp_path_factory.mktemp("e2e-server")) as server:
        yield server.url


class GateClient:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def _call(self, method: str, path: str) -> dict:
        request = urllib.request.Request(f"{self.base_url}/_test{path}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def hold(self) -> None:
        self._call("POST", "/gate/hold")

    def release(self) -> None:
        self._call("POST", "/gate/release")

    def waiting(self) -> int:
        return self._call("GET", "/gate")["waiting"]

    def wait_until_waiting(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` streams are held open at the gate (the server says so)."""
        deadline = time.monotonic() + timeout
        while (waiting := self.waiting()) != count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{waiting} streams held at the gate, expected {count}")
            time.sleep(0.02)  # polling the server's state: there is no event to wait on

    def streams(self) -> list[dict]:
        return self._call("GET", "/streams")

    def wait_for_outcomes(self, expected: dict[str, str], timeout: float = 15.0) -> dict:
        """Until the server has ended each stream in ``expected`` (path -> outcome) so."""
        deadline = time.monotonic() + timeout
        while True:
            seen = {stream["path"]: stream["outcome"] for stream in self.streams()}
            if all(seen.get(path) == outcome for path, outcome in expected.items()):
                return seen
            if time.monotonic() > deadline:
                raise AssertionError(f"expected stream outcomes {expected}, server saw {seen}")
            time.sleep(0.05)  # polling the server's state: there is no event to wait on


@pytest.fixture
def gate(base_url: str):
    client = GateClient(base_url)
    yield client
    client.release()


def traverse(page, direction: str, js: bool = True) -> None:
    """Go back or forward, and wait for the page that history then shows.

    With htmx (``history: "reload"``) a traverse first lands on the old document, and htmx
    then reloads it: wait for that reload's load event, or the test would act on the old
    page while it is being replaced.
    """
    if not js:
        getattr(page, f"go_{direction}")()
        return
    with page.expect_event("load"):
        getattr(page, f"go_{direction}")()
