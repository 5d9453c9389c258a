"""Compressed against identity transfer, when the app compresses at all.

A compressor that buffers would hold back the first rows until the end; the section checks
that the first row still arrives early, decoding incrementally as a browser does.
"""

from __future__ import annotations

from typing import Any

from .client import DECODERS, fetch
from .log import progress
from .server import Server
from .throughput import PATH, STREAM_TIMEOUT, summarize

BROWSER_ACCEPT = "gzip, deflate, br, zstd"


def measure(server: Server, rows: int) -> dict[str, Any]:
    """One identity and one compressed whole-table request on the same server."""
    progress(f"compression @ {rows:,}: Accept-Encoding: {BROWSER_ACCEPT}")
    section: dict[str, Any] = {"rows": rows, "decodable": sorted(DECODERS), "notes": []}
    accept = BROWSER_ACCEPT
    # The headers say whether the app compresses: no need to read a whole table to learn it.
    probe = fetch(
        server.host,
        server.port,
        PATH,
        headers={"Accept-Encoding": accept},
        stop_after_first_row=True,
        timeout=60,
    )
    encoding = probe.headers.get("content-encoding")
    if probe.status != 200:
        section["notes"].append(f"error: status {probe.status}, {probe.error}")
        return section
    if not encoding:
        section["enabled"] = False
        section["notes"].append("not enabled: no Content-Encoding in the response")
        return section
    if encoding not in DECODERS:
        # An encoding this client does not know: ask again with those it can decode.
        section["notes"].append(f"skipped {encoding}: no module to decode it here")
        accept = ", ".join(sorted(DECODERS))
    compressed = fetch(
        server.host, server.port, PATH, headers={"Accept-Encoding": accept}, timeout=STREAM_TIMEOUT
    )
    encoding = compressed.headers.get("content-encoding")
    section["enabled"] = bool(encoding)
    section["accept_encoding"] = accept
    identity = fetch(server.host, server.port, PATH, timeout=STREAM_TIMEOUT)
    section["identity"] = summarize(identity)
    section["compressed"] = summarize(compressed)
    section["encoding"] = encoding
    if compressed.wire_bytes and identity.wire_bytes:
        section["wire_ratio"] = round(compressed.wire_bytes / identity.wire_bytes, 3)
    # "Streams" when the first row decoded before the last bytes came, not with them.
    section["first_row_before_end"] = (
        compressed.first_row is not None and not compressed.first_row_in_last_read
    )
    return section
