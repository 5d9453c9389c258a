"""multipart/mixed framing for htmx's ``hx-multipart`` extension.

htmx core reads a whole text/html response before swapping it, which would throw away the
streaming; the extension swaps each part as soon as it is complete instead. Every part
carries a Content-Length: without one, a part only ends when the next boundary arrives and
the rows would render one chunk late. Per-part ``HX-Target`` / ``HX-Swap`` headers say where
each part goes.
"""

from __future__ import annotations

from collections.abc import Mapping

BOUNDARY = "streamtable-e4f1c2"
CONTENT_TYPE = f"multipart/mixed; boundary={BOUNDARY}"
END = f"\r\n--{BOUNDARY}--\r\n".encode()


def part(body: bytes, headers: Mapping[str, str]) -> bytes:
    """One part: boundary, headers (ASCII), the body's length, the body."""
    lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (
        f"\r\n--{BOUNDARY}\r\nContent-Type: text/html; charset=utf-8\r\n{lines}"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
