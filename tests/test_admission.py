"""Stream slots (web/admission.py): past MAX_STREAMS, or past STREAMS_PER_CLIENT for one
address, a stream request gets a quick 503 with Retry-After and the app's page saying the
server is busy; a slot comes back when its stream ends, however it ends."""

from __future__ import annotations

import socket

from web.admission import RETRY_AFTER_SECONDS
from web.db import get_engine

from .conftest import held_stream

ANOTHER_ADDRESS = {"REMOTE_ADDR": "127.0.0.2"}


def test_a_stream_past_max_streams_gets_503_with_retry_after_and_the_busy_page(app_with):
    client = app_with(MAX_STREAMS=1).test_client()
    running, _ = held_stream(client)
    turned_away = client.get("/stocks")
    assert turned_away.status_code == 503
    assert turned_away.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    page = turned_away.get_data(as_text=True)
    assert "The server is busy" in page and "as many tables as it can (1 at once)" in page
    assert client.get("/stocks.csv").status_code == 503  # exports take a slot too
    running.close()


def test_a_slot_comes_back_when_its_client_leaves(app_with):
    client = app_with(MAX_STREAMS=1).test_client()
    running, _ = held_stream(client)
    running.close()
    again, _ = held_stream(client)
    assert again.status_code == 200
    again.close()


def test_a_slot_comes_back_when_its_stream_completes(app_with):
    client = app_with(MAX_STREAMS=1).test_client()
    for _ in range(2):
        with client.get("/stocks") as whole:  # read to its end, then closed by the server
            assert whole.status_code == 200 and whole.get_data().endswith(b"</html>")


def test_an_htmx_restream_turned_away_says_so_beside_the_controls(app_with):
    client = app_with(MAX_STREAMS=1).test_client()
    running, _ = held_stream(client)
    turned_away = client.get("/stocks", headers={"HX-Request": "true"})
    assert turned_away.status_code == 503
    assert turned_away.headers["HX-Retarget"] == "#view-error"
    assert turned_away.headers["Retry-After"] == str(RETRY_AFTER_SECONDS)
    running.close()


def test_one_address_may_hold_only_its_share_while_others_still_get_in(app_with):
    client = app_with(MAX_STREAMS=10, STREAMS_PER_CLIENT=1).test_client()
    mine, _ = held_stream(client)
    assert client.get("/stocks").status_code == 503
    theirs, _ = held_stream(client, environ_base=ANOTHER_ADDRESS)
    assert theirs.status_code == 200
    mine.close()
    theirs.close()
    assert client.get("/stocks").status_code == 200


def test_pages_that_do_not_stream_need_no_slot(app_with, client):
    client = app_with(MAX_STREAMS=1).test_client()
    running, _ = held_stream(client)
    assert client.get("/health").status_code == 200
    assert client.get("/columns.css").status_code == 200
    running.close()


def test_a_client_that_left_while_its_request_waited_gets_no_stream(app_with):
    app = app_with(MAX_STREAMS=1)
    ours, theirs = socket.socketpair()
    with ours:
        theirs.close()  # gone before a thread took the request
        response = app.test_client().get("/stocks", environ_base={"gunicorn.socket": ours})
        assert response.status_code == 400
    assert get_engine(app).pool.checkedout() == 0
    with app.test_client().get("/stocks") as whole:  # and its slot was never taken
        assert whole.status_code == 200


def test_a_client_still_there_gets_its_stream(app_with):
    ours, theirs = socket.socketpair()
    with ours, theirs:
        response, _ = held_stream(app_with().test_client(), environ_base={"gunicorn.socket": ours})
        assert response.status_code == 200
        response.close()
