"""The gate client the other e2e tests lean on: a stream that ended before a test's mark
never satisfies that test's wait, so one test cannot pass on what an earlier one did."""

from __future__ import annotations

import urllib.request

import pytest

from .servers import GateClient

pytestmark = pytest.mark.e2e


def read_whole(url: str) -> None:
    with urllib.request.urlopen(url, timeout=15) as response:
        response.read()


def test_outcomes_count_only_streams_ended_after_the_mark(base_url: str, gate: GateClient):
    path = "/stocks?sort=volume"
    before = gate.mark()
    read_whole(base_url + path)
    assert gate.wait_for_outcomes({path: "completed"}, since=before) == {path: "completed"}

    after = gate.mark()  # the stream above ended before this mark: it must not count
    with pytest.raises(AssertionError, match="still waiting for stream outcomes"):
        gate.wait_for_outcomes({path: "completed"}, since=after, timeout=0.5)
    assert gate.streams(since=after) == []
