"""The one log line per stream counts what the reader got: its rows and its bytes."""

from __future__ import annotations

import json
import logging

import pytest

from .conftest import SEEDED_ROWS


def stream_lines(caplog) -> list[dict]:
    return [
        json.loads(record.getMessage().removeprefix("stream "))
        for record in caplog.records
        if record.getMessage().startswith("stream {")
    ]


@pytest.mark.parametrize("path", ["/stocks", "/stocks.csv", "/stocks.ndjson"])
def test_the_log_line_counts_every_byte_and_row_sent(app, client, caplog, path):
    """Bytes before compression, so the figure does not depend on the client's encoding."""
    with caplog.at_level(logging.INFO, logger=app.logger.name):
        body = client.get(path, headers={"Accept-Encoding": ""}).get_data()
    [line] = stream_lines(caplog)
    assert (line["rows"], line["bytes"], line["outcome"]) == (SEEDED_ROWS, len(body), "completed")
