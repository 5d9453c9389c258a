"""SQLite: fill a large seed's search index in a second process, beside the seed's own work.

Filling the FTS5 index is the seed's largest single step: 7.3 s of one core for 1M rows,
against 6.3 s to make and insert the rows and 6.9 s for the table's nine indexes
(measured 2026-12-01). It needs only each row's id and text, so a second process builds
it while the seed goes on, on the machine's other core:

- the seed appends each block's ids and text to a spool file beside the database and tells
  the builder how far the spool goes (a line on its standard input);
- the builder (``python -m web.search_build``) inserts them into an FTS5 table of its own,
  in a scratch database beside the spool, with the same options as the seed's but no
  content table (it has no copy of the table: the seed's rows are not committed yet);
- once the table's indexes are built, the seed copies the builder's index (its shadow
  tables ``_data`` and ``_idx``, ~26 MB for 1M rows) into its own FTS5 table, inside the
  load's transaction, and makes the triggers. The index's format is the same whatever its
  content option, and ``INSERT INTO …('integrity-check', 1)`` checks the copy against the
  table in tests/test_search_build.py.

A load under :data:`BESIDE_ROWS` rows fills the index in its own transaction instead
(``'rebuild'``): starting the builder costs more than such an index takes. Memory
stays flat in both processes: the spool is on disk, a block at a time in memory.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from operator import itemgetter
from pathlib import Path
from typing import BinaryIO

from . import search_index
from .spec import TableSpec

BESIDE_ROWS = 200_000
"""Rows from which the index is filled in a second process. Its start imports the app's
package (1.2-2.6 s of the other core, measured with the test suite running beside it);
the index of 200k rows takes ~1.5 s, of 1M rows 7.3 s."""

FINISH_SECONDS = 3600.0
"""Longest wait for the builder once the seed is ready for its index (10M rows: ~90 s)."""

_LENGTH = 8  # bytes of the length before each spooled block
_BUILT = "built"  # the builder's FTS5 table


class SearchBuildError(Exception):
    """The second process could not build the index; the message says why."""


class SearchBuild:
    """The search index of one SQLite load: fed each block as it is inserted, then
    :meth:`finish` inside the load's transaction, and :meth:`close` whatever happened.

    Only columns of ``spec`` the index covers are spooled: the row's id (position 0 of a
    block's tuples, as web/seeding.py inserts them) and its text columns.
    """

    def __init__(self, spec: TableSpec, database: str | None):
        self.spec = spec
        self.beside_rows = BESIDE_ROWS
        self._keys = [c.key for c in search_index.indexed_columns(spec)]
        self._row_text = itemgetter(0, *(1 + spec.keys.index(key) for key in self._keys))
        folder = Path(database).parent if database and database != ":memory:" else None
        self._folder = str(folder) if folder else None
        self._spool: BinaryIO | None = None
        self._spool_path: str | None = None
        self._index_path: str | None = None
        self._builder: subprocess.Popen | None = None
        self._rows = 0

    def add(self, block: Sequence[tuple]) -> None:
        """Spool a block just inserted; the builder starts once there are enough rows."""
        if not self._keys:
            return
        if self._spool is None:
            handle, self._spool_path = tempfile.mkstemp(prefix=".search-spool-", dir=self._folder)
            self._spool = os.fdopen(handle, "wb")
        data = pickle.dumps(list(map(self._row_text, block)), protocol=pickle.HIGHEST_PROTOCOL)
        self._spool.write(len(data).to_bytes(_LENGTH, "little"))
        self._spool.write(data)
        self._rows += len(block)
        if self._builder is None and self._rows >= self.beside_rows:
            self._start()
        if self._builder is not None:
            self._tell(str(self._spool.tell()))

    def finish(self, cursor: sqlite3.Cursor) -> None:
        """Make the index in the load's transaction (``cursor``'s): the builder's, copied,
        or filled here for a small load. Raises :class:`SearchBuildError` if the builder
        failed."""
        if not self._keys:
            return
        if self._builder is None:
            for statement in search_index.build_statements("sqlite", self.spec):
                cursor.execute(statement)
            return
        self._tell("end")
        try:
            _, said = self._builder.communicate(timeout=FINISH_SECONDS)
        except subprocess.TimeoutExpired:
            raise SearchBuildError(
                f"the search index took longer than {FINISH_SECONDS:.0f} s to build"
            ) from None
        if self._builder.returncode:
            why = said.decode(errors="replace").strip().splitlines()
            raise SearchBuildError(why[-1] if why else f"exit {self._builder.returncode}")
        for statement in search_index.sqlite_create_statements(self.spec):
            cursor.execute(statement)
        fts = search_index.fts_name(self.spec)
        built = sqlite3.connect(f"file:{self._index_path}?mode=ro", uri=True)
        try:
            for shadow, columns in (("data", "id, block"), ("idx", "segid, term, pgno")):
                cursor.execute(f"DELETE FROM {fts}_{shadow}")  # what CREATE put there
                marks = ", ".join("?" for _ in columns.split(","))
                rows = built.execute(f"SELECT {columns} FROM {_BUILT}_{shadow}")
                cursor.executemany(f"INSERT INTO {fts}_{shadow} ({columns}) VALUES ({marks})", rows)
        finally:
            built.close()
        for statement in search_index.sqlite_trigger_statements(self.spec):
            cursor.execute(statement)

    def close(self) -> None:
        """Stop the builder if it still runs and remove its files."""
        if self._builder is not None and self._builder.poll() is None:
            self._builder.kill()
            self._builder.wait()
        if self._builder is not None:
            self._builder.stdin.close()
            self._builder.stderr.close()
        if self._spool is not None:
            self._spool.close()
        for path in (self._spool_path, self._index_path):
            if path:
                Path(path).unlink(missing_ok=True)

    def _start(self) -> None:
        handle, self._index_path = tempfile.mkstemp(prefix=".search-index-", dir=self._folder)
        os.close(handle)
        create = search_index.sqlite_create_statements(self.spec, content="", name=_BUILT)[-1]
        command = [sys.executable, "-m", __name__, self._index_path, self._spool_path, create]
        self._builder = subprocess.Popen(
            [*command, *self._keys],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=Path(__file__).parent.parent,
        )

    def _tell(self, line: str) -> None:
        self._spool.flush()  # the builder reads what the line says is there
        try:
            self._builder.stdin.write(f"{line}\n".encode())
            self._builder.stdin.flush()
        except BrokenPipeError:
            pass  # it failed: finish() reports why


def build(
    index_path: str, spool_path: str, create: str, keys: Sequence[str], lines: BinaryIO
) -> None:
    """The builder: make the index by ``create`` and insert the spooled blocks (id, then
    ``keys``) as ``lines`` say they are there, until ``end``; a seed that stops without it
    (it failed) leaves the index uncommitted."""
    index = sqlite3.connect(index_path, isolation_level=None)
    index.execute("PRAGMA journal_mode = OFF")  # a scratch file: thrown away if this fails
    index.execute("PRAGMA synchronous = OFF")
    index.execute("BEGIN")
    index.execute(create)
    marks = ", ".join("?" for _ in keys)
    insert = f"INSERT INTO {_BUILT} (rowid, {', '.join(keys)}) VALUES (?, {marks})"
    with open(spool_path, "rb") as spool:
        for line in lines:
            if line.strip() == b"end":
                index.execute("COMMIT")
                index.close()
                return
            while spool.tell() < int(line):
                size = int.from_bytes(spool.read(_LENGTH), "little")
                index.executemany(insert, pickle.loads(spool.read(size)))
    raise SystemExit("the seed stopped before the index was complete")


if __name__ == "__main__":
    try:
        build(*sys.argv[1:4], sys.argv[4:], sys.stdin.buffer)
    except sqlite3.Error as error:
        raise SystemExit(f"search index: {error}") from None
