"""The footer says how long the stream took: a real duration, never more than it took."""

from __future__ import annotations

import re
from time import perf_counter

import pytest

HTMX = {"HX-Request": "true"}


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_footer_shows_the_time_the_stream_took(client, headers):
    """Bounded by the time the test saw the request take (the footer rounds to 0.01 s)."""
    started = perf_counter()
    body = client.get("/stocks?sector=Energy", headers=headers).get_data(as_text=True)
    took = perf_counter() - started
    [seconds] = re.findall(r"streamed in ([\d.]+) s", body)
    assert 0 <= float(seconds) <= took + 0.005
