"""The production deployment: nginx in front of two app servers.

Through deploy/nginx.conf on a real nginx, in Chromium: the first rows show while the stream
is open, requests reach both app servers, static files never reach them, and a browser
leaving stops the stream on the app server.
"""

from __future__ import annotations

import http.client
import re
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page, expect

from web.db import make_engine
from web.seeding import seed

from .conftest import E2E_ROWS, ROOT
from .deploy import AppServer, Gates, Nginx, app_server, nginx, wait_for

pytestmark = pytest.mark.e2e


def ends_whole(body: bytes) -> bool:
    """Whether a page's body ends with the footer of the whole table."""
    return re.search(rb'<footer id="stream-end"[^>]* data-rows="%d"' % E2E_ROWS, body) is not None


@pytest.fixture(scope="module")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite file, seeded like the base_url server's, shared by every app server."""
    path = tmp_path_factory.mktemp("deploy-db") / "stocks.db"
    engine = make_engine(f"sqlite:///{path}")
    seed(engine, E2E_ROWS, seed=11)
    engine.dispose()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def app_servers(seeded_database: str, tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("app-servers")
    with (
        app_server(seeded_database, directory) as first,
        app_server(seeded_database, directory) as second,
    ):
        yield [first, second]


@pytest.fixture(scope="module")
def proxy(app_servers: list[AppServer], tmp_path_factory: pytest.TempPathFactory):
    upstreams = [server.address for server in app_servers]
    with nginx(upstreams, tmp_path_factory.mktemp("nginx")) as server:
        yield server


@pytest.fixture
def gates(app_servers: list[AppServer]):
    both = Gates(app_servers)
    yield both
    both.release()


@pytest.fixture
def proxied_page(browser: Browser, proxy: Nginx):
    """A Chromium page whose relative URLs go to nginx."""
    context = browser.new_context(base_url=proxy.url)
    yield context.new_page()
    context.close()


@contextmanager
def open_stream(url: str, path: str) -> Iterator[tuple[http.client.HTTPResponse, bytes]]:
    """GET ``path`` and read up to its first rows: the response, and what was read of it.
    The connection closes when the block ends, whether the response was read to the end."""
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=15)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        assert response.status == 200
        first = b""
        while b"<tr>" not in first:
            data = response.read1(1 << 16)  # waits for data, 15 s at most
            assert data, "the response ended before its first rows"
            first += data
        yield response, first
    finally:
        connection.close()


def test_first_rows_visible_through_nginx_before_the_stream_completes(
    proxied_page: Page, gates: Gates
):
    gates.hold()
    # "commit": the load event would wait for the end of the stream, which the gate holds.
    proxied_page.goto("/stocks", wait_until="commit")
    expect(proxied_page.locator(".g tr").first).to_be_visible()
    gates.wait_until_waiting(1)  # an app server is provably still holding the stream open
    expect(proxied_page.locator("#stream-end")).to_have_count(0)

    gates.release()
    expect(proxied_page.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))


def test_nginx_spreads_requests_over_both_app_servers(proxy: Nginx, gates: Gates):
    path = "/stocks?sort=price"
    for _ in range(4):
        with urllib.request.urlopen(proxy.url + path, timeout=15) as response:
            assert ends_whole(response.read())
    for client in gates.clients:
        wait_for(
            lambda client=client: any(s["path"] == path for s in client.streams()),
            timeout=10,
            what=f"a stream of {path} on the app server at {client.base_url}",
        )


def test_static_files_come_from_nginx_with_caching_headers(
    proxy: Nginx, app_servers: list[AppServer]
):
    expected = {
        "/static/css/stocks.css": "max-age=3600",
        "/static/vendor/htmx-4.0.1.min.js": "public, max-age=31536000, immutable",
    }
    for path, cache_control in expected.items():
        with urllib.request.urlopen(proxy.url + path, timeout=15) as response:
            assert response.headers["Cache-Control"] == cache_control
            assert response.read() == (ROOT / path.lstrip("/")).read_bytes()
    # Then a marked request straight to each app server: once its access log shows that one,
    # it would show any static file it had served before.
    for server in app_servers:
        with urllib.request.urlopen(f"{server.url}/_test/gate?after-static", timeout=15):
            pass
        wait_for(
            lambda server=server: "/_test/gate?after-static" in server.requested_paths(),
            timeout=10,
            what=f"the access log of {server.url}",
        )
        assert not [path for path in server.requested_paths() if path.startswith("/static/")]


def test_a_client_leaving_through_nginx_stops_the_stream_on_the_app_server(
    proxy: Nginx, gates: Gates
):
    path = "/stocks?sort=volume"
    gates.hold()
    with open_stream(proxy.url, path):
        gates.wait_until_waiting(1)
    # The client has left. nginx logs the request once it has ended it, which closes its
    # connection to the app server ("client prematurely closed connection, so upstream
    # connection is closed too", says its error log).
    wait_for(
        lambda: f'"GET {path} HTTP/1.1"' in proxy.access_log.read_text(),
        timeout=10,
        what="nginx to end the request the client left",
    )
    gates.release()  # the held stream's next write finds the connection gone
    gates.wait_for_outcomes({path: "aborted"})
