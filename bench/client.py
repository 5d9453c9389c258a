"""A streaming HTTP/1.1 client on a raw socket that times bytes as they arrive.

urllib, requests and http.client parse headers and buffer before handing anything over, which
hides when the first byte and the first row came. This reads the socket itself, decodes the
chunked framing (and any Content-Encoding) incrementally and keeps only counters and a short
prefix and tail, so a 1M-row body costs no client memory.
"""

from __future__ import annotations

import re
import socket
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from time import perf_counter
from typing import Any, Protocol

import brotli

from web.compression import zstd

ROW_MARK = b"<tr><td>"
END_MARK = b'id="stream-end"'
RECV_BYTES = 256 * 1024
PREFIX_AFTER_ROW = 256
"""Bytes kept after the first row's mark: enough to read its first cells."""
TAIL_BYTES = 64 * 1024
"""Bytes kept from the end of the body: the footer with its row count lives there, and
after it a page without JavaScript gets the final facet counts, whose links carry the
view's filters (4,119 bytes of them after ``price__gte=100&price__lte=200`` at 10M rows,
which a 4 KB tail took for a page without its footer)."""

_DATA_ROWS = re.compile(rb'id="stream-end"[^>]*data-rows="(\d+)"')
_FIRST_SYMBOL = re.compile(rb"<tr><td>(?:<a [^>]*>)?([^<]*)(?:</a>)?<td>")


class Decoder(Protocol):
    def decompress(self, data: bytes) -> bytes: ...


class _Brotli:
    def __init__(self) -> None:
        self._inner = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        return self._inner.process(data)


def _zstd() -> Decoder:
    return zstd.ZstdDecompressor()


class _Deflate:
    """``deflate`` is zlib-wrapped per the RFC, raw in some servers: accept both."""

    def __init__(self) -> None:
        self._inner: Any = None

    def decompress(self, data: bytes) -> bytes:
        if self._inner is None:
            self._inner = zlib.decompressobj()
            try:
                return self._inner.decompress(data)
            except zlib.error:
                self._inner = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inner.decompress(data)


def _gzip() -> Decoder:
    return zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)


DECODERS: dict[str, Callable[[], Decoder]] = {
    "gzip": _gzip,
    "deflate": _Deflate,
    "br": _Brotli,
    "zstd": _zstd,
}
"""Content-Encodings this client can decode (the app's own dependencies bring br and zstd)."""


def make_decoder(encoding: str) -> Decoder | None:
    """An incremental decoder for a Content-Encoding, or None when none is importable here."""
    factory = DECODERS.get(encoding)
    return factory() if factory else None


@dataclass
class FetchResult:
    """What one request saw; times are seconds from just before connecting."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    ttfb: float | None = None
    first_row: float | None = None
    total: float = 0.0
    wire_bytes: int = 0  # body bytes as sent, after de-chunking, before decompression
    body_bytes: int = 0  # body bytes after decompression
    rows: int = 0
    ended: bool = False  # the framing said the body was complete
    footer: bool = False  # the page's end marker arrived
    footer_rows: int | None = None
    first_symbol: str | None = None
    first_row_in_last_read: bool = False  # the first row came only with the body's last bytes
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.ended and self.footer and self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete}


class _Body:
    """Counts rows across read boundaries and keeps the body's prefix and tail."""

    def __init__(self, result: FetchResult, decoder: Decoder | None) -> None:
        self.result = result
        self.decoder = decoder
        self.edge = b""  # last len(ROW_MARK) - 1 bytes, for marks split across reads
        self.prefix = bytearray()
        self.prefix_done = False
        self.tail = b""

    def feed(self, wire: bytes, now: float) -> None:
        result = self.result
        result.wire_bytes += len(wire)
        data = self.decoder.decompress(wire) if self.decoder else wire
        if not data:
            return
        result.body_bytes += len(data)
        keep = len(ROW_MARK) - 1
        found = data.count(ROW_MARK) + (self.edge + data[:keep]).count(ROW_MARK)
        if found and not result.rows:
            result.first_row = now
        result.rows += found
        self.edge = (self.edge + data[-keep:])[-keep:]
        self.tail = (self.tail + data[-TAIL_BYTES:])[-TAIL_BYTES:]
        if not self.prefix_done:
            self.prefix += data[: 1 << 20]
            mark = self.prefix.find(ROW_MARK)
            if (mark >= 0 and len(self.prefix) >= mark + PREFIX_AFTER_ROW) or len(
                self.prefix
            ) >= 1 << 20:
                self.prefix_done = True

    def finish(self) -> None:
        result = self.result
        if match := _FIRST_SYMBOL.search(self.prefix):
            result.first_symbol = match.group(1).decode(errors="replace")
        result.footer = END_MARK in self.tail
        if match := _DATA_ROWS.search(self.tail):
            result.footer_rows = int(match.group(1))


class _Chunked:
    """Incremental decoder of HTTP/1.1 chunked framing."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.remaining = 0  # data bytes left in the current chunk
        self.state = "size"
        self.done = False

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        out: list[bytes] = []
        buffer = self.buffer
        while not self.done:
            if self.state == "size":
                end = buffer.find(b"\r\n")
                if end < 0:
                    break
                size = int(bytes(buffer[:end]).split(b";")[0], 16)
                del buffer[: end + 2]
                if size == 0:
                    self.done = True  # trailers, if any, are of no interest
                    break
                self.remaining, self.state = size, "data"
            elif self.state == "data":
                if not buffer:
                    break
                taken = bytes(buffer[: self.remaining])
                del buffer[: len(taken)]
                self.remaining -= len(taken)
                out.append(taken)
                if not self.remaining:
                    self.state = "crlf"
            else:  # the CRLF that closes a chunk's data
                if len(buffer) < 2:
                    break
                del buffer[:2]
                self.state = "size"
        return out


def _request(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _parse_head(head: bytes) -> tuple[int, dict[str, str]]:
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split()[1])
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def fetch(
    host: str,
    port: int,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    stop_after_first_row: bool = False,
    timeout: float = 600.0,
    read_timeout: float = 60.0,
) -> FetchResult:
    """GET ``path`` and read the body as it streams; never raises for network trouble.

    With ``stop_after_first_row`` the connection is dropped once the first row (and a little
    after it) arrived, as a user leaving the page would.
    """
    result = FetchResult()
    started = perf_counter()
    deadline = started + timeout
    try:
        with socket.create_connection((host, port), timeout=read_timeout) as sock:
            sock.sendall(_request(host, port, path, headers or {}))
            _read(sock, result, started, deadline, stop_after_first_row)
    except (OSError, ValueError, zlib.error) as error:
        result.error = f"{type(error).__name__}: {error}"
    result.total = perf_counter() - started
    return result


def _read(
    sock: socket.socket,
    result: FetchResult,
    started: float,
    deadline: float,
    stop_after_first_row: bool,
) -> None:
    received = bytearray()
    while b"\r\n\r\n" not in received:
        data = sock.recv(RECV_BYTES)
        now = perf_counter() - started
        if result.ttfb is None:
            result.ttfb = now
        if not data:
            raise ConnectionError("connection closed before the response headers")
        received += data
        if now > deadline - started:
            raise TimeoutError("no response headers before the deadline")
    head, _, rest = bytes(received).partition(b"\r\n\r\n")
    result.status, result.headers = _parse_head(head)
    encoding = result.headers.get("content-encoding", "identity").lower()
    decoder = None
    if encoding != "identity":
        decoder = make_decoder(encoding)
        if decoder is None:
            raise ValueError(f"cannot decode Content-Encoding {encoding!r} here")
    body = _Body(result, decoder)
    chunked = _Chunked() if "chunked" in result.headers.get("transfer-encoding", "") else None
    length = result.headers.get("content-length")
    left = int(length) if length is not None and chunked is None else None

    def take(data: bytes, now: float) -> None:
        nonlocal left
        if chunked is not None:
            for piece in chunked.feed(data):
                body.feed(piece, now)
            result.ended = chunked.done
        else:
            if left is not None:
                data = data[:left]
                left -= len(data)
                result.ended = left == 0
            body.feed(data, now)

    first_row_seen_at_read = -1
    reads = 0
    take(rest, perf_counter() - started)
    while not result.ended:
        if stop_after_first_row and body.prefix_done:
            break
        if perf_counter() > deadline:
            raise TimeoutError("the body did not end before the deadline")
        data = sock.recv(RECV_BYTES)
        if not data:
            result.ended = chunked is None and left is None  # read-until-close framing
            if not result.ended:
                result.error = "connection closed before the end of the body"
            break
        reads += 1
        had_rows = result.rows
        take(data, perf_counter() - started)
        if result.rows and not had_rows:
            first_row_seen_at_read = reads
    result.first_row_in_last_read = first_row_seen_at_read == reads and reads > 0
    body.finish()
