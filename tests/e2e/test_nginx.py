"""The production deployment: gunicorn's settings, and nginx in front of two app servers.

Through deploy/nginx.conf on a real nginx, in Chromium: the first rows show while the stream
is open, requests reach both app servers, static files never reach them, and a browser
leaving stops the stream on the app server. Then gunicorn.conf.py on its own, with short
timeouts from the environment: a stream outlives the worker timeout, a hung worker is still
replaced, and a shutdown lets a running stream finish or cuts it off after its grace.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, closing, suppress
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from ..harness import ROOT, wait_for
from .conftest import E2E_ROWS
from .servers import AppServer, GateClient, Nginx, app_server, nginx, open_stream

pytestmark = pytest.mark.e2e


def ends_whole(body: bytes) -> bool:
    """Whether a page's body ends with the footer of the whole table."""
    return re.search(rb'<footer id="stream-end"[^>]* data-rows="%d"' % E2E_ROWS, body) is not None


@pytest.fixture(scope="module")
def app_servers(
    server_database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[AppServer]]:
    """Two app servers over the one database the suite's own server serves."""
    directory = tmp_path_factory.mktemp("app-servers")
    with (
        app_server(server_database_url, directory) as first,
        app_server(server_database_url, directory) as second,
    ):
        yield [first, second]


@pytest.fixture(scope="module")
def proxy(
    app_servers: list[AppServer], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Nginx]:
    upstreams = [server.address for server in app_servers]
    with nginx(upstreams, tmp_path_factory.mktemp("nginx")) as server:
        yield server


@pytest.fixture
def gates(app_servers: list[AppServer]) -> Iterator[GateClient]:
    """The gates of both app servers, used as one: nginx may send a stream to either."""
    both = GateClient(*(server.url for server in app_servers))
    yield both
    both.release()


@pytest.fixture
def proxied_page(browser: Browser, proxy: Nginx) -> Iterator[Page]:
    """A Chromium page whose relative URLs go to nginx."""
    context = browser.new_context(base_url=proxy.url)
    yield context.new_page()
    context.close()


# --- through nginx -----------------------------------------------------------------------


def test_first_rows_visible_through_nginx_before_the_stream_completes(
    proxied_page: Page, gates: GateClient
):
    gates.hold()
    # "commit": the load event would wait for the end of the stream, which the gate holds.
    proxied_page.goto("/stocks", wait_until="commit")
    expect(proxied_page.locator(".g tr").first).to_be_visible()
    gates.wait_until_waiting(1)  # an app server is provably still holding the stream open
    expect(proxied_page.locator("#stream-end")).to_have_count(0)

    gates.release()
    expect(proxied_page.locator("#stream-end")).to_have_attribute("data-rows", str(E2E_ROWS))


def test_nginx_spreads_requests_over_both_app_servers(
    proxy: Nginx, gates: GateClient, app_servers: list[AppServer]
):
    path = "/stocks?sort=price"
    mark = gates.mark()
    for _ in range(4):
        with urllib.request.urlopen(proxy.url + path, timeout=15) as response:
            assert ends_whole(response.read())
    for server in app_servers:
        wait_for(
            lambda server=server: any(s["path"] == path for s in server.gate.streams(since=mark)),
            timeout=10,
            what=f"a stream of {path} on the app server at {server.url}",
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
    proxy: Nginx, gates: GateClient
):
    path = "/stocks?sort=volume"
    mark = gates.mark()
    gates.hold()
    with open_stream(proxy.url, path):
        gates.wait_until_waiting(1)
    # The client has left, with a reset. nginx logs the request once it has ended it, which
    # closes its connection to the app server ("client prematurely closed connection, so
    # upstream connection is closed too (104: Connection reset by peer)", says its error log).
    wait_for(
        lambda: f'"GET {path} HTTP/1.1"' in proxy.access_log.read_text(),
        timeout=10,
        what="nginx to end the request the client left",
    )
    gates.release()  # the held stream's next write finds the connection gone
    gates.wait_for_outcomes({path: "aborted"}, since=mark)


def test_nginx_closes_an_http_0_9_request_without_an_answer(proxy: Nginx):
    """HTTP/0.9 has no headers, so no Content-Security-Policy: no answer at all."""
    host, port = proxy.url.removeprefix("http://").split(":")
    for request, answered in ((b"GET /stocks\r\n", False), (b"GET /health HTTP/1.0\r\n\r\n", True)):
        with socket.create_connection((host, int(port)), timeout=15) as sock:
            sock.sendall(request)
            received = b""
            while data := sock.recv(1 << 16):
                received += data
        assert received.startswith(b"HTTP/1.1 200 OK\r\n") == answered, received[:80]
        assert bool(received) == answered


def test_nginx_turns_away_an_address_past_its_share_of_streams_with_503_and_retry_after(
    proxy: Nginx, gates: GateClient
):
    """deploy/nginx.conf's limit_conn: 4 streams open from one address, the fifth from it
    gets a quick 503 with Retry-After, while another address still gets its stream."""
    gates.hold()
    with ExitStack() as streams:
        for _ in range(4):
            streams.enter_context(open_stream(proxy.url, "/stocks", source="127.0.0.2"))
        gates.wait_until_waiting(4)
        busy = http.client.HTTPConnection(
            proxy.url.removeprefix("http://"), timeout=15, source_address=("127.0.0.2", 0)
        )
        with closing(busy):
            busy.request("GET", "/stocks")
            answer = busy.getresponse()
            assert answer.status == 503
            assert answer.headers["Retry-After"] == "2"
            assert b"Too many tables streaming to your address" in answer.read()
        with open_stream(proxy.url, "/stocks", source="127.0.0.3") as other:
            assert b"<tr><td>" in other.first
    gates.release()


def test_nginx_answers_health_from_a_sound_server_and_sets_a_failing_one_aside(
    server_database_url: str, tmp_path: Path
):
    """One app server has lost its database: a prober polling /health through nginx gets
    "ok" from the other, and nginx then sends the pages there too."""
    missing = f"sqlite:///{tmp_path / 'deleted.db'}"
    with (
        app_server(server_database_url, tmp_path) as sound,
        app_server(missing, tmp_path) as failing,
        nginx([sound.address, failing.address], tmp_path / "nginx") as proxy,
    ):
        for _ in range(4):
            with urllib.request.urlopen(f"{proxy.url}/health", timeout=15) as response:
                assert response.status == 200 and response.read() == b"ok\n"
        wait_for(
            lambda: "/health" in failing.requested_paths(),
            timeout=10,
            what="nginx to have asked the failing server once",
        )
        for _ in range(3):
            with urllib.request.urlopen(f"{proxy.url}/stocks", timeout=15) as response:
                assert ends_whole(response.read())
        assert "/stocks" not in failing.requested_paths()
        with pytest.raises(urllib.error.HTTPError) as direct:
            urllib.request.urlopen(f"{failing.url}/health", timeout=15)
        direct.value.close()
        assert direct.value.code == 503


# --- gunicorn.conf.py on its own -----------------------------------------------------------

TIMEOUT = 2
"""GUNICORN_TIMEOUT for these tests: the worker heartbeat, in seconds."""


def test_a_stream_longer_than_the_worker_timeout_is_not_killed(
    server_database_url: str, tmp_path: Path
):
    env = {"GUNICORN_TIMEOUT": str(TIMEOUT)}
    with app_server(server_database_url, tmp_path, env) as server:
        mark = server.gate.mark()
        server.gate.hold()
        with open_stream(server.url, "/stocks") as stream:
            server.gate.wait_until_waiting(1)
            held_since = time.monotonic()

            def outlived_the_timeout() -> bool:
                """The held stream's worker is still the first one, past the timeout plus
                the arbiter's one-second check and a margin: fails as soon as it is not."""
                assert "WORKER TIMEOUT" not in server.log_text(), "the stream's worker was killed"
                return time.monotonic() - held_since > TIMEOUT + 3

            wait_for(outlived_the_timeout, TIMEOUT + 10, "the stream to outlive the timeout")
            server.gate.release()
            body = stream.first + stream.response.read()

        assert ends_whole(body)
        assert "WORKER TIMEOUT" not in server.log_text()
        assert len(server.worker_pids()) == 1
        server.gate.wait_for_outcomes({"/stocks": "completed"}, since=mark)
        (report,) = server.gate.streams(since=mark)
        assert report["seconds"] > TIMEOUT + 3


def test_a_worker_that_stops_answering_is_replaced(server_database_url: str, tmp_path: Path):
    env = {"GUNICORN_TIMEOUT": str(TIMEOUT)}
    with app_server(server_database_url, tmp_path, env) as server:
        (worker,) = server.worker_pids()
        os.kill(worker, signal.SIGSTOP)  # its main loop stops sending heartbeats
        try:
            wait_for(
                lambda: len(server.worker_pids()) == 2,
                timeout=TIMEOUT + 15,
                what="gunicorn to replace the stopped worker",
            )
        finally:
            with suppress(ProcessLookupError):  # killed, as it should be
                os.kill(worker, signal.SIGCONT)
        assert f"WORKER TIMEOUT (pid:{worker})" in server.log_text()
        assert server.gate.waiting() == 0  # the new worker answers


def kept_alive(server: AppServer) -> http.client.HTTPConnection:
    """A connection that has served a request and stays open for the next one."""
    connection = http.client.HTTPConnection(server.address, timeout=15)
    connection.request("GET", "/_test/gate")
    connection.getresponse().read()
    return connection


def wait_until_shutting_down(connection: http.client.HTTPConnection) -> None:
    """Until the worker has begun its graceful shutdown: it then answers a kept-alive
    connection's request with "Connection: close" (the listener no longer accepts)."""

    def says_close() -> bool:
        connection.request("GET", "/_test/gate")
        response = connection.getresponse()
        response.read()
        return response.getheader("Connection") == "close"

    wait_for(says_close, timeout=10, what="the worker to begin its shutdown")


def test_shutdown_lets_a_running_stream_finish(server_database_url: str, tmp_path: Path):
    env = {"GUNICORN_GRACEFUL_TIMEOUT": "10"}
    with app_server(server_database_url, tmp_path, env) as server:
        server.gate.hold()
        with (
            closing(kept_alive(server)) as probe,
            closing(kept_alive(server)) as control,
            open_stream(server.url, "/stocks") as stream,
        ):
            server.gate.wait_until_waiting(1)
            server.process.send_signal(signal.SIGTERM)
            wait_until_shutting_down(probe)
            control.request("POST", "/_test/gate/release")  # the stream goes on, shutting down
            control.getresponse().read()
            body = stream.first + stream.response.read()

        assert ends_whole(body)
        assert server.process.wait(timeout=15) == 0


def logged_outcomes(server: AppServer, path: str) -> list[str]:
    """The outcome of each stream of ``path`` in the server's log (its one line each)."""
    lines = re.findall(r"INFO in streams: stream (\{.*\})$", server.log_text(), re.MULTILINE)
    return [line["outcome"] for line in map(json.loads, lines) if line["path"] == path]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:  # exited, and reaped by the master
        return False
    return True


GRACE = 2
"""GUNICORN_GRACEFUL_TIMEOUT for the shutdown tests, in seconds."""


def test_shutdown_cuts_a_stream_still_running_after_the_graceful_timeout(
    server_database_url: str, tmp_path: Path
):
    env = {"GUNICORN_GRACEFUL_TIMEOUT": str(GRACE)}
    with app_server(server_database_url, tmp_path, env) as server:
        server.gate.hold()
        with open_stream(server.url, "/stocks") as stream:
            server.gate.wait_until_waiting(1)
            stopping = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            # Cut without its last chunk: the client sees an incomplete body, not a short table.
            with pytest.raises(http.client.IncompleteRead):
                stream.response.read()
            assert time.monotonic() - stopping >= GRACE - 0.5  # it had its grace first
        assert server.process.wait(timeout=15) == 0
        assert logged_outcomes(server, "/stocks") == ["shutdown"]


def test_reload_cuts_a_stream_after_the_grace_and_the_old_worker_exits_then(
    server_database_url: str, tmp_path: Path
):
    """kill -HUP: the old worker leaves once its grace is over, not when the heartbeat
    (GUNICORN_TIMEOUT, 30 s here) would kill it, and its cut stream logs its line."""
    env = {"GUNICORN_GRACEFUL_TIMEOUT": str(GRACE)}
    path = "/stocks?sort=price"
    with app_server(server_database_url, tmp_path, env) as server:
        (old,) = server.worker_pids()
        server.gate.hold()
        with open_stream(server.url, path) as stream:
            server.gate.wait_until_waiting(1)
            reloading = time.monotonic()
            server.process.send_signal(signal.SIGHUP)
            with pytest.raises(http.client.IncompleteRead):
                stream.response.read()
            assert time.monotonic() - reloading >= GRACE - 0.5
        wait_for(lambda: not alive(old), timeout=GRACE + 5, what="the old worker to exit")
        assert time.monotonic() - reloading < GRACE + 5
        assert "WORKER TIMEOUT" not in server.log_text()
        assert logged_outcomes(server, path) == ["shutdown"]
        (_, new) = server.worker_pids()
        assert alive(new)
        with urllib.request.urlopen(f"{server.url}/stocks", timeout=15) as response:
            assert ends_whole(response.read())
        wait_for(lambda: logged_outcomes(server, "/stocks") == ["completed"], 10, "its line")
