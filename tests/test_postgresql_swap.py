"""PostgreSQL: a load swaps its table in once the running streams let go, however many
lock timeouts that takes within SWAP_WAIT_SECONDS."""

from __future__ import annotations

import threading
import time

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from web import seeding
from web.db import get_engine, make_engine
from web.seeding import count_rows, seed

from .conftest import needs_postgresql
from .test_postgresql import WAIT_SECONDS, held_stream

pytestmark = needs_postgresql


def drop_attempts(url: str) -> set:
    """When each DROP of the stocks table now waiting for its lock started."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return set(
                conn.scalars(
                    text(
                        "SELECT query_start FROM pg_stat_activity "
                        "WHERE datname = current_database() AND wait_event_type = 'Lock' "
                        "AND query LIKE 'DROP TABLE%'"
                    )
                )
            )
    finally:
        engine.dispose()


def test_a_load_retries_the_swap_until_the_streams_let_go(app, client, database_url, monkeypatch):
    """Each attempt waits one short lock timeout (so new readers are not held up long);
    a stream outlasting one attempt must not make the load give up."""
    monkeypatch.setattr(seeding, "SWAP_LOCK_TIMEOUT", "100ms")
    response, chunks = held_stream(client)
    loader = make_engine(get_engine(app).url.render_as_string(hide_password=False))
    errors: list[BaseException] = []

    def load() -> None:
        try:
            seed(loader, 500, seed=4, reset=True)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=load)
    thread.start()
    try:
        attempts: set = set()
        deadline = time.monotonic() + WAIT_SECONDS
        while len(attempts) < 2:  # the first attempt timed out, and the load tried again
            assert not errors, errors
            assert time.monotonic() < deadline, "the load never retried the swap"
            attempts |= drop_attempts(database_url)
            time.sleep(0.02)  # polling the server's sessions: there is no event to wait on
        b"".join(chunks)
        response.close()
        thread.join(WAIT_SECONDS)
        assert not thread.is_alive() and not errors
        assert count_rows(loader) == 500
    finally:
        response.close()
        thread.join(WAIT_SECONDS)
        loader.dispose()
