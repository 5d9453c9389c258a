"""Compress streamed responses chunk by chunk, flushing every chunk so it leaves at once.

Flask-Compress (1.25 here) streams through a compressor but never flushes it, so its
output sits in the compressor's buffer and the first rows arrive late; it also wraps the
body in ``stream_with_context``, which this app avoids. This module flushes each chunk:
measured on the 100k-row page in 64 KB chunks, zstd level 3 shrinks it 3.3x at ~185 MB/s,
brotli quality 2 3.2x at ~105 MB/s, gzip level 1 2.8x at ~105 MB/s. The data is random
numbers and names in minimal markup, so even zstd level 19 on the whole page reaches only
4.5x.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable, Iterable, Iterator

import brotli
from flask import Flask, Response, current_app, request

if sys.version_info >= (3, 14):  # pragma: no cover - the standard library has zstd from 3.14
    from compression import zstd
else:
    from backports import zstd

COMPRESSIBLE = {
    "text/html",
    "text/csv",
    "application/x-ndjson",
    "application/json",
    "multipart/mixed",
}

Compressor = tuple[Callable[[bytes], bytes], Callable[[], bytes]]
"""(compress and flush one chunk, finish the stream)."""


def _zstd() -> Compressor:
    compressor = zstd.ZstdCompressor(level=3)
    return (
        lambda chunk: compressor.compress(chunk, zstd.ZstdCompressor.FLUSH_BLOCK),
        lambda: compressor.flush(zstd.ZstdCompressor.FLUSH_FRAME),
    )


def _brotli() -> Compressor:
    compressor = brotli.Compressor(quality=2)
    return (lambda chunk: compressor.process(chunk) + compressor.flush(), compressor.finish)


def _gzip() -> Compressor:
    compressor = zlib.compressobj(1, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    return (
        lambda chunk: compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH),
        compressor.flush,
    )


COMPRESSORS: dict[str, Callable[[], Compressor]] = {"zstd": _zstd, "br": _brotli, "gzip": _gzip}


def init_app(app: Flask) -> None:
    unknown = set(app.config["COMPRESSION"]) - COMPRESSORS.keys()
    if unknown:
        raise ValueError(f"COMPRESSION names unknown encodings: {', '.join(sorted(unknown))}")
    app.after_request(compress_stream)


def compress_stream(response: Response) -> Response:
    """Compress a streamed response with the best encoding the client accepts."""
    if (
        not response.is_streamed
        or response.status_code != 200
        or response.mimetype not in COMPRESSIBLE
        or "Content-Encoding" in response.headers
    ):
        return response
    response.vary.add("Accept-Encoding")
    encoding = request.accept_encodings.best_match(current_app.config["COMPRESSION"])
    if encoding is None:
        return response
    response.response = _compressed(response.response, COMPRESSORS[encoding]())
    response.headers["Content-Encoding"] = encoding
    response.headers.pop("Content-Length", None)
    return response


def _compressed(chunks: Iterable[bytes], compressor: Compressor) -> Iterator[bytes]:
    """Each chunk compressed and flushed. Closing this closes the body it wraps, so a
    client leaving still ends the query and releases its connection at once."""
    compress, finish = compressor
    try:
        for chunk in chunks:
            yield compress(chunk)
        yield finish()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
