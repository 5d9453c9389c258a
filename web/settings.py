"""Every setting of the app, as data: a name, a default, a type and a line of help.

This list is the one place a setting is defined. The app's config, the environment
variables that override it, README's settings table (a test compares the two) and the
numbers templates and the generated stylesheet use (the search box's ``maxlength``, the rows
per group in ``contain-intrinsic-size``) all come from here.

``DATABASE_URL`` is read from the environment as is; every other setting can be overridden
with a ``STREAMTABLE_`` prefixed variable whose value is parsed as JSON, e.g.
``STREAMTABLE_MAX_ROWS=500000`` or ``STREAMTABLE_COMPRESSION='["gzip"]'``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask

ENV_PREFIX = "STREAMTABLE"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    types: tuple[type, ...]  # what a value may be; a JSON number may be an int for a float
    help: str

    @property
    def variable(self) -> str:
        """The environment variable that overrides it."""
        return self.name if self.name == "DATABASE_URL" else f"{ENV_PREFIX}_{self.name}"


SETTINGS = (
    Setting(
        "DATABASE_URL",
        None,
        (str, type(None)),
        "any SQLAlchemy URL; `postgresql+psycopg://user:pass@host/db` for PostgreSQL. "
        "Unset: the SQLite file `instance/streamtable.db`",
    ),
    Setting(
        "TABLE",
        None,
        (str, type(None)),
        "serve this table of the database, as the database has it (README: Serve your own "
        "table), at `/<table>`. Unset: the stock table, at `/stocks`",
    ),
    Setting(
        "FIRST_BATCH_ROWS",
        50,
        (int,),
        "rows in the first chunk, sent at once so the first rows paint immediately",
    ),
    Setting(
        "FETCH_ROWS",
        100,
        (int,),
        "rows fetched from the cursor per step; also how often the time bound is checked",
    ),
    # ~64 KB of HTML. Each chunk is one row group: its own fixed-layout table that the
    # browser skips laying out while off screen (measured: a plain 100k-row table took ~55 s
    # to load in Chromium, 500-row groups ~5 s).
    Setting(
        "CHUNK_ROWS",
        500,
        (int,),
        "rows per chunk (~64 KB of HTML); each chunk is one row group",
    ),
    Setting(
        "FLUSH_SECONDS",
        0.25,
        (int, float),
        "a smaller chunk goes out after this long, so slow queries still show rows as found",
    ),
    # Chromium needs ~40 s and ~3 GB for a million rows, so more is rarely useful on a page.
    Setting(
        "MAX_ROWS",
        2_000_000,
        (int,),
        "most rows one page streams; more ends with a note. Exports are not limited",
    ),
    Setting(
        "STATEMENT_TIMEOUT",
        10.0,
        (int, float, type(None)),
        "seconds the database may take for one step of a query (starting it, fetching the "
        "next rows); past it the page ends with a note, an export is cut short. Not a limit "
        "on a whole stream. `null`: none",
    ),
    # Measured at 1M SQLite rows (web/planner.py): walking the sort index finds 50 rows of
    # sector=Energy in ~4 ms, of a search for "robotics" in ~11 ms on a loaded machine; a
    # filter that keeps few rows (price__gte=999: 977) needs 440 ms, its matches sorted 7 ms.
    Setting(
        "SORT_WALK_SECONDS",
        0.01,
        (int, float),
        "time a filtered view may walk its sort column's index for its first rows (SQLite); "
        "past it the matching rows are read through the filters' indexes and sorted instead, "
        "as the rows after the first are anyway. 0: always sort the matches",
    ),
    # Measured at 1M SQLite rows (web.counting.early_total): the whole table 15 ms,
    # sector=Energy 12 ms; a search's COUNT scans (q=robotics 1.2 s), so it gets an estimate.
    Setting(
        "COUNT_SECONDS",
        0.05,
        (int, float),
        "time the page waits for its view's row count before the rows; past it the total "
        "shown is an estimate (the footer has the exact one). 0: no early total",
    ),
    Setting(
        "MAX_SEARCH_LENGTH",
        100,
        (int,),
        "most characters a search (`q`) may have; the search box holds no more",
    ),
    Setting(
        "COMPRESSION",
        ("zstd", "br", "gzip"),
        (list, tuple),
        "encodings offered for streamed responses, best first (figures: web/compression.py); "
        "`[]` turns compression off, e.g. when a proxy in front compresses",
    ),
    # Below gunicorn.conf.py's 32 threads, so a free thread answers the 503 at once; and
    # workers x MAX_STREAMS (2 x 28 = 56) within PostgreSQL's default 100 connections.
    Setting(
        "MAX_STREAMS",
        28,
        (int,),
        "streams one worker runs at once (each holds a thread and a database connection); "
        "past it a stream request gets a quick `503` with `Retry-After`. Keep it below "
        "`GUNICORN_THREADS`",
    ),
    Setting(
        "STREAMS_PER_CLIENT",
        None,
        (int, type(None)),
        "streams one client address may run at once per worker; past it, `503`. Set it "
        "(e.g. 2) when gunicorn faces clients itself; behind a proxy every request comes "
        "from the proxy, so leave it `null` there and let the proxy limit (nginx `limit_conn`)",
    ),
    # nginx's send_timeout is 60 s; a stalled stream is cut ~10 s after its socket buffers
    # filled, so a never-reading client holds its thread and connection ~10 s, not forever.
    Setting(
        "SEND_TIMEOUT",
        10.0,
        (int, float, type(None)),
        "seconds one chunk (~64 KB) may take to reach a client; past it the stream is cut "
        "(outcome `stalled`) and its connection released. `null`: none",
    ),
    Setting(
        "LOG_LEVEL",
        "INFO",
        (str,),
        "at INFO every stream logs one JSON line: path, rows, bytes, time to first rows, "
        "duration, outcome",
    ),
)


class InvalidSetting(ValueError):
    """A setting with a value of the wrong type; the message names the variable."""


def init_app(app: Flask, overrides: Mapping[str, Any] | None = None) -> None:
    """Defaults, then the environment, then ``overrides`` (a test's config); each checked."""
    app.config.from_mapping({setting.name: setting.default for setting in SETTINGS})
    app.config["DATABASE_URL"] = os.environ.get("DATABASE_URL") or None
    app.config.from_prefixed_env(ENV_PREFIX)
    if overrides:
        app.config.update(overrides)
    for setting in SETTINGS:
        value = app.config[setting.name]
        # bool is an int to Python, never a row count or a number of seconds here.
        if isinstance(value, bool) or not isinstance(value, setting.types):
            expected = " or ".join("null" if t is type(None) else t.__name__ for t in setting.types)
            raise InvalidSetting(f"{setting.variable} must be {expected}, not {value!r}")
