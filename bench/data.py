"""Seeded databases, reused across runs, and the timing of the real seed CLI.

Seeding a million rows takes seconds, so a database is kept next to a small JSON stamp and
reused while the stamp still matches: the same rows, the same seed and the same schema and
generator code (a new index in ``web/models.py`` must not be benched against an old file).

SQLite databases are files in the data folder, their stamps beside them. PostgreSQL ones are
databases ``streamtable_bench_<rows>`` on the server given, their stamps the table's comment.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from time import perf_counter

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from web.db import make_engine
from web.seeding import count_rows, seed

from .machine import ROOT

SEED = 7
SEED_CLI_TIMEOUT = 600


@dataclass(frozen=True)
class Dataset:
    rows: int
    url: str  # the DATABASE_URL the servers are given
    reused: bool
    seconds: float | None  # how long seeding took, None when reused

    @property
    def shown_url(self) -> str:
        """The URL without its password, for the report."""
        return make_url(self.url).render_as_string(hide_password=True)


@dataclass(frozen=True)
class SeedTiming:
    rows: int
    seconds: float  # wall time of the whole `python seed.py ...` process
    reported_seconds: float | None  # what the CLI printed: the load without interpreter start
    output: str


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for name in ("web/models.py", "web/seeding.py"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()[:16]


def _stamp(rows: int) -> dict[str, object]:
    return {"rows": rows, "seed": SEED, "code": _fingerprint()}


def database_path(data_dir: Path, rows: int) -> Path:
    return data_dir / f"stocks-{rows}.db"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _stamp_path(path: Path) -> Path:
    return path.with_suffix(".json")


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _is_current(path: Path, rows: int) -> bool:
    stamp = _stamp_path(path)
    if not path.exists() or not stamp.exists():
        return False
    try:
        if json.loads(stamp.read_text()) != _stamp(rows):
            return False
    except (OSError, ValueError):
        return False
    engine = make_engine(sqlite_url(path))
    try:
        return count_rows(engine) == rows
    finally:
        engine.dispose()


def run_seed_cli(url: str, rows: int) -> SeedTiming:
    """Run ``seed.py`` as a user would and time the whole process."""
    command = [
        sys.executable,
        "seed.py",
        "--rows",
        str(rows),
        "--seed",
        str(SEED),
        "--database-url",
        url,
        "--reset",
    ]
    started = perf_counter()
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=SEED_CLI_TIMEOUT, check=False
    )
    seconds = perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"seed.py failed ({done.returncode}): {done.stderr or done.stdout}")
    match = re.search(r" in ([\d.]+) s", done.stdout)
    return SeedTiming(
        rows=rows,
        seconds=round(seconds, 2),
        reported_seconds=float(match.group(1)) if match else None,
        output=done.stdout.strip(),
    )


def ensure_database(
    data_dir: Path, rows: int, via_cli: bool = False, server_url: str | None = None
) -> tuple[Dataset, SeedTiming | None]:
    """The database of ``rows`` rows, seeded unless a current one is already there.

    With ``via_cli`` a needed seed runs through ``seed.py`` and its timing is returned too.
    With ``server_url`` (PostgreSQL) the database is made on that server, not in ``data_dir``.
    """
    if server_url:
        return _ensure_postgresql(server_url, rows, via_cli)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = database_path(data_dir, rows)
    if _is_current(path, rows):
        return Dataset(rows=rows, url=sqlite_url(path), reused=True, seconds=None), None
    _remove(path)
    _stamp_path(path).unlink(missing_ok=True)
    timing = None
    started = perf_counter()
    if via_cli:
        timing = run_seed_cli(sqlite_url(path), rows)
    else:
        engine = make_engine(sqlite_url(path))
        try:
            seed(engine, rows, seed=SEED)
        finally:
            engine.dispose()
    seconds = round(perf_counter() - started, 2)
    _stamp_path(path).write_text(json.dumps(_stamp(rows)))
    return Dataset(rows=rows, url=sqlite_url(path), reused=False, seconds=seconds), timing


def time_seed(data_dir: Path, rows: int, server_url: str | None = None) -> SeedTiming:
    """Time ``seed.py`` into a scratch database, for when the kept database was reused."""
    if server_url:
        scratch_url = _postgresql_database(server_url, f"streamtable_bench_seed_timing_{rows}")
        try:
            return run_seed_cli(scratch_url, rows)
        finally:
            _drop_postgresql_database(server_url, make_url(scratch_url).database)
    scratch = data_dir / f"seed-timing-{rows}.db"
    _remove(scratch)
    try:
        return run_seed_cli(sqlite_url(scratch), rows)
    finally:
        _remove(scratch)


def _admin(server_url: str):
    return create_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")


def _postgresql_database(server_url: str, name: str) -> str:
    """The URL of database ``name`` on the server, created if missing (the role needs
    CREATEDB, as the test role of scripts/with-postgres has)."""
    admin = _admin(server_url)
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _drop_postgresql_database(server_url: str, name: str) -> None:
    admin = _admin(server_url)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _ensure_postgresql(
    server_url: str, rows: int, via_cli: bool
) -> tuple[Dataset, SeedTiming | None]:
    url = _postgresql_database(server_url, f"streamtable_bench_{rows}")
    stamp = json.dumps(_stamp(rows))
    engine = make_engine(url)
    try:
        if count_rows(engine) == rows:
            with engine.connect() as conn:
                found = conn.scalar(text("SELECT obj_description('stocks'::regclass, 'pg_class')"))
            if found == stamp:
                return Dataset(rows=rows, url=url, reused=True, seconds=None), None
        timing = None
        started = perf_counter()
        if via_cli:
            timing = run_seed_cli(url, rows)
        else:
            seed(engine, rows, seed=SEED, reset=True)
        seconds = round(perf_counter() - started, 2)
        with engine.begin() as conn:  # COMMENT takes no parameters; the stamp has no quote
            conn.execute(text(f"COMMENT ON TABLE stocks IS '{stamp}'"))
    finally:
        engine.dispose()
    return Dataset(rows=rows, url=url, reused=False, seconds=seconds), timing
