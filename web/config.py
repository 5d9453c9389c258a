"""Settings, each a named value with a default; override any of them from the environment.

``DATABASE_URL`` is read as is; every other setting can be overridden with a
``STREAMTABLE_`` prefixed variable whose value Flask parses as JSON, e.g.
``STREAMTABLE_CHUNK_BYTES=32768``.
"""

from __future__ import annotations

import os


class Config:
    # SQLAlchemy URL of the database; None means an SQLite file in the instance folder.
    DATABASE_URL: str | None = os.environ.get("DATABASE_URL") or None
    # Rows in the first flush: small, so the first rows paint before the next batch is read.
    FIRST_BATCH_ROWS = 50
    # Rows fetched from the cursor per step; also how often the time bound below is checked.
    FETCH_ROWS = 100
    # Rows per chunk sent to the client (~64 KB of HTML). Each chunk is one row group: its
    # own fixed-layout table that the browser skips laying out while off screen (measured:
    # a plain 100k-row table took ~55 s to load in Chromium, 500-row groups ~5 s).
    CHUNK_ROWS = 500
    # A smaller chunk goes out once this many seconds passed since the last one, so a
    # query that finds its rows slowly still shows them as they come.
    FLUSH_SECONDS = 0.25
    # Level of the app's log; at INFO every stream logs one JSON line (see web/streams.py).
    LOG_LEVEL = "INFO"
    # Seconds the database may take for one step of a query (starting it, or fetching the
    # next rows); past it the stream ends with a note. Not a limit on a whole stream: a slow
    # reader of a million rows is fine. null (STREAMTABLE_STATEMENT_TIMEOUT=null): no limit.
    STATEMENT_TIMEOUT = 10.0
    # The most rows one response streams; a view with more ends with a note saying so.
    # Chromium needs ~40 s and ~3 GB for a million rows, so more is rarely useful on a page.
    MAX_ROWS = 2_000_000
    # Encodings offered for streamed responses, best first. STREAMTABLE_COMPRESSION=[] turns
    # compression off (e.g. when a proxy in front compresses). Figures: web/compression.py.
    COMPRESSION = ("zstd", "br", "gzip")
