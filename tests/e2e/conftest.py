"""A real server (gunicorn, the production settings) and Debian's Chromium.

The suite starts its own server on a free loopback port, over a freshly seeded database.
Given ``--base-url URL`` it uses that server instead, which must serve
``tests.e2e.server:create_gated_app()`` (see the README).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from web.db import make_engine
from web.seeding import seed

from .servers import GateClient, app_server

E2E_ROWS = 5_000

# Assertions wait for their condition. 30 s: besides a loaded 2-core CI machine, htmx's
# handling of a re-stream's response lagged it by 6-9 s now and then in Chromium 156 (the
# server done in 30 ms, the response in Chromium's network timing at +28 ms, a plain fetch
# of the same URL 20 ms; the session note of 2026-12-01 has the steps; not yet explained),
# and 15 s ran out.
expect.set_options(timeout=30_000)


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


@pytest.fixture(scope="session")
def server_database_url(databases) -> str:
    """The database the suite's own servers serve: SQLite, or PostgreSQL when the suite
    runs on it (see tests/conftest.py)."""
    url = databases.create()
    engine = make_engine(url)
    seed(engine, E2E_ROWS, seed=11)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def served_database_url(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> str | None:
    """The database behind ``base_url`` when the suite started that server; None for a
    server given with ``--base-url``, whose database the suite cannot see."""
    if pytestconfig.getoption("--base-url"):
        return None
    return request.getfixturevalue("server_database_url")


@pytest.fixture(scope="session")
def base_url(
    pytestconfig: pytest.Config,
    served_database_url: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    if served_database_url is None:
        yield pytestconfig.getoption("--base-url").rstrip("/")
        return
    with app_server(served_database_url, tmp_path_factory.mktemp("e2e-server")) as server:
        yield server.url


@pytest.fixture
def gate(base_url: str) -> Iterator[GateClient]:
    """The test-only controls of the server at ``base_url``, released after the test so a
    held stream never outlives it."""
    client = GateClient(base_url)
    yield client
    client.release()


def traverse(page: Page, direction: str, js: bool = True) -> None:
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


@pytest.fixture(params=["htmx", "no-js"])
def mode(request) -> str:
    """Each test that takes ``tab`` runs twice: with htmx, and without JavaScript."""
    return request.param


@pytest.fixture
def tab(mode: str, page: Page, browser: Browser, base_url: str):
    """A page with JavaScript (htmx) or a page in a context with JavaScript disabled."""
    if mode == "htmx":
        yield page
        return
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    yield context.new_page()
    context.close()
